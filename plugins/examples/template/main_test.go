package main

import (
	"context"
	"errors"
	"testing"

	"github.com/plexusml/plexus/core/tensor"
	"github.com/plexusml/plexus/plugins/sdk"
)

// Test the model in-process, without a plugin process: Load and Process are plain Go.
// core/plugin's tests run this template as a real plugin process too.
func TestTextStats(t *testing.T) {
	inst, err := TextStats{}.Load(context.Background(), sdk.LoadRequest{Model: "textstats", Config: map[string]any{"min_length": int64(3)}})
	if err != nil {
		t.Fatal(err)
	}
	res := inst.Process(context.Background(), "count", []sdk.Item{{ID: "a", Fields: map[string]sdk.Value{"text": "a big old café"}}})
	if res[0].Err != nil || res[0].Fields["words"] != int64(3) || res[0].Fields["chars"] != int64(14) {
		t.Fatalf("count: %+v", res[0])
	}
	res = inst.Process(context.Background(), "normalize", []sdk.Item{
		{ID: "v", Fields: map[string]sdk.Value{"x": tensor.FromFloat32([]float32{3, 4}, 2)}},
		{ID: "z", Fields: map[string]sdk.Value{"x": tensor.FromFloat32([]float32{0, 0}, 2)}},
	})
	if y := res[0].Fields["y"].(*tensor.Tensor).Float32s(); res[0].Fields["norm"] != 5.0 || y[0] != 0.6 || y[1] != 0.8 {
		t.Fatalf("normalize: %+v", res[0])
	}
	if !errors.Is(res[1].Err, sdk.ErrBadItem) {
		t.Fatalf("zero vector: %v", res[1].Err)
	}
}
