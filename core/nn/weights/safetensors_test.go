package weights

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/plexusml/plexus/core/tensor"
)

func allDTypes(t *testing.T) map[string]*tensor.Tensor {
	t.Helper()
	mk := func(dt tensor.DType, shape []int, b []byte) *tensor.Tensor {
		x, err := tensor.FromBytes(dt, shape, b)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	f32 := tensor.FromFloat32([]float32{1, -2, 3.5, 4, 5, 6}, 2, 3)
	transposed, _ := f32.Permute(1, 0)
	return map[string]*tensor.Tensor{
		"f32":        f32,
		"f32.t":      transposed, // written contiguous
		"f16":        tensor.FromFloat32([]float32{0.5, -1, 65504}, 3).ConvertTo(tensor.Float16),
		"bf16":       tensor.FromFloat32([]float32{1.5, -3}, 2).ConvertTo(tensor.BFloat16),
		"f64":        tensor.FromFloat32([]float32{math.Pi}, 1).ConvertTo(tensor.Float64),
		"i64":        tensor.FromInt64([]int64{-1, 1 << 40}, 2),
		"i32":        tensor.FromInt64([]int64{-7, 7}, 1, 2).ConvertTo(tensor.Int32),
		"u8":         mk(tensor.Uint8, []int{3}, []byte{0, 128, 255}),
		"bool":       mk(tensor.Bool, []int{2}, []byte{1, 0}),
		"scalar":     tensor.FromFloat32([]float32{2.5}, []int{}...),
		"empty":      tensor.New(tensor.Float32, 0, 4),
		"odd.name/é": tensor.FromFloat32([]float32{9}, 1),
	}
}

func TestSafetensorsRoundTrip(t *testing.T) {
	in := allDTypes(t)
	in["scalar"], _ = tensor.FromBytes(tensor.Float32, []int{}, in["scalar"].Bytes())
	p := filepath.Join(t.TempDir(), "w.safetensors")
	meta := map[string]string{"format": "pt", "note": "ünïcode"}
	if err := WriteSafetensors(p, in, meta); err != nil {
		t.Fatal(err)
	}
	s, err := OpenSafetensors(p)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !reflect.DeepEqual(s.Metadata(), meta) {
		t.Errorf("metadata %v, want %v", s.Metadata(), meta)
	}
	if got, want := s.Names(), sortedKeys(in); !reflect.DeepEqual(got, want) {
		t.Fatalf("names %v, want %v", got, want)
	}
	for name, want := range in {
		got, ok := s.Get(name)
		if !ok {
			t.Fatalf("%s missing", name)
		}
		w := want.Contiguous()
		if got.DType() != w.DType() || !reflect.DeepEqual(got.Shape(), w.Shape()) || string(got.Bytes()) != string(w.Bytes()) {
			t.Errorf("%s: got %s %v, want %s %v", name, got, got.Bytes(), w, w.Bytes())
		}
	}
	// The writer aligns every tensor, so reads are zero-copy: the bytes lie in the map.
	got, _ := s.Get("f32")
	b := got.Bytes()
	lo := uintptr(unsafe.Pointer(&s.data[0]))
	addr := uintptr(unsafe.Pointer(&b[0]))
	if addr < lo || addr >= lo+uintptr(len(s.data)) {
		t.Error("aligned float32 data was copied, want zero-copy")
	}
	if addr%4 != 0 {
		t.Error("float32 data is misaligned")
	}
}

// A file from another writer may leave float data misaligned: it must be copied
// (aligned) rather than handed out as a misaligned []float32.
func TestSafetensorsMisaligned(t *testing.T) {
	header := `{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"w":{"dtype":"F32","shape":[2],"data_offsets":[1,9]}}`
	for len(header)%8 != 0 { // the data buffer starts 8-aligned, so "w" at byte 1 is not
		header += " "
	}
	file := make([]byte, 8, 64)
	binary.LittleEndian.PutUint64(file, uint64(len(header)))
	file = append(file, header...)
	file = append(file, 7)
	file = binary.LittleEndian.AppendUint32(file, math.Float32bits(1.5))
	file = binary.LittleEndian.AppendUint32(file, math.Float32bits(-2))
	p := filepath.Join(t.TempDir(), "m.safetensors")
	if err := os.WriteFile(p, file, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := OpenSafetensors(p)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w, _ := s.Get("w")
	if got := w.Float32s(); !reflect.DeepEqual(got, []float32{1.5, -2}) {
		t.Errorf("misaligned float32 read %v", got)
	}
	a, _ := s.Get("a")
	if &a.Bytes()[0] != &s.data[s.base] {
		t.Error("aligned uint8 data was copied, want zero-copy")
	}
}

func stFile(header string, data int) []byte {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, make([]byte, data)...)
}

func TestSafetensorsInvalid(t *testing.T) {
	for _, tc := range []struct {
		name string
		file []byte
		want string // in the message
	}{
		{"short", []byte{1, 2, 3}, "shorter than"},
		{"header past end", append(binary.LittleEndian.AppendUint64(nil, 1000), '{', '}'), "header length 1000"},
		{"huge header length", binary.LittleEndian.AppendUint64(nil, math.MaxUint64), "header length"},
		{"not json", stFile(`[1,2]`, 0), "not a JSON object"},
		{"trailing junk", stFile(`{}x`, 0), "after the JSON"},
		{"duplicate", stFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, 2), `duplicate key "a"`},
		{"bad dtype", stFile(`{"w":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}`, 1), `tensor "w": unsupported dtype "F8_E4M3"`},
		{"past end", stFile(`{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, 8), `tensor "w": data_offsets [0,16] outside`},
		{"reversed", stFile(`{"w":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}`, 8), `tensor "w": data_offsets`},
		{"byte count", stFile(`{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, 8), `tensor "w": float32[3] needs 12 bytes`},
		{"negative dim", stFile(`{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, 8), `tensor "w": negative dimension`},
		{"huge shape", stFile(`{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`, 8), `tensor "w": shape`},
		{"overlap", stFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), `"a" [0,8) and "b" [4,8) overlap`},
		{"bad metadata", stFile(`{"__metadata__":{"k":1}}`, 0), "__metadata__"},
		{"no offsets", stFile(`{"w":{"dtype":"F32","shape":[1]}}`, 4), `tensor "w": data_offsets has 0 values`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSafetensors(tc.file)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrFormat) {
				t.Errorf("error %v does not wrap ErrFormat", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

// The file from tools/golden/common.py (an independent writer) reads back as torch made it.
func TestSafetensorsFromPython(t *testing.T) {
	s, err := OpenSafetensors(fixture(t, "dtypes.expected.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if m := s.Metadata(); m["format"] != "pt" {
		t.Errorf("metadata %v", m)
	}
	i64, _ := s.Get("i64")
	if got := i64.Int64s(); got[0] != -3 || got[11] != 8 || !reflect.DeepEqual(i64.Shape(), []int{3, 4}) {
		t.Errorf("i64 = %v %v", i64.Shape(), got)
	}
	big, _ := s.Get("big_i64")
	if got := big.Int64s(); got[0] != 1<<40 || got[1] != -(1<<62) {
		t.Errorf("big_i64 = %v", got)
	}
	sc, _ := s.Get("scalar")
	if sc.Rank() != 0 || sc.Float32s()[0] != 3.25 {
		t.Errorf("scalar = %s %v", sc, sc.Float32s())
	}
	b, _ := s.Get("bool")
	if got := []float64{b.At(0), b.At(1), b.At(2)}; !reflect.DeepEqual(got, []float64{1, 0, 1}) {
		t.Errorf("bool = %v", got)
	}
	if _, ok := s.Get("nope"); ok {
		t.Error("Get of an absent name succeeded")
	}
}

func TestWriteSafetensorsAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "w.safetensors")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := map[string]*tensor.Tensor{"a": tensor.FromFloat32([]float32{1}, 1), "b": nil}
	if err := WriteSafetensors(p, bad, nil); err == nil || !strings.Contains(err.Error(), `"b"`) {
		t.Fatalf("nil tensor: err = %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Error("a failed write changed the existing file")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("a failed write left %d files behind", len(ents))
	}
	if err := WriteSafetensors(filepath.Join(dir, "nodir", "x.safetensors"), nil, nil); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}

func TestSafetensorsClose(t *testing.T) {
	p := filepath.Join(t.TempDir(), "w.safetensors")
	if err := WriteSafetensors(p, map[string]*tensor.Tensor{"a": tensor.FromFloat32([]float32{1}, 1)}, nil); err != nil {
		t.Fatal(err)
	}
	s, err := OpenSafetensors(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Get("a"); ok {
		t.Error("Get after Close succeeded")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// Writing to a tensor from a mapped file must not change the file (private mapping).
func TestSafetensorsCopyOnWrite(t *testing.T) {
	p := filepath.Join(t.TempDir(), "w.safetensors")
	if err := WriteSafetensors(p, map[string]*tensor.Tensor{"a": tensor.FromFloat32([]float32{1, 2}, 2)}, nil); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(p)
	s, err := OpenSafetensors(p)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.Get("a")
	a.Float32s()[0] = 42
	s.Close()
	if after, _ := os.ReadFile(p); string(after) != string(before) {
		t.Error("writing to a mapped tensor changed the file")
	}
}

// BenchmarkOpenSafetensors opens a 64 MiB file and gets every tensor: with the mapping
// this costs the header parse, not the data.
func BenchmarkOpenSafetensors(b *testing.B) {
	p := filepath.Join(b.TempDir(), "big.safetensors")
	m := map[string]*tensor.Tensor{}
	for i := 0; i < 16; i++ {
		m[strings.Repeat("x", i+1)] = tensor.New(tensor.Float32, 1024, 1024)
	}
	if err := WriteSafetensors(p, m, nil); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(64 << 20)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := OpenSafetensors(p)
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range s.Names() {
			t, _ := s.Get(n)
			_ = t.Float32s()
		}
		s.Close()
	}
}
