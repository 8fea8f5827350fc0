package dataset

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/plexusml/plexus/core/media"
)

// manifest holds what the JSONL and CSV readers share: id assignment, duplicate
// detection, path resolution and the checks made when a row is listed.
type manifest struct {
	name   string // the manifest's path as given, for messages
	base   string // where relative payload paths resolve
	opts   Options
	index  int
	seen   map[string]int // id → line of its first row
	done   bool
	closer io.Closer
}

func newManifest(r io.Reader, name string, opts Options) manifest {
	m := manifest{name: name, base: opts.BaseDir, opts: opts, seen: make(map[string]int)}
	if m.base == "" {
		m.base = filepath.Dir(name)
	}
	if c, ok := r.(io.Closer); ok {
		m.closer = c
	}
	return m
}

// row is what one manifest row says, before any check against the file system.
type row struct {
	line    int
	id      string // "" when the row has none
	text    *string
	paths   [3]string // image, audio, tensor; "" when absent
	fields  map[string]any
	problem error // the row itself is bad (syntax, types); the item carries it
}

var pathModalities = [3]string{Image, Audio, Tensor}

// build turns a row into an Item, or returns nil when opts.Skip passes it over.
func (m *manifest) build(r *row) *Item {
	id := r.id
	if id == "" {
		id = strconv.Itoa(r.line)
	}
	it := &Item{ID: id, Index: m.index, Source: m.name, Line: r.line, Fields: r.fields, opts: &m.opts}
	m.index++
	if m.opts.Skip != nil && m.opts.Skip(id) {
		return nil
	}
	if first, dup := m.seen[id]; dup {
		it.Err = it.errorf(nil, fmt.Errorf("duplicate id %q (first used on line %d); ids must be unique for results and resuming to be right", id, first))
		return it
	}
	m.seen[id] = r.line
	if r.problem != nil {
		it.Err = it.errorf(nil, r.problem)
		return it
	}
	n := 0
	if r.text != nil {
		n++
	}
	for _, p := range r.paths {
		if p != "" {
			n++
		}
	}
	if n == 0 {
		it.Err = it.errorf(nil, errors.New("row has none of text, image, audio, tensor"))
		return it
	}
	it.Parts = make([]Part, 0, n)
	if r.text != nil {
		b := []byte(*r.text)
		it.Parts = append(it.Parts, Part{Modality: Text, Size: int64(len(b)), data: b, full: true})
		if max := m.opts.maxText(); int64(len(b)) > max {
			it.Err = it.errorf(nil, &media.LimitError{What: "bytes", Got: int64(len(b)), Max: max, Detail: "text", Setting: "the text size limit"})
		}
	}
	for k, p := range r.paths {
		if p == "" {
			continue
		}
		full := p
		if !filepath.IsAbs(full) {
			full = filepath.Join(m.base, filepath.FromSlash(p))
		}
		it.Parts = append(it.Parts, Part{Modality: pathModalities[k], Path: full, Name: p})
		part := &it.Parts[len(it.Parts)-1]
		if it.Err != nil {
			continue
		}
		st, err := os.Stat(full)
		switch {
		case errors.Is(err, os.ErrNotExist):
			it.Err = it.errorf(part, fmt.Errorf("file %s does not exist", full))
		case err != nil:
			it.Err = it.errorf(part, err)
		case st.IsDir():
			it.Err = it.errorf(part, fmt.Errorf("%s is a directory", full))
		case st.Size() == 0:
			it.Err = it.errorf(part, errors.New("empty file"))
		default:
			part.Size = st.Size()
			if err := m.opts.Limits.CheckBytes(part.Size); err != nil {
				it.Err = it.errorf(part, withDetail(err, "file"))
			}
		}
	}
	if len(it.Parts) == 1 {
		it.Modality = it.Parts[0].Modality
	} else {
		it.Modality = Mixed
	}
	return it
}

func (m *manifest) Len() (int, bool) { return m.index, m.done }

func (m *manifest) Close() error {
	if m.closer != nil {
		c := m.closer
		m.closer = nil
		return c.Close()
	}
	return nil
}

// canonicalColumn maps a manifest key to the payload it names: 0 id, 1 text,
// 2.. the path slots; -1 for an extra field.
func canonicalColumn(key string) int {
	switch key {
	case "id":
		return 0
	case "text":
		return 1
	case "image", "image_path":
		return 2
	case "audio", "audio_path":
		return 3
	case "tensor", "tensor_path":
		return 4
	}
	return -1
}
