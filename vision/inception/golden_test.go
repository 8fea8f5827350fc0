package inception

import (
	"errors"
	"math"
	"os"
	"path/filepath"
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

// TestGolden compares a reduced-width torchvision Inception-v3 (same module names,
// transform_input on) with random
// weights and BatchNorm statistics against torchvision's outputs.
func TestGolden(t *testing.T) {
	for _, name := range []string{"inception_v3_small"} {
		t.Run(name, func(t *testing.T) { checkGolden(t, "testdata", name) })
	}
}

// TestGoldenLarge checks the full-size torchvision models; their fixtures are big, so
// they come from `make golden-vision-large` and the test skips without them.
func TestGoldenLarge(t *testing.T) {
	for _, name := range []string{"inception_v3"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", "large")
			if _, err := os.Stat(filepath.Join(dir, name+".safetensors")); errors.Is(err, os.ErrNotExist) {
				t.Skip("no large fixtures: make golden-vision-large")
			}
			checkGolden(t, dir, name)
		})
	}
}

// TestShapesLoad checks that the full-size shapes load: every name and channel count of
// Shapes is what the builder asks for.
func TestShapesLoad(t *testing.T) {
	shapes := Shapes(10)
	m := map[string]*tensor.Tensor{}
	for n, s := range shapes {
		if len(s) == 0 {
			m[n] = tensor.New(tensor.Int64)
			continue
		}
		m[n] = tensor.New(tensor.Float32, s...)
	}
	if _, err := Load(weights.NewMapStore("", m), Config{NumClasses: 10}); err != nil {
		t.Fatal(err)
	}
}
