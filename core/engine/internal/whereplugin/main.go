// Command whereplugin is a test plugin that reports where it runs: the device its
// model was loaded on and the device environment its process was started with. The
// engine's tests use it to check that placement reaches the plugin process, and, with
// WHERE_DIE_ON=DEVICE and WHERE_STATE=DIR, that a batch whose instance dies for good
// (its process exits, then never loads again) runs on another instance.
package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/plexusml/plexus/plugins/sdk"
)

type where struct{}

func (where) Describe() sdk.Description {
	return sdk.Description{Name: "where", Version: "1.0.0", Models: []sdk.ModelInfo{{
		Name:      "where",
		Tasks:     []sdk.Task{{Name: "where", Description: "report the instance's device"}},
		Resources: sdk.Resources{Devices: []string{"cpu", "gpu"}},
	}}}
}

func (where) Load(_ context.Context, r sdk.LoadRequest) (sdk.Instance, error) {
	if r.Device == os.Getenv("WHERE_DIE_ON") {
		if _, err := os.Stat(marker(r.Device)); err == nil {
			return nil, errors.New("the device is gone")
		}
	}
	return instance{device: r.Device}, nil
}

func marker(device string) string { return filepath.Join(os.Getenv("WHERE_STATE"), "died-"+device) }

type instance struct{ device string }

func (in instance) Process(_ context.Context, _ string, items []sdk.Item) []sdk.Result {
	if in.device == os.Getenv("WHERE_DIE_ON") {
		os.WriteFile(marker(in.device), nil, 0o644)
		os.Exit(3)
	}
	cuda, ok := os.LookupEnv("CUDA_VISIBLE_DEVICES")
	if !ok {
		cuda = "<unset>"
	}
	out := make([]sdk.Result, len(items))
	for i := range items {
		out[i] = sdk.Result{Fields: map[string]any{"load": in.device, "cuda": cuda, "env": os.Getenv("PLEXUS_DEVICE")}}
	}
	return out
}

func main() { sdk.Serve(where{}) }
