package dataset

import (
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/plexusml/plexus/core/media"
	"github.com/plexusml/plexus/core/tensor"
)

// Files writes the audio and image outputs of chosen stages as WAV and PNG files (and
// tensors as .npy), one file per item and field: DIR/ID.STAGE.FIELD.EXT. Each file is
// written under a temporary name and renamed, so rewriting it on a resumed run is
// harmless and the sink needs no offset in the ledger.
type Files struct {
	dir     string
	from    map[string]bool // stage names; empty means every stage
	pending []string
	keys    []string
}

// OpenFiles returns a files sink writing under dir the outputs of the stages in from
// (all stages when from is empty).
func OpenFiles(dir string, from []string) (*Files, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("sink %s: %w", dir, err)
	}
	m := map[string]bool{}
	for _, f := range from {
		m[f] = true
	}
	return &Files{dir: dir, from: m}, nil
}

// Name is the sink's ledger key.
func (s *Files) Name() string { return "files:" + s.dir }

// Write writes every audio, image and tensor field of the selected stages.
func (s *Files) Write(e *Entry) error {
	keys := s.keys[:0]
	for k := range e.Fields {
		stage, _, ok := strings.Cut(k, ".")
		if ok && (len(s.from) == 0 || s.from[stage]) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	s.keys = keys[:0]
	for _, k := range keys {
		var ext string
		var write func(io.Writer) error
		switch v := e.Fields[k].(type) {
		case *media.Audio:
			ext, write = ".wav", func(w io.Writer) error { return v.WriteWAV(w, 16) }
		case image.Image:
			ext, write = ".png", func(w io.Writer) error { return png.Encode(w, v) }
		case *tensor.Tensor:
			if rate, ok := audioRate(e.Fields, k, v); ok {
				// A plugin returns audio as a float32 waveform tensor (T, or C×T) beside a
				// STAGE.sample_rate field: write it as the WAV a person can play.
				ch := 1
				if v.Rank() == 2 {
					ch = v.Dim(0)
				}
				samples := v.Contiguous().Float32s()
				ext, write = ".wav", func(w io.Writer) error { return media.EncodeWAV(w, samples, rate, ch, 16) }
				break
			}
			ext, write = ".npy", func(w io.Writer) error { return tensor.WriteNpy(w, v) }
		default:
			continue
		}
		path := filepath.Join(s.dir, SafeName(e.ID)+"."+SafeName(k)+ext)
		if err := writeFileAtomic(path, write); err != nil {
			return fmt.Errorf("sink %s: item %q field %s: %w", s.dir, e.ID, k, err)
		}
		s.pending = append(s.pending, path)
	}
	return nil
}

// audioRate reports whether the tensor field key is a waveform: float32, rank 1 or 2,
// with a positive STAGE.sample_rate number beside it.
func audioRate(fields map[string]any, key string, t *tensor.Tensor) (int, bool) {
	if t.DType() != tensor.Float32 || t.Rank() < 1 || t.Rank() > 2 {
		return 0, false
	}
	stage, _, _ := strings.Cut(key, ".")
	var rate float64
	switch r := fields[stage+".sample_rate"].(type) {
	case int64:
		rate = float64(r)
	case int:
		rate = float64(r)
	case float64:
		rate = r
	default:
		return 0, false
	}
	if rate <= 0 || rate > 1e6 || rate != float64(int(rate)) {
		return 0, false
	}
	return int(rate), true
}

// Sync fsyncs the files written since the last Sync and their directories.
func (s *Files) Sync() (int64, error) {
	if err := syncFiles(s.dir, s.pending); err != nil {
		return 0, fmt.Errorf("sink %s: %w", s.dir, err)
	}
	s.pending = s.pending[:0]
	return -1, nil
}

// Close does nothing: every file is closed once written.
func (s *Files) Close() error { return nil }

var _ Sink = (*Files)(nil)
