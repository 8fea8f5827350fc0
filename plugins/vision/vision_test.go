package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plexusml/plexus/core/tensor"
	"github.com/plexusml/plexus/plugins/sdk"
)

// Test the plugin in-process: Load and Process are plain Go.
func TestClassifyAndEmbed(t *testing.T) {
	w := filepath.Join("..", "..", "vision", "resnet", "testdata", "resnet_cifar_small.safetensors")
	inst, err := Vision{}.Load(context.Background(), sdk.LoadRequest{Model: "resnet",
		Config: map[string]any{"weights": w, "top_k": int64(3), "max_pixels": int64(1 << 20)}})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.(*instance).Close()
	photo, err := os.ReadFile(filepath.Join("..", "..", "vision", "testdata", "gopher.jpeg"))
	if err != nil {
		t.Fatal(err)
	}
	good := make([]float32, 28*28)
	pixels, err := tensor.FromBytes(tensor.Uint8, []int{30, 40, 3}, make([]byte, 30*40*3))
	if err != nil {
		t.Fatal(err)
	}
	items := []sdk.Item{
		{ID: "photo", Modality: "image", Fields: map[string]sdk.Value{"image": photo}},
		{ID: "cut", Modality: "image", Fields: map[string]sdk.Value{"image": photo[:400]}},
		{ID: "t", Modality: "tensor", Fields: map[string]sdk.Value{"tensor": tensor.FromFloat32(good, 1, 28, 28)}},
		{ID: "wrong", Modality: "tensor", Fields: map[string]sdk.Value{"tensor": tensor.FromFloat32(good, 1, 14, 56)}},
		{ID: "empty", Modality: "image", Fields: map[string]sdk.Value{}},
		{ID: "pixels", Modality: "image", Fields: map[string]sdk.Value{"image": pixels}},
	}
	res := inst.Process(context.Background(), "classify", items)
	for _, i := range []int{0, 2, 5} {
		r := res[i]
		if r.Err != nil {
			t.Fatalf("%s: %v", items[i].ID, r.Err)
		}
		if l := r.Fields["labels"].([]string); len(l) != 3 || l[0] != r.Fields["label"] || !strings.HasPrefix(l[0], "class ") {
			t.Errorf("%s: labels %v", items[i].ID, l)
		}
		if s := r.Fields["scores"].([]float64); s[0] < s[1] || s[1] < s[2] || s[0] > 1 {
			t.Errorf("%s: scores %v", items[i].ID, s)
		}
	}
	for _, i := range []int{1, 3, 4} {
		if !errors.Is(res[i].Err, sdk.ErrBadItem) || !strings.Contains(res[i].Err.Error(), items[i].ID) {
			t.Errorf("%s: error %v should be a bad item naming it", items[i].ID, res[i].Err)
		}
	}
	res = inst.Process(context.Background(), "embed", items[:1])
	if e := res[0].Fields["embedding"].(*tensor.Tensor); res[0].Err != nil || e.Dim(0) != 16 {
		t.Fatalf("embed: %+v", res[0])
	}
	res = inst.Process(context.Background(), "generate", items[:1])
	if !errors.Is(res[0].Err, sdk.ErrBadItem) {
		t.Fatalf("unknown task: %v", res[0].Err)
	}
}

func TestLoadReportsMismatch(t *testing.T) {
	w := filepath.Join("..", "..", "vision", "resnet", "testdata", "resnet18_small.safetensors")
	_, err := Vision{}.Load(context.Background(), sdk.LoadRequest{Model: "resnet",
		Config: map[string]any{"weights": w, "config": filepath.Join("..", "..", "vision", "resnet", "testdata", "resnet50_small.json")}})
	if err == nil || !strings.Contains(err.Error(), "missing: layer1.0.conv3.weight") {
		t.Fatalf("err = %v", err)
	}
}
