package wav2vec2

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/plexusml/plexus/core/nn/weights"
	"github.com/plexusml/plexus/core/tensor"
)

// tiny is a small random model for tests that need no reference.
func tiny(t testing.TB, mode string, preNorm bool) (*Model, map[string]*tensor.Tensor) {
	t.Helper()
	cfg := Config{ExtractorMode: mode, ExtractorConvLayerConfig: []ConvLayer{{16, 10, 5}, {16, 3, 2}, {16, 2, 2}},
		EncoderEmbedDim: 24, EncoderPosConvKernel: 8, EncoderPosConvGroups: 2, EncoderNumLayers: 2,
		EncoderNumHeads: 3, EncoderFFIntermFeatures: 32, EncoderLayerNormFirst: preNorm}
	cfg.setAux(29)
	w, err := RandomWeights(cfg, 7)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(weights.NewMapStore("tiny.safetensors", w), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m, w
}

func noise(n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64() * 0.2)
	}
	return x
}

func TestBindErrors(t *testing.T) {
	_, w := tiny(t, "group_norm", false)
	cfg := Config{ExtractorMode: "group_norm", ExtractorConvLayerConfig: []ConvLayer{{16, 10, 5}, {16, 3, 2}, {16, 2, 2}},
		EncoderEmbedDim: 24, EncoderPosConvKernel: 8, EncoderPosConvGroups: 2, EncoderNumLayers: 2,
		EncoderNumHeads: 3, EncoderFFIntermFeatures: 32}
	cfg.setAux(29)
	delete(w, "encoder.transformer.layers.1.final_layer_norm.weight")
	w["encoder.transformer.layers.0.attention.k_proj.weight"] = tensor.FromFloat32(make([]float32, 24*23), 24, 23)
	w["decoder.extra"] = tensor.FromFloat32(make([]float32, 3), 3)
	_, err := New(weights.NewMapStore("broken.safetensors", w), cfg)
	if err == nil {
		t.Fatal("no error for a broken weights file")
	}
	t.Log(err)
	for _, want := range []string{"encoder.transformer.layers.1.final_layer_norm.weight", "encoder.transformer.layers.0.attention.k_proj.weight",
		"decoder.extra", "broken.safetensors"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
	// The newer weight-norm names and a plain folded weight both bind.
	_, w = tiny(t, "group_norm", false)
	w[posPrefix+".parametrizations.weight.original0"] = w[posPrefix+".weight_g"]
	w[posPrefix+".parametrizations.weight.original1"] = w[posPrefix+".weight_v"]
	delete(w, posPrefix+".weight_g")
	delete(w, posPrefix+".weight_v")
	if _, err := New(weights.NewMapStore("new.safetensors", w), cfg); err != nil {
		t.Errorf("parametrizations names: %v", err)
	}
}

// TestFoldedPosConvWeight: a checkpoint whose weight norm was removed (a plain
// conv.weight) gives the same result as its weight_g/weight_v form.
func TestFoldedPosConvWeight(t *testing.T) {
	m, w := tiny(t, "layer_norm", true)
	g, v := w[posPrefix+".weight_g"].Float32s(), w[posPrefix+".weight_v"].Float32s()
	k := len(g)
	folded := make([]float32, len(v))
	for j := 0; j < k; j++ {
		var ss float64
		for i := j; i < len(v); i += k {
			ss += float64(v[i]) * float64(v[i])
		}
		for i := j; i < len(v); i += k {
			folded[i] = float32(float64(g[j]) * float64(v[i]) / math.Sqrt(ss))
		}
	}
	shape := w[posPrefix+".weight_v"].Shape()
	delete(w, posPrefix+".weight_g")
	delete(w, posPrefix+".weight_v")
	w[posPrefix+".weight"] = tensor.FromFloat32(folded, shape...)
	m2, err := New(weights.NewMapStore("folded.safetensors", w), m.Config)
	if err != nil {
		t.Fatal(err)
	}
	x := [][]float32{noise(3000, 1)}
	a, err := m.Emissions(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m2.Emissions(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	if e := relErr(b[0], a[0]); e > 1e-5 {
		t.Errorf("folded weight differs by %.3g", e)
	}
}

func TestEmissionsEdges(t *testing.T) {
	m, _ := tiny(t, "group_norm", false)
	ctx := context.Background()
	if res, err := m.Emissions(ctx, nil); err != nil || res != nil {
		t.Errorf("empty batch: %v, %v", res, err)
	}
	// Too short for one frame: an empty emission, and the neighbours are unaffected.
	long := noise(2000, 2)
	res, err := m.Emissions(ctx, [][]float32{nil, noise(20, 3), long})
	if err != nil {
		t.Fatal(err)
	}
	alone, err := m.Emissions(ctx, [][]float32{long})
	if err != nil {
		t.Fatal(err)
	}
	if len(res[0]) != 0 || len(res[1]) != 0 {
		t.Errorf("short inputs gave %d and %d values, want none", len(res[0]), len(res[1]))
	}
	if e := relErr(res[2], alone[0]); e > 1e-5 {
		t.Errorf("batched with empty items differs from alone by %.3g", e)
	}
	for _, v := range res[2] {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatal("non-finite emission")
		}
	}
	m.MaxSecs = 0.1
	if _, err := m.Emissions(ctx, [][]float32{noise(1601, 4)}); err == nil || !strings.Contains(err.Error(), "waveform 0") {
		t.Errorf("over-long input: %v", err)
	}
	m.MaxSecs = 120
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.Emissions(cctx, [][]float32{long}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	// Silence is a valid input (the group norm's variance is zero there).
	res, err = m.Emissions(ctx, [][]float32{make([]float32, 1000)})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range res[0] {
		if math.IsNaN(float64(v)) {
			t.Fatal("NaN on silence")
		}
	}
}

// TestNormalizeWaveform: with normalize_waveform, scaling the input changes nothing.
func TestNormalizeWaveform(t *testing.T) {
	m, w := tiny(t, "layer_norm", true)
	cfg := m.Config
	cfg.NormalizeWaveform = true
	m, err := New(weights.NewMapStore("tiny", w), cfg)
	if err != nil {
		t.Fatal(err)
	}
	x := noise(3000, 5)
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = 3*v + 0.5
	}
	res, err := m.Emissions(context.Background(), [][]float32{x, y})
	if err != nil {
		t.Fatal(err)
	}
	if e := relErr(res[1], res[0]); e > 1e-4 {
		t.Errorf("normalised emissions of a scaled input differ by %.3g", e)
	}
}

// TestConcurrentEmissions runs several goroutines on one model (run it with -race).
func TestConcurrentEmissions(t *testing.T) {
	m, _ := tiny(t, "group_norm", false)
	ctx := context.Background()
	inputs := [][]float32{noise(2500, 1), noise(1700, 2), noise(4000, 3)}
	want, err := m.Emissions(ctx, inputs)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 3; i++ {
				j := (g + i) % len(inputs)
				got, err := m.Emissions(ctx, [][]float32{inputs[j]})
				if err != nil {
					errs <- err
					return
				}
				if e := relErr(got[0], want[j]); e > 1e-5 {
					errs <- fmt.Errorf("goroutine %d input %d differs by %.3g", g, j, e)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
