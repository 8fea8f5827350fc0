// Command plexus-plugin-textstats is the template for a plexus model plugin: copy this
// directory, rename the model and replace Process. It counts words in text items and
// normalises float32 vectors, enough to show text fields, tensors, a config schema and
// per-item errors. See docs/writing-plugins.md.
package main

import (
	"context"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/plexusml/plexus/core/tensor"
	"github.com/plexusml/plexus/plugins/sdk"
)

// TextStats is the plugin: it describes itself and loads instances.
type TextStats struct{}

// Describe publishes the model, its tasks with their input and output contracts, the
// config schema and the resources an instance needs. plexus validate checks pipelines
// against it, and the SDK validates every Load's config against the schema.
func (TextStats) Describe() sdk.Description {
	return sdk.Description{
		Name:    "textstats",
		Version: "1.0.0",
		Models: []sdk.ModelInfo{{
			Name:        "textstats",
			Description: "word counts and vector normalisation",
			Tasks: []sdk.Task{
				{
					Name:        "count",
					Description: "count the words of at least min_length characters",
					Input: sdk.Contract{Modalities: []string{"text"}, Fields: []sdk.FieldSpec{
						{Name: "text", Kind: "string"},
					}},
					Output: sdk.Contract{Fields: []sdk.FieldSpec{
						{Name: "words", Kind: "int"},
						{Name: "chars", Kind: "int"},
					}},
				},
				{
					Name:        "normalize",
					Description: "scale a vector to unit length",
					Input: sdk.Contract{Fields: []sdk.FieldSpec{
						{Name: "x", Kind: "tensor", DType: "float32", Shape: []string{"N"}},
					}},
					Output: sdk.Contract{Fields: []sdk.FieldSpec{
						{Name: "y", Kind: "tensor", DType: "float32", Shape: []string{"N"}},
						{Name: "norm", Kind: "float"},
					}},
				},
			},
			Config: []sdk.ConfigField{
				{Name: "min_length", Type: "int", Default: int64(1), Description: "shortest word counted, in characters"},
			},
			Resources: sdk.Resources{Devices: []string{"cpu"}, Memory: 16 << 20},
			MaxBatch:  256,
		}},
	}
}

// Load prepares an instance. The config is already validated and has its defaults;
// this is where a real model reads its weights.
func (TextStats) Load(_ context.Context, req sdk.LoadRequest) (sdk.Instance, error) {
	return &instance{minLength: int(req.Config["min_length"].(int64))}, nil
}

type instance struct {
	minLength int
}

// Process handles one batch: one Result per item, in order. Items that break the
// task's input contract never get here; the SDK has already failed them.
func (m *instance) Process(_ context.Context, task string, items []sdk.Item) []sdk.Result {
	out := make([]sdk.Result, len(items))
	for i, it := range items {
		switch task {
		case "count":
			out[i] = m.count(it.Fields["text"].(string))
		case "normalize":
			out[i] = normalize(it.Fields["x"].(*tensor.Tensor))
		}
	}
	return out
}

func (m *instance) count(text string) sdk.Result {
	words := 0
	for _, w := range strings.Fields(text) {
		if utf8.RuneCountInString(w) >= m.minLength {
			words++
		}
	}
	return sdk.OK(map[string]sdk.Value{"words": int64(words), "chars": int64(utf8.RuneCountInString(text))})
}

func normalize(x *tensor.Tensor) sdk.Result {
	// x may live in shared memory reused after Process returns: the output is a new
	// tensor, never a view of x.
	xs := x.Contiguous().Float32s()
	var ss float64
	for _, v := range xs {
		ss += float64(v) * float64(v)
	}
	norm := math.Sqrt(ss)
	if norm == 0 {
		// A bad item fails alone and is dead-lettered; its neighbours still succeed.
		return sdk.Fail(sdk.BadItem("cannot normalise a zero vector"))
	}
	y := make([]float32, len(xs))
	for i, v := range xs {
		y[i] = float32(float64(v) / norm)
	}
	return sdk.OK(map[string]sdk.Value{"y": tensor.FromFloat32(y, len(y)), "norm": norm})
}

func main() { sdk.Serve(TextStats{}) }

var _ sdk.Plugin = TextStats{}
