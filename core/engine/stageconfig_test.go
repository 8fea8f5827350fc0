package engine

import (
	"reflect"
	"testing"

	"github.com/plexusml/plexus/core/pipeline"
	"github.com/plexusml/plexus/core/plugin"
)

func TestStageConfig(t *testing.T) {
	takes := &plugin.ModelInfo{Config: []plugin.ConfigField{{Name: "weights"}, {Name: "top_k"}}}
	ignores := &plugin.ModelInfo{Config: []plugin.ConfigField{{Name: "top_k"}}}
	tests := []struct {
		name  string
		st    pipeline.Stage
		model *plugin.ModelInfo
		want  map[string]any
	}{
		{"stage weights passed", pipeline.Stage{Weights: "m.safetensors", Config: map[string]any{"top_k": 3}}, takes,
			map[string]any{"top_k": 3, "weights": "m.safetensors"}},
		{"config weights win", pipeline.Stage{Weights: "a", Config: map[string]any{"weights": "b"}}, takes,
			map[string]any{"weights": "b"}},
		{"model without weights field", pipeline.Stage{Weights: "a", Config: map[string]any{"top_k": 1}}, ignores,
			map[string]any{"top_k": 1}},
		{"no stage weights", pipeline.Stage{Config: map[string]any{"top_k": 1}}, takes, map[string]any{"top_k": 1}},
	}
	for _, tc := range tests {
		st := tc.st
		if got := StageConfig(&st, tc.model); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
		if _, ok := st.Config["weights"]; ok && tc.name == "stage weights passed" {
			t.Errorf("%s: the stage's own config was modified", tc.name)
		}
	}
}

// TestFieldsByNameBeforeFallback: an audio item sent to a contract (logmel, audio)
// fills audio from its payload and leaves logmel unset, instead of putting the
// recording's bytes into logmel, the contract's first field.
func TestFieldsByNameBeforeFallback(t *testing.T) {
	rec := &Record{ID: "a.wav", Modality: "audio", Payload: []byte("RIFF....WAVE")}
	it := &Item{Record: rec, InputName: "audio", Part: "audio"}
	p := &pluginStage{inputs: []plugin.FieldSpec{{Name: "logmel", Optional: true}, {Name: "audio", Optional: true}}}
	got, err := p.fields(it)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got["logmel"]; ok {
		t.Fatalf("logmel filled from the payload: %v", got)
	}
	if b, ok := got["audio"].([]byte); !ok || string(b) != "RIFF....WAVE" {
		t.Fatalf("audio = %#v", got["audio"])
	}
	// With no field of the contract present by name, the item's input feeds the first.
	p = &pluginStage{inputs: []plugin.FieldSpec{{Name: "image"}}}
	got, err = p.fields(&Item{Record: &Record{ID: "x", Modality: "audio", Payload: []byte("xy")}, InputName: "audio", Part: "audio"})
	if err != nil || got["image"] == nil {
		t.Fatalf("fallback: %v %v", got, err)
	}
}
