package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plexusml/plexus/core/media"
	"github.com/plexusml/plexus/core/nn/weights"
	"github.com/plexusml/plexus/core/tensor"
	"github.com/plexusml/plexus/plugins/sdk"
	"github.com/plexusml/plexus/speech/wavenet"
)

// golden returns a WaveNet fixture of speech/wavenet and a config.json for it (with
// an audio front end added) in a temporary directory.
func golden(t *testing.T, name string, audio wavenet.AudioConfig) (string, string) {
	t.Helper()
	w := filepath.Join("..", "..", "speech", "wavenet", "testdata", name+".safetensors")
	st, err := weights.OpenSafetensors(w)
	if err != nil {
		t.Fatalf("%s: %v (regenerate with /usr/bin/python3 tools/golden/wavenet.py)", w, err)
	}
	defer st.Close()
	var cfg wavenet.Config
	if err := json.Unmarshal([]byte(st.Metadata()["config"]), &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Audio = audio
	b, _ := json.Marshal(cfg)
	dir := t.TempDir()
	c := filepath.Join(dir, "config.json")
	if err := os.WriteFile(c, b, 0o644); err != nil {
		t.Fatal(err)
	}
	// The model's parameters alone, as a trained checkpoint holds them.
	params := map[string]*tensor.Tensor{}
	for _, n := range st.Names() {
		if !strings.HasPrefix(n, "in.") && !strings.HasPrefix(n, "out.") {
			x, _ := st.Get(n)
			params[n] = x.Clone()
		}
	}
	pw := filepath.Join(dir, "model.safetensors")
	if err := weights.WriteSafetensors(pw, params, nil); err != nil {
		t.Fatal(err)
	}
	return pw, c
}

func load(t *testing.T, w, c string) sdk.Instance {
	t.Helper()
	inst, err := Speech{}.Load(context.Background(), sdk.LoadRequest{Model: "wavenet",
		Config: map[string]any{"weights": w, "config": c, "seed": int64(3), "temperature": 1.0, "seconds": 0.01, "max_seconds": 2.0}})
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

func TestVocode(t *testing.T) {
	w, c := golden(t, "mulaw_local", wavenet.AudioConfig{SampleRate: 8000, NFFT: 64, HopLength: 6, NMels: 8, LogOffset: 1e-5})
	inst := load(t, w, c)
	mel := make([]float32, 8*10)
	for i := range mel {
		mel[i] = float32(math.Sin(float64(i)))
	}
	var wav bytes.Buffer
	tone := make([]float32, 1600) // 0.1 s at 16 kHz: resampled to 8 kHz, 134 frames
	for i := range tone {
		tone[i] = float32(0.3 * math.Sin(float64(i)*0.1))
	}
	if err := media.EncodeWAV(&wav, tone, 16000, 1, 16); err != nil {
		t.Fatal(err)
	}
	items := []sdk.Item{
		{ID: "mel", Modality: "tensor", Fields: map[string]sdk.Value{"logmel": tensor.FromFloat32(mel, 8, 10)}},
		{ID: "wav", Modality: "audio", Fields: map[string]sdk.Value{"audio": wav.Bytes()}},
		{ID: "wrong", Modality: "tensor", Fields: map[string]sdk.Value{"logmel": tensor.FromFloat32(mel, 10, 8)}},
		{ID: "cut", Modality: "audio", Fields: map[string]sdk.Value{"audio": wav.Bytes()[:20]}},
		{ID: "long", Modality: "tensor", Fields: map[string]sdk.Value{"logmel": tensor.FromFloat32(make([]float32, 8*3000), 8, 3000)}},
	}
	res := inst.Process(context.Background(), "vocode", items)
	for i, want := range []int{60, 134 * 6} {
		r := res[i]
		if r.Err != nil {
			t.Fatalf("%s: %v", items[i].ID, r.Err)
		}
		a := r.Fields["audio"].(*tensor.Tensor)
		if a.Dim(0) != want || r.Fields["sample_rate"] != int64(8000) {
			t.Fatalf("%s: %v samples at %v Hz, want %d", items[i].ID, a.Shape(), r.Fields["sample_rate"], want)
		}
		for _, v := range a.Float32s() {
			if v < -1 || v > 1 || math.IsNaN(float64(v)) {
				t.Fatalf("%s: sample %g", items[i].ID, v)
			}
		}
	}
	for _, i := range []int{2, 3, 4} {
		if !errors.Is(res[i].Err, sdk.ErrBadItem) {
			t.Errorf("%s: %v, want a bad item", items[i].ID, res[i].Err)
		}
	}
	// Idempotent: the same item again gives the same audio (seeded by run seed and id).
	again := inst.Process(context.Background(), "vocode", items[:1])
	if !equal(again[0].Fields["audio"], res[0].Fields["audio"]) {
		t.Fatal("a retried item gave different audio")
	}
	if r := inst.Process(context.Background(), "generate", items[:1]); !errors.Is(r[0].Err, sdk.ErrBadItem) {
		t.Fatalf("generate on a vocoder: %v", r[0].Err)
	}
	if r := inst.Process(context.Background(), "transcribe", items[:1]); !errors.Is(r[0].Err, sdk.ErrBadItem) {
		t.Fatalf("unknown task: %v", r[0].Err)
	}
}

func equal(a, b sdk.Value) bool {
	x, y := a.(*tensor.Tensor).Float32s(), b.(*tensor.Tensor).Float32s()
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}

func TestGenerateSpeakers(t *testing.T) {
	w, c := golden(t, "mol_uncond", wavenet.AudioConfig{SampleRate: 8000})
	inst := load(t, w, c)
	res := inst.Process(context.Background(), "generate", []sdk.Item{
		{ID: "a", Fields: map[string]sdk.Value{}},
		{ID: "b", Fields: map[string]sdk.Value{"seconds": 0.02}},
		{ID: "c", Fields: map[string]sdk.Value{"seconds": 100.0}},
	})
	if res[0].Err != nil || res[1].Err != nil {
		t.Fatal(res[0].Err, res[1].Err)
	}
	if n := res[0].Fields["audio"].(*tensor.Tensor).Dim(0); n != 80 {
		t.Fatalf("%d samples, want 80", n)
	}
	if n := res[1].Fields["audio"].(*tensor.Tensor).Dim(0); n != 160 {
		t.Fatalf("%d samples, want 160", n)
	}
	if !errors.Is(res[2].Err, sdk.ErrBadItem) {
		t.Fatalf("100 s: %v", res[2].Err)
	}
	w, c = golden(t, "mulaw_global_k3", wavenet.AudioConfig{SampleRate: 8000, NFFT: 32, HopLength: 4, NMels: 6})
	inst = load(t, w, c)
	mel := tensor.FromFloat32(make([]float32, 6*5), 6, 5)
	res = inst.Process(context.Background(), "vocode", []sdk.Item{
		{ID: "s1", Fields: map[string]sdk.Value{"logmel": mel, "speaker": int64(1)}},
		{ID: "s9", Fields: map[string]sdk.Value{"logmel": mel, "speaker": int64(9)}},
	})
	if res[0].Err != nil || !errors.Is(res[1].Err, sdk.ErrBadItem) {
		t.Fatalf("speakers: %v, %v", res[0].Err, res[1].Err)
	}
}

func TestDescribeAndUnknownModel(t *testing.T) {
	d := Speech{}.Describe()
	if len(d.Models) != 3 || d.Models[0].Name != "wavenet" || len(d.Models[0].Tasks) != 2 {
		t.Fatalf("%+v", d)
	}
	if _, err := (Speech{}).Load(context.Background(), sdk.LoadRequest{Model: "tacotron"}); err == nil {
		t.Fatal("unknown model loaded")
	}
}

// TestShippedVocoder loads models/wavenet-8k and resynthesises a held-out recording
// from its own log-mel frames.
func TestShippedVocoder(t *testing.T) {
	w := filepath.Join("..", "..", "models", "wavenet-8k.safetensors")
	inst, err := Speech{}.Load(context.Background(), sdk.LoadRequest{Model: "wavenet",
		Config: map[string]any{"weights": w, "seed": int64(1)}})
	if err != nil {
		t.Fatalf("%v (the shipped vocoder: see models/README.md)", err)
	}
	wav, err := os.ReadFile(filepath.Join("..", "..", "models", "samples", "s000-te0.orig.wav"))
	if err != nil {
		t.Fatal(err)
	}
	res := inst.Process(context.Background(), "vocode", []sdk.Item{{ID: "held-out", Modality: "audio", Fields: map[string]sdk.Value{"audio": wav}}})
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	a := res[0].Fields["audio"].(*tensor.Tensor)
	if a.Dim(0) < 16000 || res[0].Fields["sample_rate"] != int64(8000) {
		t.Fatalf("%v samples at %v Hz", a.Shape(), res[0].Fields["sample_rate"])
	}
	var e float64
	for _, v := range a.Float32s() {
		e += float64(v) * float64(v)
	}
	if rms := math.Sqrt(e / float64(a.Dim(0))); rms < 0.01 || rms > 0.5 {
		t.Fatalf("output RMS %.3f: silence or noise, not speech", rms)
	}
}
