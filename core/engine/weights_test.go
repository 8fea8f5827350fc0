package engine

import (
	"reflect"
	"testing"

	"github.com/plexusml/plexus/core/pipeline"
	"github.com/plexusml/plexus/core/plugin"
)

func TestWithWeights(t *testing.T) {
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
		if got := withWeights(&st, tc.model); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
		if _, ok := st.Config["weights"]; ok && tc.name == "stage weights passed" {
			t.Errorf("%s: the stage's own config was modified", tc.name)
		}
	}
}
