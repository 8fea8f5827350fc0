package dataset

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// jsonlSource reads a JSON Lines manifest: one object per line, with "id", "text",
// "image", "audio", "tensor" (paths relative to the manifest) and any other fields.
// Blank lines are ignored.
type jsonlSource struct {
	manifest
	r    *bufio.Reader
	line int
	buf  []byte
}

// NewJSONL reads a JSON Lines manifest from r; name is used in messages and, unless
// opts.BaseDir is set, its directory resolves relative paths. r is closed by Close
// when it is an io.Closer.
func NewJSONL(r io.Reader, name string, opts Options) Source { return newJSONL(r, name, opts) }

func newJSONL(r io.Reader, name string, opts Options) *jsonlSource {
	return &jsonlSource{manifest: newManifest(r, name, opts), r: bufio.NewReaderSize(r, 64<<10)}
}

func (s *jsonlSource) Next(ctx context.Context) (*Item, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		line, tooLong, err := s.readLine()
		if err == io.EOF {
			s.done = true
			return nil, io.EOF
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", s.name, s.line, err)
		}
		r := &row{line: s.line}
		switch {
		case tooLong:
			r.problem = fmt.Errorf("row is longer than the limit of %d bytes", s.opts.maxRow())
		default:
			if s.line == 1 {
				line = trimBOM(line)
			}
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			parseJSONRow(line, r)
		}
		if it := s.build(r); it != nil {
			return it, nil
		}
	}
}

// readLine returns the next line without its line ending. A line over the row limit
// is consumed and reported as too long without being buffered.
func (s *jsonlSource) readLine() (line []byte, tooLong bool, err error) {
	max := s.opts.maxRow()
	s.buf = s.buf[:0]
	n := 0
	for {
		frag, err := s.r.ReadSlice('\n')
		n += len(frag)
		if n > max+2 { // +2: the line ending is not part of the row
			tooLong = true
		}
		if err == bufio.ErrBufferFull {
			if !tooLong {
				s.buf = append(s.buf, frag...)
			}
			continue
		}
		if err != nil && err != io.EOF {
			return nil, false, err
		}
		if err == io.EOF && n == 0 {
			return nil, false, io.EOF
		}
		s.line++
		if tooLong {
			return nil, true, nil
		}
		if len(s.buf) == 0 {
			line = frag // the common case: no copy
		} else {
			s.buf = append(s.buf, frag...)
			line = s.buf
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		return line, false, nil
	}
}

// parseJSONRow fills r from one JSON object, recording what is wrong in r.problem.
func parseJSONRow(line []byte, r *row) {
	if !utf8.Valid(line) {
		r.problem = fmt.Errorf("invalid UTF-8 at byte %d of the row", invalidAt(line))
		return
	}
	d := json.NewDecoder(bytes.NewReader(line))
	d.UseNumber()
	var obj map[string]any
	if err := d.Decode(&obj); err != nil {
		r.problem = jsonProblem(err)
		return
	}
	if obj == nil {
		r.problem = errors.New("row is not a JSON object")
		return
	}
	if _, err := d.Token(); err != io.EOF {
		r.problem = errors.New("invalid JSON: more than one value on the line")
		return
	}
	for k, v := range obj {
		col := canonicalColumn(k)
		switch {
		case col == 0:
			switch id := v.(type) {
			case string:
				if id == "" {
					r.problem = errors.New(`"id" is empty`)
					return
				}
				r.id = id
			case json.Number:
				r.id = id.String()
			default:
				r.problem = fmt.Errorf(`"id" must be a string or a number, not %s`, jsonType(v))
				return
			}
		case col == 1:
			switch t := v.(type) {
			case nil:
			case string:
				r.text = &t
			default:
				r.problem = fmt.Errorf(`"text" must be a string, not %s`, jsonType(v))
				return
			}
		case col >= 2:
			switch p := v.(type) {
			case nil:
			case string:
				if r.paths[col-2] != "" {
					r.problem = fmt.Errorf("%q repeats a path already given under another name", k)
					return
				}
				r.paths[col-2] = p
			default:
				r.problem = fmt.Errorf("%q must be a path string, not %s", k, jsonType(v))
				return
			}
		default:
			if r.fields == nil {
				r.fields = make(map[string]any, len(obj))
			}
			r.fields[k] = plainJSON(v)
		}
	}
}

func jsonProblem(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid JSON at column %d: %s", se.Offset, se.Error())
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("row is a JSON %s, not an object", te.Value)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errors.New("invalid JSON: the row ends too early")
	}
	return fmt.Errorf("invalid JSON: %w", err)
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	}
	return "an object"
}

// plainJSON turns json.Number into int64 when the number is an integer that fits,
// float64 otherwise, so that fields carry ordinary Go values without losing ids
// and counts above 2^53.
func plainJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(x.String(), 10, 64); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = plainJSON(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = plainJSON(x[k])
		}
	}
	return v
}

func invalidAt(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

var _ Source = (*jsonlSource)(nil)
