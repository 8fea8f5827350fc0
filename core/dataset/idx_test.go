package dataset

import (
	"bytes"
	"os"
	"testing"
)

func TestDecodeIDX(t *testing.T) {
	b := []byte{0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	x, err := DecodeIDX(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if x.Rank() != 3 || x.Dim(2) != 3 || x.At(1, 1, 2) != 12 {
		t.Fatalf("decoded %v wrong", x)
	}
	for name, bad := range map[string][]byte{
		"short data":  b[:len(b)-1],
		"bad type":    append([]byte{0, 0, 0x0d, 1, 0, 0, 0, 1}, 0, 0, 0, 0),
		"bad magic":   append([]byte{1, 0, 8, 1, 0, 0, 0, 1}, 7),
		"huge header": {0, 0, 8, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	} {
		if _, err := DecodeIDX(bytes.NewReader(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestFashionMNIST reads Debian's dataset-fashion-mnist when it is installed.
func TestFashionMNIST(t *testing.T) {
	const dir = "/usr/share/datasets/fashion-mnist/"
	if _, err := os.Stat(dir); err != nil {
		t.Skip("dataset-fashion-mnist is not installed")
	}
	imgs, err := ReadIDX(dir + "t10k-images-idx3-ubyte.gz")
	if err != nil {
		t.Fatal(err)
	}
	labels, err := ReadIDX(dir + "t10k-labels-idx1-ubyte.gz")
	if err != nil {
		t.Fatal(err)
	}
	if imgs.Dim(0) != 10000 || imgs.Dim(1) != 28 || imgs.Dim(2) != 28 || labels.Dim(0) != 10000 {
		t.Fatalf("shapes %v %v", imgs.Shape(), labels.Shape())
	}
	if labels.At(0) != 9 { // the first test item is an ankle boot
		t.Fatalf("first label %v, want 9", labels.At(0))
	}
}

func FuzzDecodeIDX(f *testing.F) {
	f.Add([]byte{0, 0, 8, 1, 0, 0, 0, 2, 5, 6})
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := DecodeIDX(bytes.NewReader(b))
		if err == nil && x.NumBytes() > len(b) {
			t.Fatalf("decoded %d bytes from %d of input", x.NumBytes(), len(b))
		}
	})
}
