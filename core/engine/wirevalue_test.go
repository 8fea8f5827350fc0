package engine

import (
	"bytes"
	"testing"

	"github.com/plexusml/plexus/core/media"
)

// TestWireValueAudio: decoded audio from a builtin (audio.resample) reaches a plugin
// as a float WAV that decodes back to the same samples, rate and channels.
func TestWireValueAudio(t *testing.T) {
	in := &media.Audio{Rate: 16000, Channels: 2, Samples: []float32{0.5, -0.25, 1e-3, 0.75, -1, 0.125}}
	v, err := wireValue(&Item{}, in, "audio")
	if err != nil {
		t.Fatal(err)
	}
	b, ok := v.([]byte)
	if !ok {
		t.Fatalf("wire value is a %T, want WAV bytes", v)
	}
	out, err := media.DecodeWAV(bytes.NewReader(b), media.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if out.Rate != in.Rate || out.Channels != in.Channels || len(out.Samples) != len(in.Samples) {
		t.Fatalf("decoded %d Hz ×%d, %d samples; want %d Hz ×%d, %d", out.Rate, out.Channels, len(out.Samples), in.Rate, in.Channels, len(in.Samples))
	}
	for i := range in.Samples {
		if out.Samples[i] != in.Samples[i] {
			t.Fatalf("sample %d: %v, want %v", i, out.Samples[i], in.Samples[i])
		}
	}
}
