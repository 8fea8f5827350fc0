package tensor

import (
	"bytes"
	"math"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func iota32(n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(i)
	}
	return s
}

func TestViews(t *testing.T) {
	x := FromFloat32(iota32(24), 2, 3, 4)
	p, err := x.Permute(2, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Shape(); !reflect.DeepEqual(got, []int{4, 2, 3}) {
		t.Fatalf("permute shape %v", got)
	}
	if p.IsContiguous() {
		t.Fatal("permuted view reported contiguous")
	}
	// p[k,i,j] == x[i,j,k]
	for i := 0; i < 2; i++ {
		for j := 0; j < 3; j++ {
			for k := 0; k < 4; k++ {
				if p.At(k, i, j) != x.At(i, j, k) {
					t.Fatalf("p[%d,%d,%d]=%v want %v", k, i, j, p.At(k, i, j), x.At(i, j, k))
				}
			}
		}
	}
	c := p.Contiguous().Float32s()
	if c[1] != 4 || c[3] != 12 {
		t.Fatalf("contiguous copy order wrong: %v", c[:6])
	}
	n, err := x.Narrow(1, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got := n.Clone().Float32s(); !reflect.DeepEqual(got, []float32{4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23}) {
		t.Fatalf("narrow = %v", got)
	}
	r, err := n.Reshape(-1, 4)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.Shape(), []int{4, 4}) || r.At(2, 0) != 16 {
		t.Fatalf("reshape of narrowed view: %v %v", r.Shape(), r.At(2, 0))
	}
	if _, err := x.Reshape(5, -1); err == nil {
		t.Fatal("reshape 24 -> (5,-1) accepted")
	}
	if _, err := x.Narrow(2, 3, 2); err == nil {
		t.Fatal("out-of-range narrow accepted")
	}
	if _, err := x.Permute(0, 0, 1); err == nil {
		t.Fatal("invalid permutation accepted")
	}
	// Views share memory with their parent.
	x.Float32s()[5] = 100
	if n.At(0, 0, 1) != 100 {
		t.Fatal("narrow view does not share data")
	}
}

func TestConvert(t *testing.T) {
	x := FromFloat32([]float32{0, 1, -2.5, 65504, 1e-3, 3.140625}, 6)
	for _, dt := range []DType{Float16, BFloat16, Float64, Float32} {
		back := x.ConvertTo(dt).ToFloat32().Float32s()
		for i, v := range x.Float32s() {
			tol := float64(0)
			switch dt {
			case Float16:
				tol = 1e-3 * math.Abs(float64(v))
			case BFloat16:
				tol = 8e-3 * math.Abs(float64(v))
			}
			if dt == BFloat16 && v == 65504 {
				tol = 256
			}
			if math.Abs(float64(back[i]-v)) > tol {
				t.Errorf("%s: %v -> %v", dt, v, back[i])
			}
		}
	}
	if got := x.ConvertTo(Int64).Int64s(); !reflect.DeepEqual(got, []int64{0, 1, -2, 65504, 0, 3}) {
		t.Errorf("to int64: %v", got)
	}
}

func sample(dt DType) *Tensor {
	x := FromFloat32([]float32{0, 1, 2, 3, 4, 5, 6, 250, 1, 0, 9, 1}, 3, 4)
	if dt == Float32 {
		return x
	}
	return x.ConvertTo(dt)
}

func TestNpyRoundTrip(t *testing.T) {
	for _, dt := range []DType{Float32, Float16, BFloat16, Int64, Int32, Uint8, Bool, Float64} {
		for _, shape := range [][]int{{3, 4}, {12}, {2, 1, 6}} {
			x, _ := sample(dt).Reshape(shape...)
			var buf bytes.Buffer
			if err := WriteNpy(&buf, x); err != nil {
				t.Fatalf("%s: %v", dt, err)
			}
			if buf.Len()%64 != (x.NumBytes())%64 {
				t.Errorf("%s: header not 64-byte aligned", dt)
			}
			y, err := ReadNpy(&buf)
			if err != nil {
				t.Fatalf("%s: %v", dt, err)
			}
			if y.DType() != dt || !reflect.DeepEqual(y.Shape(), shape) || !bytes.Equal(y.Bytes(), x.Bytes()) {
				t.Errorf("%s%v: round trip gave %s%v", dt, shape, y.DType(), y.Shape())
			}
		}
	}
	// A non-contiguous view is written in logical order.
	x := FromFloat32(iota32(6), 2, 3)
	tr, _ := x.Permute(1, 0)
	var buf bytes.Buffer
	if err := WriteNpy(&buf, tr); err != nil {
		t.Fatal(err)
	}
	y, err := ReadNpy(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := y.Float32s(); !reflect.DeepEqual(got, []float32{0, 3, 1, 4, 2, 5}) {
		t.Errorf("transposed npy = %v", got)
	}
}

func TestNpyErrors(t *testing.T) {
	good := func() []byte {
		var b bytes.Buffer
		_ = WriteNpy(&b, FromFloat32(iota32(4), 2, 2))
		return b.Bytes()
	}
	cases := map[string][]byte{
		"empty":     nil,
		"magic":     []byte("NOTNUMPY........"),
		"truncated": good()[:len(good())-3],
		"dtype":     bytes.Replace(good(), []byte("<f4"), []byte(">f4"), 1),
		"shape":     bytes.Replace(good(), []byte("(2, 2)"), []byte("(2, x)"), 1),
	}
	for name, b := range cases {
		if _, err := ReadNpy(bytes.NewReader(b)); err == nil {
			t.Errorf("%s: no error", name)
		} else if !strings.Contains(err.Error(), "npy") {
			t.Errorf("%s: error %q does not say npy", name, err)
		}
	}
}

// TestNpyNumPy checks interchange with NumPy itself, when it is installed.
func TestNpyNumPy(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import numpy").Run(); err != nil {
		t.Skip("numpy is not installed for /usr/bin/python3")
	}
	dir := t.TempDir()
	ours := filepath.Join(dir, "ours.npy")
	if err := SaveNpy(ours, sample(Float16)); err != nil {
		t.Fatal(err)
	}
	theirs := filepath.Join(dir, "theirs.npy")
	script := `import numpy as np, sys
a = np.load(sys.argv[1]); assert a.dtype == np.float16 and a.shape == (3, 4), (a.dtype, a.shape)
assert a[1, 3] == 250, a
np.save(sys.argv[2], np.asfortranarray(np.arange(6, dtype=np.int64).reshape(2, 3)))`
	if out, err := exec.Command(py, "-c", script, ours, theirs).CombinedOutput(); err != nil {
		t.Fatalf("numpy could not read our file: %v\n%s", err, out)
	}
	y, err := LoadNpy(theirs)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(y.Shape(), []int{2, 3}) || y.At(1, 2) != 5 || y.At(0, 1) != 1 {
		t.Fatalf("fortran-order array read wrong: %v", y.Clone().Int64s())
	}
}

func FuzzReadNpy(f *testing.F) {
	for _, dt := range []DType{Float32, BFloat16, Int64, Bool} {
		var b bytes.Buffer
		_ = WriteNpy(&b, sample(dt))
		f.Add(b.Bytes())
	}
	f.Add([]byte("\x93NUMPY\x02\x00\xff\xff\xff\xff"))
	old := MaxNpyBytes
	MaxNpyBytes = 1 << 20
	defer func() { MaxNpyBytes = old }()
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := ReadNpy(bytes.NewReader(data))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := WriteNpy(&buf, x); err != nil {
			t.Fatalf("read %s but cannot write it: %v", x, err)
		}
	})
}
