package dataset

import (
	"bufio"
	"encoding/json"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/plexusml/plexus/core/media"
	"github.com/plexusml/plexus/core/tensor"
)

// Entry is one finished item as sinks see it. Fields hold the item's own fields (bare
// names) and every stage's outputs (namespaced "stage.field").
type Entry struct {
	ID       string
	Modality string
	Source   string // the file the item came from, "" when inline
	Fields   map[string]any
	// Provenance is raw JSON shared by every entry of a run (plexus version, plugins,
	// weights' digests), written as it is.
	Provenance json.RawMessage
}

// Failure is an item that a stage (or the reader) gave up on, for the dead-letter file.
type Failure struct {
	Entry
	Stage    string // the stage that failed, "source" for the reader
	Err      string
	Attempts int
}

// Sink writes finished items. Writes may be buffered; Sync makes everything written so
// far durable and returns the byte offset that covers it, which the ledger records so
// a resumed run can cut off what was written after the last commit. Sinks whose writes
// are idempotent (one file per item) return -1.
type Sink interface {
	Name() string
	Write(e *Entry) error
	Sync() (offset int64, err error)
	Close() error
}

// TensorMode says how a JSONL sink writes tensor fields.
type TensorMode string

// The tensor modes: a summary object, a side .npy file, or the values inline.
const (
	TensorSummary TensorMode = "summary"
	TensorFiles   TensorMode = "files"
	TensorInline  TensorMode = "inline"
)

// JSONLOptions configure a JSONL sink.
type JSONLOptions struct {
	Tensors TensorMode
	// Offset is where the last committed write ended; the file is cut back to it, so
	// lines written after the last ledger commit (possibly half a line) disappear.
	Offset int64
	// Name is the sink's key in the ledger; default "jsonl:" + path.
	Name string
	// From, when set, keeps only these stages' outputs (and the item's own fields), and
	// writes no line for an item none of them produced anything for (a when: skip).
	From []string
}

// JSONL writes one JSON object per line: results, or failures for a dead-letter file.
type JSONL struct {
	name      string
	path      string
	f         *os.File
	w         *bufio.Writer
	off       int64 // bytes handed to w, i.e. the offset after the last line
	tensors   TensorMode
	tensorDir string
	pending   []string // side files written since the last Sync
	from      map[string]bool
	buf       []byte
	keys      []string
}

// OpenJSONL opens path for appending after cutting it back to o.Offset. A file shorter
// than o.Offset was changed behind the ledger's back, which is refused.
func OpenJSONL(path string, o JSONLOptions) (*JSONL, error) {
	if o.Tensors == "" {
		o.Tensors = TensorSummary
	}
	if o.Name == "" {
		o.Name = "jsonl:" + path
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("sink %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("sink %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("sink %s: %w", path, err)
	}
	if st.Size() < o.Offset {
		f.Close()
		return nil, fmt.Errorf("sink %s is %d bytes but the ledger committed %d: the output was changed outside plexus; rerun with --restart", path, st.Size(), o.Offset)
	}
	if err := f.Truncate(o.Offset); err != nil {
		f.Close()
		return nil, fmt.Errorf("sink %s: cut back to the last commit: %w", path, err)
	}
	if _, err := f.Seek(o.Offset, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("sink %s: %w", path, err)
	}
	// A newly created file's directory entry must survive a power cut as surely as
	// the lines the ledger will say are in it.
	if err := syncDir(filepath.Dir(path)); err != nil {
		f.Close()
		return nil, fmt.Errorf("sink %s: %w", path, err)
	}
	var from map[string]bool
	for _, st := range o.From {
		if from == nil {
			from = map[string]bool{}
		}
		from[st] = true
	}
	return &JSONL{
		name: o.Name, path: path, f: f, w: bufio.NewWriterSize(f, 256<<10), off: o.Offset,
		tensors: o.Tensors, tensorDir: strings.TrimSuffix(path, filepath.Ext(path)) + ".tensors", from: from,
	}, nil
}

// Name is the sink's ledger key.
func (s *JSONL) Name() string { return s.name }

// Path is the file written.
func (s *JSONL) Path() string { return s.path }

// Write appends one result line: id, modality, source, fields, provenance.
func (s *JSONL) Write(e *Entry) error {
	if len(s.from) > 0 {
		kept := make(map[string]any, len(e.Fields))
		produced := false
		for k, v := range e.Fields {
			stage, _, namespaced := strings.Cut(k, ".")
			switch {
			case !namespaced:
				kept[k] = v
			case s.from[stage]:
				kept[k], produced = v, true
			}
		}
		if !produced {
			return nil
		}
		f := *e
		f.Fields = kept
		e = &f
	}
	b, err := s.appendEntry(s.buf[:0], e)
	if err != nil {
		return fmt.Errorf("sink %s: item %q: %w", s.path, e.ID, err)
	}
	if len(e.Provenance) > 0 {
		b = append(b, `,"provenance":`...)
		b = append(b, e.Provenance...)
	}
	b = append(b, "}\n"...)
	return s.put(b)
}

// WriteFailure appends one dead-letter line: the item, the stage and the error.
func (s *JSONL) WriteFailure(f *Failure) error {
	b, err := s.appendEntry(s.buf[:0], &f.Entry)
	if err != nil {
		return fmt.Errorf("sink %s: item %q: %w", s.path, f.ID, err)
	}
	b = append(b, `,"stage":`...)
	b = appendString(b, f.Stage)
	b = append(b, `,"error":`...)
	b = appendString(b, f.Err)
	b = append(b, `,"attempts":`...)
	b = strconv.AppendInt(b, int64(f.Attempts), 10)
	b = append(b, "}\n"...)
	return s.put(b)
}

func (s *JSONL) put(b []byte) error {
	s.buf = b
	if _, err := s.w.Write(b); err != nil {
		return fmt.Errorf("sink %s: %w", s.path, err)
	}
	s.off += int64(len(b))
	return nil
}

// appendEntry writes the object up to (not including) its closing brace.
func (s *JSONL) appendEntry(b []byte, e *Entry) ([]byte, error) {
	b = append(b, `{"id":`...)
	b = appendString(b, e.ID)
	b = append(b, `,"modality":`...)
	b = appendString(b, e.Modality)
	if e.Source != "" {
		b = append(b, `,"source":`...)
		b = appendString(b, e.Source)
	}
	b = append(b, `,"fields":`...)
	return s.appendMap(b, e.ID, e.Fields)
}

func (s *JSONL) appendMap(b []byte, id string, m map[string]any) ([]byte, error) {
	// Sorted keys make the output of a resumed run byte-identical to an uninterrupted one.
	keys := s.keys[:0]
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s.keys = keys[:0]
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		var err error
		if b, err = s.appendValue(b, id, k, m[k]); err != nil {
			return b, fmt.Errorf("field %s: %w", k, err)
		}
	}
	return append(b, '}'), nil
}

func (s *JSONL) appendValue(b []byte, id, field string, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendString(b, x), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case int32:
		return strconv.AppendInt(b, int64(x), 10), nil
	case uint8:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint32:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(b, x, 10), nil
	case float32:
		return appendFloat(b, float64(x), 32), nil
	case float64:
		return appendFloat(b, x, 64), nil
	case []string:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, e)
		}
		return append(b, ']'), nil
	case []float32:
		return appendFloats32(b, x), nil
	case []float64:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendFloat(b, e, 64)
		}
		return append(b, ']'), nil
	case []int64:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, e, 10)
		}
		return append(b, ']'), nil
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = s.appendValue(b, id, field, e); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	case map[string]any:
		return s.appendMap(b, id, x)
	case []byte:
		b = append(b, `{"bytes":`...)
		b = strconv.AppendInt(b, int64(len(x)), 10)
		return append(b, '}'), nil
	case *tensor.Tensor:
		return s.appendTensor(b, id, field, x)
	case *media.Audio:
		b = append(b, `{"audio":{"rate":`...)
		b = strconv.AppendInt(b, int64(x.Rate), 10)
		b = append(b, `,"channels":`...)
		b = strconv.AppendInt(b, int64(x.Channels), 10)
		b = append(b, `,"frames":`...)
		b = strconv.AppendInt(b, int64(x.Frames()), 10)
		return append(b, "}}"...), nil
	case image.Image:
		r := x.Bounds()
		b = append(b, `{"image":{"width":`...)
		b = strconv.AppendInt(b, int64(r.Dx()), 10)
		b = append(b, `,"height":`...)
		b = strconv.AppendInt(b, int64(r.Dy()), 10)
		return append(b, "}}"...), nil
	}
	j, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, j...), nil
}

func (s *JSONL) appendTensor(b []byte, id, field string, t *tensor.Tensor) ([]byte, error) {
	head := func(b []byte) []byte {
		b = append(b, `{"dtype":`...)
		b = appendString(b, t.DType().String())
		b = append(b, `,"shape":[`...)
		for i, d := range t.Shape() {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(d), 10)
		}
		return append(b, ']')
	}
	switch s.tensors {
	case TensorInline:
		b = head(b)
		b = append(b, `,"data":`...)
		b = appendFloats32(b, t.ToFloat32().Contiguous().Float32s())
		return append(b, '}'), nil
	case TensorFiles:
		rel := SafeName(id) + "." + SafeName(field) + ".npy"
		full := filepath.Join(s.tensorDir, rel)
		if err := writeFileAtomic(full, func(w io.Writer) error { return tensor.WriteNpy(w, t) }); err != nil {
			return b, err
		}
		s.pending = append(s.pending, full)
		b = head(b)
		b = append(b, `,"file":`...)
		b = appendString(b, filepath.ToSlash(filepath.Join(filepath.Base(s.tensorDir), rel)))
		return append(b, '}'), nil
	default:
		v := t.ToFloat32().Contiguous().Float32s()
		lo, hi, sum := math.Inf(1), math.Inf(-1), 0.0
		for _, x := range v {
			f := float64(x)
			lo, hi, sum = math.Min(lo, f), math.Max(hi, f), sum+f
		}
		b = head(b)
		if len(v) > 0 {
			b = append(b, `,"min":`...)
			b = appendFloat(b, lo, 32)
			b = append(b, `,"max":`...)
			b = appendFloat(b, hi, 32)
			b = append(b, `,"mean":`...)
			b = appendFloat(b, sum/float64(len(v)), 32)
		}
		return append(b, '}'), nil
	}
}

// Sync flushes the buffer and fsyncs the file (and any tensor side files), returning
// the offset after the last line written.
func (s *JSONL) Sync() (int64, error) {
	if err := s.w.Flush(); err != nil {
		return 0, fmt.Errorf("sink %s: %w", s.path, err)
	}
	if err := syncFiles(s.tensorDir, s.pending); err != nil {
		return 0, fmt.Errorf("sink %s: %w", s.path, err)
	}
	if len(s.pending) > 0 {
		s.pending = s.pending[:0]
	}
	if err := s.f.Sync(); err != nil {
		return 0, fmt.Errorf("sink %s: fsync: %w", s.path, err)
	}
	return s.off, nil
}

// Close flushes and closes without fsyncing; callers Sync first when it matters.
func (s *JSONL) Close() error {
	if s.f == nil {
		return nil
	}
	err := s.w.Flush()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	return err
}

// appendString writes s as a JSON string; invalid UTF-8 becomes U+FFFD, as
// encoding/json does, so every line stays valid JSON.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, `\u00`...)
				b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' { // valid JSON, but break JavaScript line readers
			b = append(b, s[start:i]...)
			b = append(b, `\u202`...)
			b = append(b, hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendFloat writes a number; NaN and infinities, which JSON lacks, become null.
func appendFloat(b []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, bits)
}

func appendFloats32(b []byte, v []float32) []byte {
	b = append(b, '[')
	for i, e := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendFloat(b, float64(e), 32)
	}
	return append(b, ']')
}

// SafeName turns an item id or field name into a relative file path that cannot leave
// its directory: separators are kept as directories, but "..", ".", empty and absolute
// components, and characters that are unsafe in file names, are replaced.
func SafeName(id string) string {
	parts := strings.FieldsFunc(filepath.ToSlash(id), func(r rune) bool { return r == '/' })
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		if p == "." || p == ".." {
			p = strings.Repeat("_", len(p))
		}
		p = strings.Map(func(r rune) rune {
			switch {
			case r < 0x20, r == 0x7f, strings.ContainsRune(`\:*?"<>|`, r):
				return '_'
			}
			return r
		}, p)
		out = append(out, p)
	}
	if len(out) == 0 {
		return "_"
	}
	return strings.Join(out, "/")
}

// writeFileAtomic writes a file through a temporary name and a rename, so a crash
// leaves the old file or the new one, never half of one.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(tmp)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// syncFiles fsyncs each file and then each distinct directory from the file's up to
// root, so directories created on the way are durable too.
func syncFiles(root string, paths []string) error {
	dirs := map[string]bool{}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return fmt.Errorf("fsync %s: %w", p, err)
		}
		for d := filepath.Dir(p); !dirs[d]; d = filepath.Dir(d) {
			dirs[d] = true
			if d == root || d == filepath.Dir(d) {
				break
			}
		}
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return fmt.Errorf("fsync %s: %w", d, err)
		}
	}
	return nil
}

var _ Sink = (*JSONL)(nil)
