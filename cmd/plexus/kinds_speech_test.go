package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plexusml/plexus/core/media"
	"github.com/plexusml/plexus/core/nn/weights"
	"github.com/plexusml/plexus/core/tensor"
	"github.com/plexusml/plexus/speech/wavenet"
)

// TestWaveNetPredict vocodes a .npy of log-mel frames and a WAV through the predict
// registry's wavenet family, with a golden fixture's weights.
func TestWaveNetPredict(t *testing.T) {
	src := filepath.Join("..", "..", "speech", "wavenet", "testdata", "mulaw_local.safetensors")
	st, err := weights.OpenSafetensors(src)
	if err != nil {
		t.Fatalf("%s: %v (regenerate with /usr/bin/python3 tools/golden/wavenet.py)", src, err)
	}
	defer st.Close()
	dir := t.TempDir()
	params := map[string]*tensor.Tensor{}
	for _, n := range st.Names() {
		if !strings.HasPrefix(n, "in.") && !strings.HasPrefix(n, "out.") {
			x, _ := st.Get(n)
			params[n] = x.Clone()
		}
	}
	w := filepath.Join(dir, "wn.safetensors")
	if err := weights.WriteSafetensors(w, params, nil); err != nil {
		t.Fatal(err)
	}
	var cfg wavenet.Config
	json.Unmarshal([]byte(st.Metadata()["config"]), &cfg)
	cfg.Audio = wavenet.AudioConfig{SampleRate: 8000, NFFT: 64, HopLength: 6, NMels: 8}
	b, _ := json.Marshal(cfg)
	os.WriteFile(filepath.Join(dir, "wn.json"), b, 0o644)

	var fam *predictFamily
	for i := range predictModels {
		if predictModels[i].accepts("wavenet") {
			fam = &predictModels[i]
		}
	}
	if fam == nil {
		t.Fatal("wavenet is not registered with predict")
	}
	p, err := fam.open("wavenet", w, "")
	if err != nil {
		t.Fatal(err)
	}
	mel := filepath.Join(dir, "mel.npy")
	if err := tensor.SaveNpy(mel, tensor.FromFloat32(make([]float32, 2*8*5), 2, 8, 5)); err != nil {
		t.Fatal(err)
	}
	wav := filepath.Join(dir, "a.wav")
	f, _ := os.Create(wav)
	media.EncodeWAV(f, make([]float32, 800), 8000, 1, 16)
	f.Close()
	in, err := readPredictInputs([]string{mel, wav})
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Predict(context.Background(), in, predictOptions{Limits: media.DefaultLimits()})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != 2 || res.Items[0].Err != nil || res.Items[1].Err != nil {
		t.Fatalf("%+v", res.Items)
	}
	if len(res.Raw) != 3 || res.Raw["audio.0"].Shape[0] != 30 || res.Raw["audio.2"].Shape[0] != (800/6+1)*6 {
		t.Fatalf("raw outputs %v", len(res.Raw))
	}
	for _, out := range []string{"mel.0.wavenet.wav", "mel.1.wavenet.wav", "a.wavenet.wav"} {
		if _, err := os.Stat(filepath.Join(dir, out)); err != nil {
			t.Error(err)
		}
	}
}
