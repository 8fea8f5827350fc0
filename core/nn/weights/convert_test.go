package weights

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/plexusml/plexus/core/tensor"
)

func TestConvertCheckpoint(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "model.safetensors")
	sum, err := Convert(fixture(t, "hf/pytorch_model.bin"), out, ConvertOptions{StripPrefix: []string{"bert."}, CopyConfig: true})
	if err != nil {
		t.Fatal(err)
	}
	want := expected(t, "model.expected.safetensors")
	var params int64
	for _, x := range want {
		params += int64(x.NumElems())
	}
	if sum.Tensors != len(want) || sum.Params != params || sum.Format != FormatPyTorchZip {
		t.Errorf("summary %+v, want %d tensors, %d params", sum, len(want), params)
	}
	if fi, _ := os.Stat(out); sum.Bytes != fi.Size() {
		t.Errorf("summary bytes %d, file has %d", sum.Bytes, fi.Size())
	}
	if !strings.Contains(sum.String(), "9 tensors, 139 parameters (139), ") {
		t.Errorf("summary line %q", sum)
	}
	s, err := OpenSafetensors(out)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := map[string]*tensor.Tensor{}
	for _, n := range s.Names() {
		got[n], _ = s.Get(n)
	}
	sameTensors(t, got, want)
	if s.Metadata()["format"] != "pt" {
		t.Errorf("metadata %v", s.Metadata())
	}
	cfg, err := os.ReadFile(filepath.Join(dir, "config.json"))
	orig, _ := os.ReadFile(fixture(t, "hf/config.json"))
	if err != nil || string(cfg) != string(orig) || sum.Config == "" {
		t.Errorf("config.json not copied: %v (summary %q)", err, sum.Config)
	}
	// A second conversion beside a hand-edited config keeps it and says so.
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err = Convert(fixture(t, "hf/pytorch_model.bin"), out, ConvertOptions{CopyConfig: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sum.ConfigNote, "differs") || sum.Config != "" {
		t.Errorf("config note %q, config %q", sum.ConfigNote, sum.Config)
	}
}

func TestConvertDType(t *testing.T) {
	out := filepath.Join(t.TempDir(), "d.safetensors")
	if _, err := Convert(fixture(t, "dtypes_legacy.pth"), out, ConvertOptions{DType: tensor.Float32}); err != nil {
		t.Fatal(err)
	}
	s, err := OpenSafetensors(out)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := expected(t, "dtypes.expected.safetensors")
	for _, n := range s.Names() {
		got, _ := s.Get(n)
		w := want[n]
		wantDT := w.DType()
		if wantDT.IsFloat() {
			wantDT = tensor.Float32
		}
		if got.DType() != wantDT || !reflect.DeepEqual(got.Shape(), w.Shape()) {
			t.Errorf("%s: %s, want %s%v", n, got, wantDT, w.Shape())
			continue
		}
		for i, v := range got.ToFloat32().Float32s() {
			// float16/bfloat16 widen exactly; float64 rounds to float32.
			if r := w.ToFloat32().Float32s()[i]; v != r {
				t.Errorf("%s[%d] = %v, want %v", n, i, v, r)
				break
			}
		}
	}
}

func TestConvertErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Convert(fixture(t, "dtypes.pth"), filepath.Join(dir, "x"), ConvertOptions{DType: tensor.Int64}); err == nil {
		t.Error("integer target dtype accepted")
	}
	if _, err := Convert(fixture(t, "dtypes.pth"), fixture(t, "dtypes.pth"), ConvertOptions{}); err == nil {
		t.Error("converting a file onto itself accepted")
	}
	if _, err := Convert(fixture(t, "hf/pytorch_model.bin"), filepath.Join(dir, "x"), ConvertOptions{StripPrefix: []string{"bert.0.weight"}}); err == nil || !strings.Contains(err.Error(), "empty name") {
		t.Errorf("prefix stripping a whole name: %v", err)
	}
	if _, err := Convert(filepath.Join(dir, "absent.pth"), filepath.Join(dir, "x"), ConvertOptions{}); err == nil || !strings.Contains(err.Error(), "absent.pth") {
		t.Errorf("missing input: %v", err)
	}
}

// A Hugging Face directory converts as a whole, config included.
func TestConvertDirectory(t *testing.T) {
	dir := t.TempDir()
	sum, err := Convert(fixture(t, "hf"), filepath.Join(dir, "m.safetensors"), ConvertOptions{CopyConfig: true, StripPrefix: []string{"bert."}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Tensors != 9 || sum.Config == "" {
		t.Errorf("summary %+v", sum)
	}
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		t.Error(err)
	}
}
