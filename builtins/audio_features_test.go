package builtins

import (
	"bytes"
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/plexusml/plexus/core/media"
	"github.com/plexusml/plexus/core/nn/weights"
	"github.com/plexusml/plexus/core/tensor"
)

// TestLogMelStageGolden runs audio.logmel on the espeak-ng utterance of the speech
// golden set (written as a float WAV) and compares with torchaudio's log-mel.
func TestLogMelStageGolden(t *testing.T) {
	path := filepath.Join("..", "speech", "testdata", "melspec_speech16_htk.safetensors")
	st, err := weights.OpenSafetensors(path)
	if err != nil {
		t.Fatalf("%s: %v (regenerate with /usr/bin/python3 tools/golden/speech.py)", path, err)
	}
	defer st.Close()
	in, _ := st.Get("in.audio")
	ref, _ := st.Get("out.logmel")
	var buf bytes.Buffer
	if err := media.EncodeWAV(&buf, in.Float32s(), 16000, 1, 32); err != nil {
		t.Fatal(err)
	}
	s, err := newLogMel(context.Background(), spec("audio.logmel", map[string]any{"n_fft": 400, "hop_length": 160, "n_mels": 80}))
	if err != nil {
		t.Fatal(err)
	}
	r := run(t, s, payloadItem("audio", buf.Bytes()))
	if r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	got := field(r[0], "logmel").(*tensor.Tensor)
	if got.Dim(0) != ref.Dim(0) || got.Dim(1) != ref.Dim(1) || field(r[0], "frames") != ref.Dim(1) {
		t.Fatalf("shape %v, torchaudio %v", got.Shape(), ref.Shape())
	}
	var d, m float64
	for i, v := range ref.Float32s() {
		d = math.Max(d, math.Abs(float64(got.Float32s()[i]-v)))
		m = math.Max(m, math.Abs(float64(v)))
	}
	if d/m > 1e-4 {
		t.Fatalf("rel err %.3g", d/m)
	}
}

func TestFeatureStagesConfigAndErrors(t *testing.T) {
	for _, c := range []map[string]any{
		{"log": "log2"}, {"mel_scale": "bark"}, {"n_fft": 1}, {"rate": 10}, {"bogus": 1},
	} {
		if _, err := newLogMel(context.Background(), spec("audio.logmel", c)); err == nil {
			t.Errorf("config %v accepted", c)
		}
	}
	if _, err := newMFCC(context.Background(), spec("audio.mfcc", map[string]any{"n_mfcc": 200, "n_mels": 40})); err == nil {
		t.Error("more coefficients than mels accepted")
	}
	s, err := newMFCC(context.Background(), spec("audio.mfcc", map[string]any{"rate": 8000, "n_mfcc": 13, "n_mels": 40, "n_fft": 256, "hop_length": 80}))
	if err != nil {
		t.Fatal(err)
	}
	// 0.5 s at 16 kHz is resampled to 8 kHz first: 4000 samples, 51 centred frames.
	var buf bytes.Buffer
	x := make([]float32, 8000)
	for i := range x {
		x[i] = float32(0.3 * math.Sin(float64(i)*0.2))
	}
	if err := media.EncodeWAV(&buf, x, 16000, 1, 16); err != nil {
		t.Fatal(err)
	}
	r := run(t, s, payloadItem("audio", buf.Bytes()), payloadItem("audio", []byte("RIFF....WAVE")))
	if r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	if m := field(r[0], "mfcc").(*tensor.Tensor); m.Dim(0) != 13 || m.Dim(1) != 51 || field(r[0], "sample_rate") != 8000 {
		t.Fatalf("mfcc %v at %v Hz", m.Shape(), field(r[0], "sample_rate"))
	}
	if r[1].Err == nil {
		t.Fatal("a broken WAV gave no error")
	}
}
