package wav2vec2_test

import (
	"context"
	"fmt"
	"math"

	"github.com/plexusml/plexus/speech/wav2vec2"
)

// Open a torchaudio-compatible model (weights as saved from state_dict(), config.json
// with wav2vec2_model's arguments) and compute CTC emissions for two waveforms of
// different lengths in one batch.
func ExampleOpen() {
	m, err := wav2vec2.Open("testdata/gn_post.safetensors", "testdata/gn_post.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	wavs := [][]float32{make([]float32, 16000), make([]float32, 8000)} // 1 s and 0.5 s at 16 kHz
	for i := range wavs[0] {
		wavs[0][i] = float32(0.3 * math.Sin(2*math.Pi*220*float64(i)/16000))
	}
	em, err := m.Emissions(context.Background(), wavs)
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, e := range em {
		fmt.Printf("waveform %d: %d frames × %d labels\n", i, len(e)/len(m.Labels()), len(m.Labels()))
	}
	fmt.Println("labels:", m.Labels()[:4], "samples per frame:", m.FrameSamples())
	// Output:
	// waveform 0: 799 frames × 29 labels
	// waveform 1: 399 frames × 29 labels
	// labels: [- | E T] samples per frame: 20
}
