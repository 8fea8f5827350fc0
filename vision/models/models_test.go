package models

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plexusml/plexus/core/media"
	"github.com/plexusml/plexus/core/nn"
	"github.com/plexusml/plexus/core/tensor"
)

// fixture copies a golden model into a temporary folder as NAME.safetensors with its
// NAME.json beside it, the layout Open looks for.
func fixture(t *testing.T, pkg, name string) string {
	t.Helper()
	dir := t.TempDir()
	for _, ext := range []string{".safetensors", ".json"} {
		b, err := os.ReadFile(filepath.Join("..", pkg, "testdata", name+ext))
		if err != nil {
			t.Fatalf("%v (regenerate with /usr/bin/python3 tools/golden/vision.py)", err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+ext), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, name+".safetensors")
}

// TestPhotoTop5 runs the whole path, photo → transforms → network, against
// torchvision's on a real photo: the top-5 classes must agree.
func TestPhotoTop5(t *testing.T) {
	w := fixture(t, "resnet", "resnet18_small")
	m, err := Open(w, "", "resnet")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	// The fixture was made with Resize(72), CenterCrop(64).
	m.Transform.Resize, m.Transform.Crop = 72, 64
	photo, err := os.ReadFile(filepath.Join("..", "testdata", "gopher.jpeg"))
	if err != nil {
		t.Fatal(err)
	}
	x, ok, errs := m.Batch([][]byte{photo}, []string{"gopher.jpeg"}, media.DefaultLimits())
	if len(ok) != 1 || errs[0] != nil {
		t.Fatalf("batch: %v", errs[0])
	}
	logits, _, err := m.Run(nn.NewArena(0), x, 1, 64, 64)
	if err != nil {
		t.Fatal(err)
	}
	want, err := tensor.LoadNpy(filepath.Join("..", "testdata", "gopher.resnet18_small.logits.npy"))
	if err != nil {
		t.Fatal(err)
	}
	got, ref := m.TopK(logits.Data, 5), m.TopK(want.Float32s(), 5)
	for i := range ref {
		if got[i].Index != ref[i].Index {
			t.Fatalf("top-5 %v, torchvision %v", got, ref)
		}
	}
}

func TestBatchBadItemsFailAlone(t *testing.T) {
	m, err := Open(fixture(t, "resnet", "resnet_cifar_small"), "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	photo, err := os.ReadFile(filepath.Join("..", "testdata", "gopher.jpeg"))
	if err != nil {
		t.Fatal(err)
	}
	lim := media.DefaultLimits()
	lim.MaxPixels = 300 * 400
	items := [][]byte{photo, photo[:500], []byte("hello"), photo}
	names := []string{"a.jpeg", "cut.jpeg", "text.jpeg", "d.jpeg"}
	x, ok, errs := m.Batch(items, names, lim)
	if len(ok) != 2 || ok[0] != 0 || ok[1] != 3 || len(x) != 2*28*28 {
		t.Fatalf("ok %v, %d values", ok, len(x))
	}
	for _, i := range []int{1, 2} {
		if !errors.Is(errs[i], ErrInput) || !strings.Contains(errs[i].Error(), names[i]) {
			t.Errorf("item %d: error %v should wrap ErrInput and name %s", i, errs[i], names[i])
		}
	}
	lim.MaxPixels = 1000
	_, ok, errs = m.Batch([][]byte{photo}, []string{"huge.jpeg"}, lim)
	if len(ok) != 0 || !errors.Is(errs[0], media.ErrLimit) {
		t.Errorf("oversized image: %v", errs[0])
	}
}

func TestOpenErrors(t *testing.T) {
	w := fixture(t, "resnet", "resnet18_small")
	if _, err := Open(w, "", "inception_v3"); err == nil || !strings.Contains(err.Error(), "describes") {
		t.Errorf("architecture clash: %v", err)
	}
	bare := filepath.Join(t.TempDir(), "w.safetensors")
	b, _ := os.ReadFile(w)
	os.WriteFile(bare, b, 0o644)
	if _, err := Open(bare, "", ""); err == nil || !strings.Contains(err.Error(), "no config.json") {
		t.Errorf("no config: %v", err)
	}
	// torchvision defaults (1000 classes) do not fit the fixture: every mismatch listed.
	_, err := Open(bare, "", "resnet18")
	if err == nil || !strings.Contains(err.Error(), "wrong shape: fc.weight") || !strings.Contains(err.Error(), "layer4.1.conv2.weight") {
		t.Errorf("defaults on reduced weights: %v", err)
	}
}

func TestConfigPath(t *testing.T) {
	dir := t.TempDir()
	w := filepath.Join(dir, "m.safetensors")
	if p := ConfigPath(w); p != "" {
		t.Errorf("no config: got %q", p)
	}
	os.WriteFile(filepath.Join(dir, "config.json"), []byte("{}"), 0o644)
	if p := ConfigPath(w); p != filepath.Join(dir, "config.json") {
		t.Errorf("got %q", p)
	}
	os.WriteFile(filepath.Join(dir, "m.json"), []byte("{}"), 0o644)
	if p := ConfigPath(w); p != filepath.Join(dir, "m.json") {
		t.Errorf("got %q", p)
	}
}

// TestPyTorchCheckpoint opens the golden weights as torch.save wrote them (.pth) and
// checks the logits against torchvision's.
func TestPyTorchCheckpoint(t *testing.T) {
	dir := filepath.Join("..", "resnet", "testdata")
	m, err := Open(filepath.Join(dir, "resnet18_small.pth"), filepath.Join(dir, "resnet18_small.json"), "resnet")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	x, err := tensor.LoadNpy(filepath.Join(dir, "resnet18_small.input.npy"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := tensor.LoadNpy(filepath.Join(dir, "resnet18_small.logits.npy"))
	if err != nil {
		t.Fatal(err)
	}
	s := x.Shape()
	logits, _, err := m.Run(nn.NewArena(0), x.Float32s(), s[0], s[2], s[3])
	if err != nil {
		t.Fatal(err)
	}
	var d, mx float64
	for i, w := range want.Float32s() {
		d = math.Max(d, math.Abs(float64(logits.Data[i]-w)))
		mx = math.Max(mx, math.Abs(float64(w)))
	}
	if d/mx > 1e-4 {
		t.Fatalf("rel err %.3e", d/mx)
	}
}

func TestUnknownConfigKeysWarn(t *testing.T) {
	w := fixture(t, "resnet", "resnet_cifar_small")
	cfg := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(cfg, []byte(`{"architecture": "resnet", "block": "basic", "layers": [1, 1, 1], "widths": [4, 8, 16],
		"stem": "small", "in_channels": 1, "num_classes": 10, "input_size": 28, "torch_dtype": "float32"}`), 0o644)
	m, err := Open(w, cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if len(m.Warnings) != 1 || !strings.Contains(m.Warnings[0], `"torch_dtype"`) {
		t.Fatalf("warnings %q", m.Warnings)
	}
}
