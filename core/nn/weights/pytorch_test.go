package weights

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/plexusml/plexus/core/tensor"
)

// Fixtures come from tools/golden/weights.py; a missing one fails the test.
func fixture(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join("testdata", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("fixture %s missing (run /usr/bin/python3 tools/golden/weights.py): %v", p, err)
	}
	return p
}

func expected(t *testing.T, name string) map[string]*tensor.Tensor {
	t.Helper()
	s, err := OpenSafetensors(fixture(t, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	out := map[string]*tensor.Tensor{}
	for _, n := range s.Names() {
		out[n], _ = s.Get(n)
	}
	return out
}

// sameTensors requires identical names, dtypes, shapes and bytes.
func sameTensors(t *testing.T, got, want map[string]*tensor.Tensor) {
	t.Helper()
	if g, w := sortedKeys(got), sortedKeys(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("names:\n got %v\nwant %v", g, w)
	}
	for n, w := range want {
		g := got[n]
		if g.DType() != w.DType() || !reflect.DeepEqual(g.Shape(), w.Shape()) {
			t.Errorf("%s: got %s, want %s", n, g, w)
			continue
		}
		if !g.IsContiguous() {
			t.Errorf("%s: not contiguous", n)
			continue
		}
		if !bytes.Equal(g.Bytes(), w.Bytes()) {
			t.Errorf("%s: data differs", n)
		}
	}
}

func sortedKeys(m map[string]*tensor.Tensor) []string {
	k := make([]string, 0, len(m))
	for n := range m {
		k = append(k, n)
	}
	sort.Strings(k)
	return k
}

func TestReadPyTorchGolden(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"dtypes.pth", "dtypes.expected.safetensors"},
		{"dtypes_legacy.pth", "dtypes.expected.safetensors"},
		{"wrapped_state_dict.pth", "model.expected.safetensors"},
		{"wrapped_model.pt", "model.expected.safetensors"},
		{"module.pt", "model.expected.safetensors"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, err := ReadPyTorch(fixture(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			sameTensors(t, got, expected(t, tc.want))
		})
	}
}

// Views of one storage that stay contiguous share bytes, as they did in torch; the
// transposed and sliced ones are gathered into their own.
func TestReadPyTorchSharedStorage(t *testing.T) {
	for _, file := range []string{"dtypes.pth", "dtypes_legacy.pth"} {
		got, err := ReadPyTorch(fixture(t, file))
		if err != nil {
			t.Fatal(err)
		}
		base, row := got["base"].Float32s(), got["base_row2"].Float32s()
		if &base[2*6] != &row[0] {
			t.Errorf("%s: base_row2 does not share base's storage", file)
		}
		if got["base_t"].At(1, 0) != got["base"].At(0, 1) || got["base_cols"].At(3, 0) != got["base"].At(3, 2) {
			t.Errorf("%s: transposed or sliced view has wrong elements", file)
		}
	}
}

func TestOpenByContent(t *testing.T) {
	for _, tc := range []struct {
		file string
		want Format
	}{
		{"dtypes.pth", FormatPyTorchZip},
		{"dtypes_legacy.pth", FormatPyTorchLegacy},
		{"dtypes.expected.safetensors", FormatSafetensors},
		{"hf/pytorch_model.bin", FormatPyTorchZip},
	} {
		head, err := os.ReadFile(fixture(t, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		if got := Sniff(head[:16]); got != tc.want {
			t.Errorf("%s: sniffed %v, want %v", tc.file, got, tc.want)
		}
		s, err := Open(fixture(t, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Names()) == 0 {
			t.Errorf("%s: no tensors", tc.file)
		}
		s.Close()
	}
	_, err := Open(fixture(t, "hf/config.json"))
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("Open(config.json) = %v, want ErrFormat naming the file", err)
	}
}

// Corrupting a real checkpoint must give errors, never a panic or a huge allocation.
func TestReadPyTorchCorrupt(t *testing.T) {
	for _, file := range []string{"dtypes.pth", "dtypes_legacy.pth"} {
		data, err := os.ReadFile(fixture(t, file))
		if err != nil {
			t.Fatal(err)
		}
		for _, cut := range []int{1, 10, len(data) / 3, len(data) / 2, len(data) - 30, len(data) - 1} {
			if _, err := readPyTorch(bytes.NewReader(data[:cut]), int64(cut)); err == nil {
				t.Errorf("%s truncated to %d bytes: no error", file, cut)
			}
		}
	}
}
