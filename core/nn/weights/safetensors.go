package weights

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"unsafe"

	"github.com/plexusml/plexus/core/tensor"
)

// maxHeader bounds a safetensors JSON header, as the reference implementation does.
const maxHeader = 100 << 20

// safetensors dtype tags and plexus dtypes, both ways.
var stDTypes = map[string]tensor.DType{
	"F32": tensor.Float32, "F16": tensor.Float16, "BF16": tensor.BFloat16, "F64": tensor.Float64,
	"I64": tensor.Int64, "I32": tensor.Int32, "U8": tensor.Uint8, "BOOL": tensor.Bool,
}

func stTag(dt tensor.DType) (string, bool) {
	for k, v := range stDTypes {
		if v == dt {
			return k, true
		}
	}
	return "", false
}

// Safetensors is a memory-mapped safetensors file. Tensors returned by Get share the
// mapping when their data is aligned for their dtype (the usual case), so loading costs
// no copy; they are valid until Close. Writes to them change private copy-on-write
// pages, never the file. Get is safe for concurrent use.
type Safetensors struct {
	path    string
	data    []byte // the whole file
	unmap   func() error
	base    int // start of the byte buffer (8 + header length)
	entries map[string]stEntry
	names   []string
	meta    map[string]string

	mu     sync.Mutex
	cache  map[string]*tensor.Tensor
	closed bool
}

type stEntry struct {
	dtype      tensor.DType
	shape      []int
	begin, end int // relative to base
}

// OpenSafetensors maps a safetensors file and validates its whole header: every tensor's
// dtype, shape and byte range are checked before the first Get.
func OpenSafetensors(path string) (*Safetensors, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open safetensors: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("open safetensors: %w", err)
	}
	data, unmap, err := mapFile(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("open safetensors %s: %w", path, err)
	}
	s, err := parseSafetensors(data)
	if err != nil {
		unmap()
		return nil, fmt.Errorf("open safetensors %s: %w", path, err)
	}
	s.path, s.unmap = path, unmap
	return s, nil
}

// ParseSafetensors reads a safetensors file held in memory; tensors share data.
func ParseSafetensors(data []byte) (*Safetensors, error) {
	s, err := parseSafetensors(data)
	if err != nil {
		return nil, fmt.Errorf("parse safetensors: %w", err)
	}
	s.unmap = func() error { return nil }
	return s, nil
}

func parseSafetensors(data []byte) (*Safetensors, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the 8-byte header length", ErrFormat, len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n > uint64(len(data)-8) {
		return nil, fmt.Errorf("%w: header length %d exceeds the %d bytes that follow", ErrFormat, n, len(data)-8)
	}
	if n > maxHeader {
		return nil, fmt.Errorf("%w: header length %d exceeds the %d limit", ErrFormat, n, maxHeader)
	}
	header := data[8 : 8+n]
	if len(bytes.TrimSpace(header)) == 0 || bytes.TrimSpace(header)[0] != '{' {
		return nil, fmt.Errorf("%w: header is not a JSON object", ErrFormat)
	}
	raw, err := decodeObject(header)
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrFormat, err)
	}
	s := &Safetensors{data: data, base: 8 + int(n), entries: map[string]stEntry{}, cache: map[string]*tensor.Tensor{}}
	size := len(data) - s.base
	for _, kv := range raw {
		if kv.key == "__metadata__" {
			if err := json.Unmarshal(kv.value, &s.meta); err != nil {
				return nil, fmt.Errorf("%w: __metadata__ must map strings to strings: %v", ErrFormat, err)
			}
			continue
		}
		e, err := parseEntry(kv.value, size)
		if err != nil {
			return nil, fmt.Errorf("%w: tensor %q: %v", ErrFormat, kv.key, err)
		}
		s.entries[kv.key] = e
		s.names = append(s.names, kv.key)
	}
	// Byte ranges may not overlap: sort by start and compare neighbours.
	order := append([]string(nil), s.names...)
	sort.Slice(order, func(i, j int) bool {
		a, b := s.entries[order[i]], s.entries[order[j]]
		if a.begin != b.begin {
			return a.begin < b.begin
		}
		return a.end < b.end
	})
	for i := 1; i < len(order); i++ {
		prev, cur := s.entries[order[i-1]], s.entries[order[i]]
		if cur.begin < prev.end {
			return nil, fmt.Errorf("%w: tensors %q [%d,%d) and %q [%d,%d) overlap", ErrFormat, order[i-1], prev.begin, prev.end, order[i], cur.begin, cur.end)
		}
	}
	sort.Strings(s.names)
	return s, nil
}

func parseEntry(raw json.RawMessage, size int) (stEntry, error) {
	var h struct {
		DType       string   `json:"dtype"`
		Shape       []int64  `json:"shape"`
		DataOffsets []uint64 `json:"data_offsets"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return stEntry{}, err
	}
	dt, ok := stDTypes[h.DType]
	if !ok {
		if h.DType == "" {
			return stEntry{}, errors.New("no dtype")
		}
		return stEntry{}, fmt.Errorf("unsupported dtype %q (plexus reads F32, F16, BF16, F64, I64, I32, U8, BOOL)", h.DType)
	}
	if h.Shape == nil {
		return stEntry{}, errors.New("no shape")
	}
	if len(h.DataOffsets) != 2 {
		return stEntry{}, fmt.Errorf("data_offsets has %d values, want 2", len(h.DataOffsets))
	}
	shape := make([]int, len(h.Shape))
	elems := uint64(1)
	for i, d := range h.Shape {
		if d < 0 {
			return stEntry{}, fmt.Errorf("negative dimension in shape %v", h.Shape)
		}
		// Bounded by the file: a shape larger than the bytes present is an error anyway.
		if d > 0 && elems > uint64(size)/uint64(d) {
			return stEntry{}, fmt.Errorf("shape %v needs more bytes than the file holds", h.Shape)
		}
		elems *= uint64(d)
		shape[i] = int(d)
	}
	begin, end := h.DataOffsets[0], h.DataOffsets[1]
	if begin > end || end > uint64(size) {
		return stEntry{}, fmt.Errorf("data_offsets [%d,%d] outside the %d-byte data buffer", begin, end, size)
	}
	if want := elems * uint64(dt.Size()); end-begin != want {
		return stEntry{}, fmt.Errorf("%s%v needs %d bytes, data_offsets [%d,%d] give %d", dt, h.Shape, want, begin, end, end-begin)
	}
	return stEntry{dtype: dt, shape: shape, begin: int(begin), end: int(end)}, nil
}

type rawField struct {
	key   string
	value json.RawMessage
}

// decodeObject decodes a JSON object's fields in order and rejects duplicate keys, which
// encoding/json would otherwise resolve silently to the last one.
func decodeObject(b []byte) ([]rawField, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	var out []rawField
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, errors.New("object key is not a string")
		}
		if seen[key] {
			return nil, fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("key %q: %v", key, err)
		}
		out = append(out, rawField{key, v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	// Only padding may follow the object.
	rest, _ := io.ReadAll(dec.Buffered())
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("data after the JSON object")
	}
	return out, nil
}

// Path is the file the tensors came from ("" when parsed from memory).
func (s *Safetensors) Path() string { return s.path }

// Names returns the tensor names, sorted.
func (s *Safetensors) Names() []string { return append([]string(nil), s.names...) }

// Metadata returns the __metadata__ map (nil when absent).
func (s *Safetensors) Metadata() map[string]string {
	if s.meta == nil {
		return nil
	}
	m := make(map[string]string, len(s.meta))
	for k, v := range s.meta {
		m[k] = v
	}
	return m
}

// Info returns a tensor's dtype and shape without touching its data.
func (s *Safetensors) Info(name string) (tensor.DType, []int, bool) {
	e, ok := s.entries[name]
	if !ok {
		return tensor.Invalid, nil, false
	}
	return e.dtype, append([]int(nil), e.shape...), true
}

// Get returns a tensor. Aligned data is used in place; data that is not aligned for its
// dtype (possible in files from other writers) is copied once, since float32 and int64
// slices over it would be misaligned.
func (s *Safetensors) Get(name string) (*tensor.Tensor, bool) {
	e, ok := s.entries[name]
	if !ok {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false
	}
	if t, ok := s.cache[name]; ok {
		return t, true
	}
	b := s.data[s.base+e.begin : s.base+e.end : s.base+e.end]
	if len(b) > 0 && uintptr(unsafe.Pointer(&b[0]))%uintptr(e.dtype.Size()) != 0 {
		b = alignedCopy(b)
	}
	t, err := tensor.FromBytes(e.dtype, e.shape, b)
	if err != nil { // sizes were checked when the header was parsed
		panic(fmt.Sprintf("weights: safetensors entry %q: %v", name, err))
	}
	s.cache[name] = t
	return t, true
}

// alignedCopy copies b into 8-byte aligned memory, enough for every dtype.
func alignedCopy(b []byte) []byte {
	if len(b) == 0 {
		return []byte{}
	}
	words := make([]uint64, (len(b)+7)/8)
	out := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), len(words)*8)[:len(b):len(b)]
	copy(out, b)
	return out
}

// Close unmaps the file; tensors from Get must not be used afterwards.
func (s *Safetensors) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.cache = nil
	return s.unmap()
}

// WriteSafetensors writes tensors and optional metadata as a safetensors file. It writes
// a temporary file beside path and renames it, so a reader never sees a partial file.
// Data is laid out in name order with the header padded to 8 bytes, so every tensor of
// the file is aligned for zero-copy reading.
func WriteSafetensors(path string, tensors map[string]*tensor.Tensor, meta map[string]string) error {
	if err := writeSafetensors(path, tensors, meta); err != nil {
		return fmt.Errorf("write safetensors %s: %w", path, err)
	}
	return nil
}

func writeSafetensors(path string, tensors map[string]*tensor.Tensor, meta map[string]string) (err error) {
	names := make([]string, 0, len(tensors))
	for n := range tensors {
		if n == "__metadata__" {
			return errors.New(`"__metadata__" cannot be a tensor name`)
		}
		if tensors[n] == nil {
			return fmt.Errorf("tensor %q is nil", n)
		}
		names = append(names, n)
	}
	sort.Strings(names)
	// Header: encoding/json writes map keys sorted, "__metadata__" first among them
	// since '_' sorts before lowercase letters; the order does not matter to readers.
	type entry struct {
		DType       string   `json:"dtype"`
		Shape       []int    `json:"shape"`
		DataOffsets [2]int64 `json:"data_offsets"`
	}
	header := make(map[string]any, len(names)+1)
	if len(meta) > 0 {
		header["__metadata__"] = meta
	}
	var off int64
	for _, n := range names {
		t := tensors[n]
		tag, ok := stTag(t.DType())
		if !ok {
			return fmt.Errorf("tensor %q: dtype %s has no safetensors tag", n, t.DType())
		}
		shape := t.Shape()
		if shape == nil {
			shape = []int{}
		}
		size := int64(t.NumBytes())
		header[n] = entry{DType: tag, Shape: shape, DataOffsets: [2]int64{off, off + size}}
		off += size
	}
	hb, err := json.Marshal(header)
	if err != nil {
		return err
	}
	for len(hb)%8 != 0 {
		hb = append(hb, ' ')
	}

	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hb)))
	if _, err = w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err = w.Write(hb); err != nil {
		return err
	}
	for _, n := range names {
		if _, err = w.Write(tensors[n].Contiguous().Bytes()); err != nil {
			return err
		}
	}
	if err = w.Flush(); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
