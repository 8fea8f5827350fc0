package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/plexusml/plexus/core/plugin"
)

// TestAsPluginProcess builds the plugin binary and drives it through the real host:
// the handshake, config validation against the published schema, the wire encoding of
// images in and labels, scores and embeddings out, and a bad item failing alone.
func TestAsPluginProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin binary")
	}
	bin := filepath.Join(t.TempDir(), "plexus-plugin-vision")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	h := plugin.NewHost(plugin.HostOptions{SkipPATH: true, Logger: hclog.NewNullLogger()})
	defer h.Close()
	h.Add(plugin.Found{Name: "vision", Path: bin})
	ctx := context.Background()
	w, err := filepath.Abs(filepath.Join("..", "..", "vision", "resnet", "testdata", "resnet_cifar_small.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	inst, err := h.Instance(ctx, "vision", "resnet", map[string]any{"weights": w, "top_k": 2}, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	photo, err := os.ReadFile(filepath.Join("..", "..", "vision", "testdata", "gopher.jpeg"))
	if err != nil {
		t.Fatal(err)
	}
	res := inst.Process(ctx, "classify", []plugin.Item{
		{ID: "ok", Modality: "image", Fields: map[string]plugin.Value{"image": photo}},
		{ID: "bad", Modality: "image", Fields: map[string]plugin.Value{"image": []byte("GIF89a...")}},
	})
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	if l, ok := res[0].Fields["labels"].([]string); !ok || len(l) != 2 || l[0] != res[0].Fields["label"] {
		t.Errorf("labels %#v, label %#v", res[0].Fields["labels"], res[0].Fields["label"])
	}
	if !errors.Is(res[1].Err, plugin.ErrBadItem) {
		t.Errorf("bad image: %v", res[1].Err)
	}
	res = inst.Process(ctx, "embed", []plugin.Item{{ID: "ok", Modality: "image", Fields: map[string]plugin.Value{"image": photo}}})
	if res[0].Err != nil || res[0].Fields["embedding"] == nil {
		t.Fatalf("embed: %+v", res[0])
	}
	if _, err := h.Instance(ctx, "vision", "resnet", map[string]any{"top_k": 2}, "cpu"); err == nil {
		t.Error("Load without weights succeeded")
	}
}
