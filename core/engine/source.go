package engine

import (
	"context"
	"sync/atomic"

	"github.com/plexusml/plexus/core/dataset"
)

// DatasetSource adapts a dataset source (a directory walk or a manifest) to the
// engine: each dataset item becomes a Record that refers to it, so payloads are read
// only by the stages that need them. Items an earlier run committed are skipped before
// any of their bytes are read.
type DatasetSource struct {
	src  dataset.Source
	skip atomic.Pointer[func(string) bool]
}

// OpenDataset opens path as dataset.Open does. The engine installs the ledger's Done
// as the skip function when the run starts (o.Skip is replaced).
func OpenDataset(path string, o dataset.Options) (*DatasetSource, error) {
	d := &DatasetSource{}
	o.Skip = func(id string) bool {
		f := d.skip.Load()
		return f != nil && (*f)(id)
	}
	src, err := dataset.Open(path, o)
	if err != nil {
		return nil, err
	}
	d.src = src
	return d, nil
}

// Next returns the next record; an item the source could not list comes back with
// its error, for the error policy.
func (d *DatasetSource) Next(ctx context.Context) (*Record, error) {
	it, err := d.src.Next(ctx)
	if err != nil {
		return nil, err
	}
	rec := &Record{ID: it.ID, Modality: it.Modality, Item: it, Fields: it.Fields}
	if len(it.Parts) > 0 && it.Parts[0].Path != "" {
		rec.Source = it.Parts[0].Path
	}
	if rec.Fields == nil {
		rec.Fields = make(map[string]any, 4)
	}
	return rec, it.Err
}

// Len is the number of items once the source knows it.
func (d *DatasetSource) Len() (int, bool) { return d.src.Len() }

// Close closes the underlying source.
func (d *DatasetSource) Close() error { return d.src.Close() }

func (d *DatasetSource) setSkip(f func(string) bool) { d.skip.Store(&f) }

// skipper is implemented by sources that can skip committed items before reading them.
type skipper interface{ setSkip(func(string) bool) }

var _ Source = (*DatasetSource)(nil)
