package tensor

import (
	"bytes"
	"strings"
	"testing"
)

func TestWireRoundTrip(t *testing.T) {
	src := FromFloat32([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	view, err := src.Permute(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []*Tensor{src, view, New(Int64, 0, 4), New(Bool)} {
		c := in.Contiguous()
		got, err := FromWire(in.Header(), c.Bytes())
		if err != nil {
			t.Fatalf("%v: %v", in, err)
		}
		if got.DType() != in.DType() || !wireEqualInts(got.Shape(), in.Shape()) || !bytes.Equal(got.Bytes(), c.Bytes()) {
			t.Errorf("round trip of %v gave %v", in, got)
		}
	}
}

func TestWireRejects(t *testing.T) {
	cases := []struct {
		h    WireHeader
		n    int
		want string
	}{
		{WireHeader{DType: "complex7", Shape: []int64{1}}, 4, "unknown dtype"},
		{WireHeader{DType: "float32", Shape: []int64{2, -1}}, 8, "negative"},
		{WireHeader{DType: "float32", Shape: []int64{1 << 40, 1 << 40}}, 0, "exceeds"},
		{WireHeader{DType: "float32", Shape: []int64{3}}, 8, "needs 12 bytes"},
		{WireHeader{DType: "float32", Shape: []int64{2}, Layout: "column_major"}, 8, "layout"},
		{WireHeader{DType: "uint8", Shape: make([]int64, 33)}, 0, "rank"},
	}
	for _, c := range cases {
		_, err := FromWire(c.h, make([]byte, c.n))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("FromWire(%+v) = %v, want an error containing %q", c.h, err, c.want)
		}
	}
}

func TestWireCopiesMisaligned(t *testing.T) {
	buf := make([]byte, 17)
	buf[1] = 0x80
	buf[2] = 0x3f // 1.0 little-endian in bytes 1..4 after the shift below
	got, err := FromWire(WireHeader{DType: "float32", Shape: []int64{4}}, buf[1:17])
	if err != nil {
		t.Fatal(err)
	}
	_ = got.Float32s() // panics on misaligned data
}

func FuzzFromWire(f *testing.F) {
	f.Add("float32", []byte{2, 0, 0, 0, 3, 0, 0, 0}, []byte("0123456789abcdefghijklmn"))
	f.Add("int64", []byte{0}, []byte{})
	f.Add("bfloat16", []byte{255, 255, 255, 127}, []byte{1, 2})
	f.Fuzz(func(t *testing.T, dtype string, dims []byte, data []byte) {
		var shape []int64
		for i := 0; i+4 <= len(dims); i += 4 {
			shape = append(shape, int64(int32(uint32(dims[i])|uint32(dims[i+1])<<8|uint32(dims[i+2])<<16|uint32(dims[i+3])<<24)))
		}
		h := WireHeader{DType: dtype, Shape: shape}
		x, err := FromWire(h, data)
		if err != nil {
			return
		}
		if x.NumBytes() != len(data) {
			t.Fatalf("accepted %d bytes for %v", len(data), x)
		}
		back, err := FromWire(x.Header(), x.Bytes())
		if err != nil || !bytes.Equal(back.Bytes(), data) {
			t.Fatalf("re-encoding %v failed: %v", x, err)
		}
	})
}

func wireEqualInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
