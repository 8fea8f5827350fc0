package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"

	"github.com/plexusml/plexus/core/dataset"
	"github.com/plexusml/plexus/core/media"
)

// Record is one item on its way through a pipeline. Its own fields (manifest columns)
// have bare names; each stage adds outputs namespaced "stage.field" and never changes
// another's. A record is owned by one goroutine at a time: the one that received it
// from a channel.
type Record struct {
	ID       string
	Modality string // text|image|audio|tensor|mixed
	Source   string // the file the payload came from, "" when inline
	// Item is the payload reference from a dataset source: its parts are read and
	// decoded on demand (Item.Text, Image, Audio) and released after the commit.
	Item *dataset.Item
	// Payload is raw bytes for records made in code without a dataset item.
	Payload []byte
	Fields  map[string]any

	seq  uint64 // position in input order
	fail *failure
	// handbacks counts the times the record's batch failed whole at its current
	// stage and was handed back to the scheduler; the scheduler's own attempt count
	// also grows when a parked worker's batch is taken back, which is no failure.
	handbacks int
}

// Field returns a field by name.
func (r *Record) Field(name string) (any, bool) {
	v, ok := r.Fields[name]
	return v, ok
}

// failure is why an item left the pipeline early.
type failure struct {
	stage    string
	err      error
	attempts int
	policy   policy
}

// recordEnv adapts a Record to pipeline.Env. Each routing goroutine keeps one and
// points it at the record in hand, so matching a when: expression allocates nothing.
type recordEnv struct{ r *Record }

func (e *recordEnv) Modality() string { return e.r.Modality }

// Field returns a field, or for a payload the item has ("image" of a manifest row
// with an image column) its file name, so has(image) holds for mixed items too.
func (e *recordEnv) Field(name string) (any, bool) {
	if v, ok := e.r.Field(name); ok {
		return v, true
	}
	if it := e.r.Item; it != nil {
		if p := it.Part(name); p != nil {
			if p.Name != "" {
				return p.Name, true
			}
			return p.Path, true
		}
	}
	return nil, false
}

// Item is what a stage sees of one record: the record (read-only) and the value its
// input: list resolved to. Stages read it through Bytes, Text, Image and Audio, which
// accept a decoded field or decode the item's payload as needed.
type Item struct {
	Record *Record
	// Input is the first present field named by the stage's input: list; nil when the
	// input is one of the item's payloads (see Part), which the accessors read.
	Input any
	// InputName is the field or payload Input came from.
	InputName string
	// Part is the modality of the payload the input refers to ("" when Input is a
	// field): the record's own modality when the stage has no input:, or "text",
	// "image", "audio" when input: names one the item has.
	Part string
}

// Bytes returns the input as bytes: a []byte or string field as it is, or the raw payload.
func (it *Item) Bytes() ([]byte, error) {
	switch v := it.Input.(type) {
	case []byte:
		return v, nil
	case string:
		return []byte(v), nil
	case nil:
		return it.payload()
	}
	return nil, Permanent(fmt.Errorf("input %s is %T, not bytes or text", it.InputName, it.Input))
}

func (it *Item) payload() ([]byte, error) {
	rec := it.Record
	switch {
	case it.Part == "":
		return nil, Permanent(fmt.Errorf("input %s is missing", it.InputName))
	case rec.Item != nil:
		b, err := rec.Item.Bytes(it.Part)
		return b, Permanent(err)
	case rec.Payload != nil:
		return rec.Payload, nil
	}
	return nil, Permanent(errors.New("item has no payload"))
}

// Text returns the input as text, checked to be valid UTF-8.
func (it *Item) Text() (string, error) {
	switch v := it.Input.(type) {
	case string:
		if err := media.ValidateText([]byte(v)); err != nil {
			return "", Permanent(fmt.Errorf("input %s: %w", it.InputName, err))
		}
		return v, nil
	case nil:
		if it.Record.Item != nil && it.Part != "" {
			s, err := it.Record.Item.Text()
			return s, Permanent(err)
		}
	}
	b, err := it.Bytes()
	if err != nil {
		return "", err
	}
	if err := media.ValidateText(b); err != nil {
		return "", Permanent(fmt.Errorf("input %s: %w", it.name(), err))
	}
	return string(b), nil
}

// Image returns the input as a decoded image.
func (it *Item) Image(lim media.Limits) (image.Image, error) {
	switch v := it.Input.(type) {
	case image.Image:
		return v, nil
	case nil:
		if it.Record.Item != nil && it.Part != "" {
			img, _, err := it.Record.Item.Image()
			return img, Permanent(err)
		}
	}
	b, err := it.Bytes()
	if err != nil {
		return nil, err
	}
	img, _, err := media.DecodeImageBytes(b, lim)
	if err != nil {
		return nil, Permanent(fmt.Errorf("%s: %w", it.name(), err))
	}
	return img, nil
}

// Audio returns the input as decoded audio.
func (it *Item) Audio(lim media.Limits) (*media.Audio, error) {
	switch v := it.Input.(type) {
	case *media.Audio:
		return v, nil
	case nil:
		if it.Record.Item != nil && it.Part != "" {
			a, err := it.Record.Item.Audio()
			return a, Permanent(err)
		}
	}
	b, err := it.Bytes()
	if err != nil {
		return nil, err
	}
	a, err := media.DecodeWAV(bytes.NewReader(b), lim)
	if err != nil {
		return nil, Permanent(fmt.Errorf("%s: %w", it.name(), err))
	}
	return a, nil
}

func (it *Item) name() string {
	if it.InputName != "" {
		return it.InputName
	}
	if it.Record.Source != "" {
		return it.Record.Source
	}
	return it.Record.ID
}

// Result is one item's outcome from a stage: the fields to add (names without the
// stage prefix, which the engine adds) or an error for this item alone.
type Result struct {
	fields []Field
	Err    error
}

// Field is a named stage output.
type Field struct {
	Name  string
	Value any
}

// Set adds an output field; the engine stores it as "stage.name".
func (r *Result) Set(name string, v any) { r.fields = append(r.fields, Field{name, v}) }

// Fields returns what Set added.
func (r *Result) Fields() []Field { return r.fields }

func (r *Result) reset() {
	clear(r.fields)
	r.fields = r.fields[:0]
	r.Err = nil
}

// Source yields records. Next returns (rec, nil) for a good item; (rec, err) with a
// non-nil rec (at least its ID set) for an item that cannot be read, which the error
// policy handles like any stage failure; (nil, io.EOF) at the end; and (nil, err) for
// an error that ends the run.
type Source interface {
	Next(ctx context.Context) (*Record, error)
}
