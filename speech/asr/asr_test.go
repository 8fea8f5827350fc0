package asr

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/plexusml/plexus/core/nn/weights"
	"github.com/plexusml/plexus/core/tensor"
	"github.com/plexusml/plexus/speech"
	"github.com/plexusml/plexus/speech/ctc"
)

var _ ctc.Acoustic = (*Model)(nil)

// loadGolden opens the fixture of tools/golden/asr.py and binds its model. A missing
// fixture fails: regenerate with /usr/bin/python3 tools/golden/asr.py.
func loadGolden(t *testing.T) (*Model, *weights.Safetensors) {
	t.Helper()
	path := filepath.Join("testdata", "tiny.safetensors")
	st, err := weights.OpenSafetensors(path)
	if err != nil {
		t.Fatalf("fixture %s: %v (regenerate with /usr/bin/python3 tools/golden/asr.py)", path, err)
	}
	t.Cleanup(func() { st.Close() })
	cfg, err := ParseConfig(path, []byte(st.Metadata()["config"]))
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(weights.NewBinder(st, weights.Ignore("in.*", "out.*"), weights.CopyData()), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m, st
}

func get(t *testing.T, st *weights.Safetensors, name string) []float32 {
	t.Helper()
	x, ok := st.Get(name)
	if !ok {
		t.Fatalf("fixture has no %s", name)
	}
	return slices.Clone(x.ToFloat32().Contiguous().Float32s())
}

func relErr(a, ref []float32) float64 {
	var d, m float64
	for i := range ref {
		d = math.Max(d, math.Abs(float64(a[i])-float64(ref[i])))
		m = math.Max(m, math.Abs(float64(ref[i])))
	}
	return d / m
}

// TestGolden: emissions against the PyTorch reference, as the reference's padded batch
// and each waveform alone (padding must not change a result).
func TestGolden(t *testing.T) {
	m, st := loadGolden(t)
	var wavs, refs [][]float32
	for i := 0; i < 3; i++ {
		wavs = append(wavs, get(t, st, "in.wav."+string(rune('0'+i))))
		refs = append(refs, get(t, st, "out.em."+string(rune('0'+i))))
	}
	check := func(what string, got [][]float32, idx []int) {
		for j, i := range idx {
			if len(got[j]) != len(refs[i]) {
				t.Fatalf("%s item %d: %d values, reference %d", what, i, len(got[j]), len(refs[i]))
			}
			if e := relErr(got[j], refs[i]); e > 1e-4 {
				t.Errorf("%s item %d: relative error %.2g", what, i, e)
			} else {
				t.Logf("%s item %d: relative error %.2g", what, i, e)
			}
		}
	}
	got, err := m.Emissions(context.Background(), wavs)
	if err != nil {
		t.Fatal(err)
	}
	check("batch", got, []int{0, 1, 2})
	for i := range wavs {
		one, err := m.Emissions(context.Background(), wavs[i:i+1])
		if err != nil {
			t.Fatal(err)
		}
		check("alone", one, []int{i})
	}
	// Reversed order: a different padding of every item.
	rev, err := m.Emissions(context.Background(), [][]float32{wavs[2], wavs[1], wavs[0]})
	if err != nil {
		t.Fatal(err)
	}
	check("reversed", rev, []int{2, 1, 0})
	for i, w := range wavs {
		if n := len(got[i]) / len(m.Labels()); n != m.Config.OutFrames(len(w)/m.Config.HopLength+1) {
			t.Errorf("item %d: %d frames for %d samples", i, n, len(w))
		}
	}
}

func TestAcousticContract(t *testing.T) {
	cfg := DefaultConfig()
	if cfg.FrameSamples() != 640 || cfg.SampleRate != 16000 || len(cfg.Labels) != 29 || cfg.Labels[0] != "-" || cfg.Labels[1] != " " {
		t.Fatalf("%+v", cfg)
	}
	cfg.Subsampling = 2
	if cfg.FrameSamples() != 320 {
		t.Fatal(cfg.FrameSamples())
	}
}

// TestOpenRandomWeights writes random weights and a config, opens them, and checks
// that a config that disagrees with the weights is refused.
func TestOpenRandomWeights(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Layers, cfg.DModel, cfg.FFDim = 1, 16, 32
	w, err := RandomWeights(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	wp := filepath.Join(dir, "m.safetensors")
	if err := weights.WriteSafetensors(wp, w, nil); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(cfg)
	os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644)
	m, err := Open(wp, "")
	if err != nil {
		t.Fatal(err)
	}
	em, err := m.Emissions(context.Background(), [][]float32{make([]float32, 8000), make([]float32, 100)})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range em {
		for _, v := range e {
			if math.IsNaN(float64(v)) {
				t.Fatal("NaN emission on silence")
			}
		}
	}
	if _, err := m.Emissions(context.Background(), [][]float32{{}}); err == nil {
		t.Error("an empty waveform was accepted")
	}
	bad := cfg
	bad.FFDim = 33
	b, _ = json.Marshal(bad)
	os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644)
	if _, err := Open(wp, ""); err == nil {
		t.Error("a config with the wrong ff_dim was accepted")
	}
	delete(w, "ctc.bias")
	w["extra"] = tensor.FromFloat32([]float32{1}, 1)
	weights.WriteSafetensors(wp, w, nil)
	b, _ = json.Marshal(cfg)
	os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644)
	if _, err := Open(wp, ""); err == nil {
		t.Error("weights with a missing and an extra tensor were accepted")
	}
}

func FuzzParseConfig(f *testing.F) {
	b, _ := json.Marshal(DefaultConfig())
	f.Add(b)
	f.Add([]byte(`{"architecture":"asr-ctc","sample_rate":16000,"n_fft":400,"hop_length":160,"n_mels":80,"d_model":8,"heads":3,"ff_dim":4,"layers":1}`))
	f.Add([]byte(`{"subsampling":3}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig("fuzz", b)
		if err != nil {
			return
		}
		if c.DModel%c.Heads != 0 || len(c.Labels) < 2 || c.FrameSamples() <= 0 {
			t.Fatalf("accepted %+v", c)
		}
	})
}

// TestFeaturesMatchLogMel: the GEMM front end equals speech.LogMel (float64 FFT), then
// normalised, on a chirp with a near-silent start.
func TestFeaturesMatchLogMel(t *testing.T) {
	cfg := DefaultConfig()
	x := make([]float32, 16000)
	for i := range x {
		tt := float64(i) / 16000
		x[i] = float32(0.3 * math.Sin(2*math.Pi*200*tt*(1+tt)))
		if i < 3000 {
			x[i] *= 0.001
		}
	}
	got, T, err := cfg.Features(x)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := speech.LogMel(x, cfg.FrontEnd())
	if err != nil {
		t.Fatal(err)
	}
	if T != ref.Frames {
		t.Fatalf("%d frames, LogMel %d", T, ref.Frames)
	}
	want := make([]float32, T*cfg.NMels)
	for m := 0; m < cfg.NMels; m++ {
		row := ref.Data[m*T : (m+1)*T]
		var s, ss float64
		for _, v := range row {
			s += float64(v)
		}
		mean := s / float64(T)
		for _, v := range row {
			ss += (float64(v) - mean) * (float64(v) - mean)
		}
		inv := 1 / math.Sqrt(ss/float64(T)+normEps)
		for tt, v := range row {
			want[tt*cfg.NMels+m] = float32((float64(v) - mean) * inv)
		}
	}
	if e := relErr(got, want); e > 1e-4 {
		t.Errorf("relative error %.2g", e)
	} else {
		t.Logf("relative error %.2g", e)
	}
}
