package lstm

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/plexusml/plexus/core/nn"
	"github.com/plexusml/plexus/core/tensor"
)

func load(t *testing.T, name string) *tensor.Tensor {
	t.Helper()
	x, err := tensor.LoadNpy(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("%v (regenerate with /usr/bin/python3 tools/golden/nlp.py)", err)
	}
	return x
}

func relErr(got, want []float32) float64 {
	var d, m float64
	for i := range want {
		d = math.Max(d, math.Abs(float64(got[i])-float64(want[i])))
		m = math.Max(m, math.Abs(float64(want[i])))
	}
	return d / m
}

func loadGPT3(t *testing.T) *Model {
	t.Helper()
	m, err := Load("testdata/gpt3.safetensors", "testdata/gpt3.config.json")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestGoldenLogits compares with PyTorch's GPT3 (two layers, random weights and
// biases): one call over the whole batch, then two calls with the state carried.
func TestGoldenLogits(t *testing.T) {
	m := loadGPT3(t)
	if m.Config.NumLayers != 2 || m.Config.HiddenSize != 24 || m.Config.VocabSize != 37 {
		t.Fatalf("config from weights: %+v", m.Config)
	}
	ids := load(t, "gpt3.ids.npy").Int64s()
	B, T := 3, 9
	logits, err := m.Forward(nil, ids, B, T, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e := relErr(logits.Data, load(t, "gpt3.logits.npy").Float32s()); e > 1e-4 {
		t.Errorf("one call: rel err %.3g", e)
	}
	st := m.NewState(B)
	part := func(from, to int) []int64 {
		var p []int64
		for b := 0; b < B; b++ {
			p = append(p, ids[b*T+from:b*T+to]...)
		}
		return p
	}
	a := nn.NewArena(0)
	la, err := m.Forward(a, part(0, 5), B, 5, st)
	if err != nil {
		t.Fatal(err)
	}
	if e := relErr(la.Data, load(t, "gpt3.logits_a.npy").Float32s()); e > 1e-4 {
		t.Errorf("first call: rel err %.3g", e)
	}
	a.Reset()
	lb, err := m.Forward(a, part(5, 9), B, 4, st)
	if err != nil {
		t.Fatal(err)
	}
	if e := relErr(lb.Data, load(t, "gpt3.logits_b.npy").Float32s()); e > 1e-4 {
		t.Errorf("second call (state carried): rel err %.3g", e)
	}
	if e := relErr(st.H, load(t, "gpt3.h_n.npy").Float32s()); e > 1e-4 {
		t.Errorf("h_n: rel err %.3g", e)
	}
	if e := relErr(st.C, load(t, "gpt3.c_n.npy").Float32s()); e > 1e-4 {
		t.Errorf("c_n: rel err %.3g", e)
	}
}
