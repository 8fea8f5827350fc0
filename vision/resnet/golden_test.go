package resnet

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plexusml/plexus/core/nn"
	"github.com/plexusml/plexus/core/nn/weights"
	"github.com/plexusml/plexus/core/tensor"
)

// relErr is the project's agreement measure: max|got−want| / max|want|.
func relErr(got, want []float32) float64 {
	var d, m float64
	for i := range want {
		d = math.Max(d, math.Abs(float64(got[i])-float64(want[i])))
		m = math.Max(m, math.Abs(float64(want[i])))
	}
	return d / m
}

func loadFixture(t *testing.T, dir, name string) (*Model, *tensor.Tensor) {
	t.Helper()
	cfg, err := ReadConfig(filepath.Join(dir, name+".json"))
	if err != nil {
		t.Fatalf("%v (regenerate with /usr/bin/python3 tools/golden/vision.py)", err)
	}
	store, err := weights.Open(filepath.Join(dir, name+".safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	m, err := Load(store, *cfg)
	if err != nil {
		t.Fatal(err)
	}
	x, err := tensor.LoadNpy(filepath.Join(dir, name+".input.npy"))
	if err != nil {
		t.Fatal(err)
	}
	return m, x
}

func checkGolden(t *testing.T, dir, name string) {
	m, x := loadFixture(t, dir, name)
	s := x.Shape()
	a := nn.NewArena(0)
	for _, out := range []string{"logits", "features"} {
		want, err := tensor.LoadNpy(filepath.Join(dir, name+"."+out+".npy"))
		if err != nil {
			t.Fatal(err)
		}
		a.Reset()
		in := nn.NewAct(x.Float32s(), s...)
		var got nn.Act
		if out == "logits" {
			got, err = m.Forward(a, in)
		} else {
			got, err = m.Features(a, in)
		}
		if err != nil {
			t.Fatal(err)
		}
		if g, w := got.Shape(), want.Shape(); !equalInts(g, w) {
			t.Fatalf("%s %s: shape %v, torchvision %v", name, out, g, w)
		}
		e := relErr(got.Data, want.Float32s())
		t.Logf("%s %s: rel err %.2e", name, out, e)
		if e > 1e-4 {
			t.Errorf("%s %s: rel err %.3e above 1e-4", name, out, e)
		}
	}
}

func equalInts(a, b []int) bool {
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

// TestGolden compares reduced-width torchvision models (same module names) with random
// weights and BatchNorm statistics against torchvision's outputs.
func TestGolden(t *testing.T) {
	for _, name := range []string{"resnet18_small", "resnet50_small", "resnet_cifar_small"} {
		t.Run(name, func(t *testing.T) { checkGolden(t, "testdata", name) })
	}
}

// TestGoldenLarge checks the full-size torchvision models; their fixtures are big, so
// they come from `make golden-vision-large` and the test skips without them.
func TestGoldenLarge(t *testing.T) {
	for _, name := range []string{"resnet18", "resnet50"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", "large")
			if _, err := os.Stat(filepath.Join(dir, name+".safetensors")); errors.Is(err, os.ErrNotExist) {
				t.Skip("no large fixtures: make golden-vision-large")
			}
			checkGolden(t, dir, name)
		})
	}
}

// TestMismatchListsEverything loads ResNet-18 weights as a ResNet-34 of another width
// and checks that one error names the missing, unexpected and wrong-shape tensors.
func TestMismatchListsEverything(t *testing.T) {
	store, err := weights.Open(filepath.Join("testdata", "resnet18_small.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	_, err = Load(store, Config{Architecture: "resnet34", Widths: []int{4, 8, 16, 64}, NumClasses: 7})
	var me *weights.MismatchError
	if !errors.As(err, &me) {
		t.Fatalf("error %v is not a *weights.MismatchError", err)
	}
	msg := err.Error()
	for _, want := range []string{"missing: layer1.2.conv1.weight", "missing: layer3.5.bn2.running_var",
		"wrong shape: layer4.0.conv1.weight", "wrong shape: fc.weight"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not mention %q:\n%s", want, msg)
		}
	}
	if len(me.Missing) < 10 || len(me.WrongShape) < 3 {
		t.Errorf("only %d missing and %d wrong-shape tensors reported:\n%s", len(me.Missing), len(me.WrongShape), msg)
	}
}

// TestShapesMatchTorchvision checks Shapes against the names and shapes of the
// reduced-width torchvision fixtures.
func TestShapesMatchTorchvision(t *testing.T) {
	for _, name := range []string{"resnet18_small", "resnet50_small", "resnet_cifar_small"} {
		cfg, err := ReadConfig(filepath.Join("testdata", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		st, err := weights.OpenSafetensors(filepath.Join("testdata", name+".safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		shapes, err := Shapes(*cfg)
		if err != nil {
			t.Fatal(err)
		}
		if len(shapes) != len(st.Names()) {
			t.Errorf("%s: %d shapes, file has %d tensors", name, len(shapes), len(st.Names()))
		}
		for _, n := range st.Names() {
			_, got, _ := st.Info(n)
			if want, ok := shapes[n]; !ok || !equalInts(got, want) {
				t.Errorf("%s: %s: file %v, Shapes %v", name, n, got, want)
			}
		}
		st.Close()
	}
}
