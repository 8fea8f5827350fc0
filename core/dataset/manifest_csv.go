package dataset

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// csvSource reads a CSV (or, for .tsv, tab-separated) manifest whose first row names
// the columns: id, text, image, audio, tensor (or image_path, ...) and any others,
// which become string fields. An empty cell means the column is absent for that row.
type csvSource struct {
	manifest
	r      *csv.Reader
	g      *rowGuard
	cols   []string // header names
	kinds  []int    // canonicalColumn of each
	header int      // line of the header
}

// NewCSV reads a CSV manifest from r (tab-separated when name ends in .tsv); see
// NewJSONL for name and closing. The header row is read here, so a manifest without
// a usable header fails at once.
func NewCSV(r io.Reader, name string, opts Options) (Source, error) { return newCSV(r, name, opts) }

// rowGuard ends a CSV manifest whose current record grows past the row limit:
// encoding/csv buffers a whole record, and a record is only bounded by its quotes.
// It also counts lines, so that a record it stops can still be located.
type rowGuard struct {
	r      io.Reader
	pulled int64
	base   int64 // input offset where the current record starts
	max    int64
	lines  int     // newlines before the last offset passed to lineAt
	nl     []int64 // offsets of newlines not yet counted into lines
}

var errRowTooLong = errors.New("row is longer than the limit")

func (g *rowGuard) Read(p []byte) (int, error) {
	if g.pulled-g.base > g.max {
		return 0, errRowTooLong
	}
	n, err := g.r.Read(p)
	for i := 0; i < n; {
		j := bytes.IndexByte(p[i:n], '\n')
		if j < 0 {
			break
		}
		g.nl = append(g.nl, g.pulled+int64(i+j))
		i += j + 1
	}
	g.pulled += int64(n)
	return n, err
}

// lineAt returns the 1-based line of input offset off; offsets must not decrease
// between calls.
func (g *rowGuard) lineAt(off int64) int {
	k := 0
	for k < len(g.nl) && g.nl[k] < off {
		k++
	}
	g.lines += k
	g.nl = g.nl[:copy(g.nl, g.nl[k:])]
	return g.lines + 1
}

func newCSV(r io.Reader, name string, opts Options) (*csvSource, error) {
	s := &csvSource{manifest: newManifest(r, name, opts)}
	// The guard allows the row limit plus what csv's 4 KiB bufio may read ahead.
	s.g = &rowGuard{r: r, max: int64(s.opts.maxRow()) + 64<<10}
	s.r = csv.NewReader(s.g)
	if strings.EqualFold(filepath.Ext(name), ".tsv") {
		s.r.Comma = '\t'
	}
	s.r.FieldsPerRecord = -1 // a short row is a per-item error, not the end
	s.r.ReuseRecord = true
	hdr, err := s.r.Read()
	if err != nil {
		if err == io.EOF {
			return nil, fmt.Errorf("%s: empty manifest: want a header row naming the columns (id, text, image, audio, tensor, ...)", name)
		}
		return nil, fmt.Errorf("%s: header: %w", name, err)
	}
	s.header, _ = s.r.FieldPos(0)
	seen := make(map[string]bool, len(hdr))
	payload := false
	for i, h := range hdr {
		if i == 0 {
			h = string(trimBOM([]byte(h)))
		}
		h = strings.TrimSpace(h)
		if !utf8.ValidString(h) {
			return nil, fmt.Errorf("%s:%d: header column %d is not valid UTF-8", name, s.header, i+1)
		}
		k := canonicalColumn(strings.ToLower(h))
		if k >= 0 {
			h = strings.ToLower(h)
		}
		if h == "" {
			return nil, fmt.Errorf("%s:%d: header column %d has no name", name, s.header, i+1)
		}
		if seen[h] {
			return nil, fmt.Errorf("%s:%d: header names column %q twice", name, s.header, h)
		}
		seen[h] = true
		payload = payload || k >= 1
		s.cols = append(s.cols, h)
		s.kinds = append(s.kinds, k)
	}
	if !payload {
		return nil, fmt.Errorf("%s:%d: header has none of the columns text, image, audio, tensor (got %s)", name, s.header, strings.Join(s.cols, ", "))
	}
	return s, nil
}

func (s *csvSource) Next(ctx context.Context) (*Item, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		before := s.r.InputOffset()
		s.g.base = before
		s.g.lineAt(before) // keeps the newline log short
		rec, err := s.r.Read()
		if err == io.EOF {
			s.done = true
			return nil, io.EOF
		}
		r := &row{}
		var pe *csv.ParseError
		switch {
		case errors.As(err, &pe):
			if s.r.InputOffset() == before {
				return nil, fmt.Errorf("%s:%d: %w", s.name, pe.StartLine, err)
			}
			r.line = pe.StartLine
			r.problem = fmt.Errorf("invalid CSV at column %d: %w", pe.Column, pe.Err)
		case errors.Is(err, errRowTooLong):
			return nil, fmt.Errorf("%s:%d: the row starting here is longer than the limit of %d bytes; fix its quoting or raise the row limit", s.name, s.g.lineAt(before), s.opts.maxRow())
		case err != nil:
			return nil, fmt.Errorf("%s: %w", s.name, err)
		default:
			r.line, _ = s.r.FieldPos(0)
			s.fill(rec, r)
		}
		if it := s.build(r); it != nil {
			return it, nil
		}
	}
}

func (s *csvSource) fill(rec []string, r *row) {
	if len(rec) != len(s.cols) {
		// A blank line is skipped by encoding/csv itself; this is a real short or long row.
		r.problem = fmt.Errorf("row has %d fields but the header (line %d) has %d", len(rec), s.header, len(s.cols))
		return
	}
	for i, v := range rec {
		if !utf8.ValidString(v) {
			r.problem = fmt.Errorf("column %q: invalid UTF-8 at byte %d", s.cols[i], invalidAt([]byte(v)))
			return
		}
		switch k := s.kinds[i]; {
		case v == "" && k >= 0:
		case k == 0:
			r.id = v
		case k == 1:
			t := v
			r.text = &t
		case k >= 2:
			if r.paths[k-2] != "" {
				r.problem = fmt.Errorf("column %q repeats a path already given in another column", s.cols[i])
				return
			}
			r.paths[k-2] = v
		default:
			if r.fields == nil {
				r.fields = make(map[string]any, len(rec))
			}
			r.fields[s.cols[i]] = v
		}
	}
}

var _ Source = (*csvSource)(nil)
