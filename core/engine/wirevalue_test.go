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

// TestPluginItemModality: an item whose stage reads another stage's output through
// input: is sent as that output's kind (a transcript is text), otherwise as itself.
func TestPluginItemModality(t *testing.T) {
	rec := &Record{ID: "a", Modality: "audio", Payload: []byte("RIFF")}
	for _, tc := range []struct {
		explicit bool
		it       Item
		want     string
	}{
		{false, Item{Record: rec, Input: nil, Part: "audio"}, "audio"},
		{true, Item{Record: rec, Input: "seven three", InputName: "transcribe.text"}, "text"},
		{true, Item{Record: rec, Input: &media.Audio{Rate: 8000, Channels: 1}, InputName: "resample.audio"}, "audio"},
		{true, Item{Record: rec, Part: "audio"}, "audio"},
		{true, Item{Record: rec}, "audio"}, // nothing present: the contract check names it
	} {
		p := &pluginStage{explicit: tc.explicit}
		if got := p.modality(&tc.it); got != tc.want {
			t.Errorf("explicit %v, input %T from %q: modality %q, want %q", tc.explicit, tc.it.Input, tc.it.InputName, got, tc.want)
		}
	}
}
