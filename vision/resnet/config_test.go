package resnet

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(`{"architecture": "resnet50", "num_classes": 3, "labels": ["a", "b", "c"], "torch_dtype": "float32"}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Block != "bottleneck" || len(c.Layers) != 4 || c.Layers[2] != 6 || c.Features() != 2048 || c.InputSize != 224 {
		t.Fatalf("%+v", c)
	}
	for _, tc := range []struct{ json, want string }{
		{`{"architecture": "vgg16", "num_classes": 3}`, "not a ResNet"},
		{`{"architecture": "resnet18", "layers": [1, 1, 1, 1], "num_classes": 3}`, "has basic blocks"},
		{`{"architecture": "resnet", "num_classes": 3}`, "layers"},
		{`{"architecture": "resnet18", "num_classes": 3, "labels": ["a"]}`, "1 labels"},
		{`{"architecture": "resnet18"}`, "num_classes"},
		{`{"architecture": "resnet", "layers": [1], "widths": [4, 8], "num_classes": 2}`, "widths has 2 stages"},
	} {
		if _, err := ParseConfig([]byte(tc.json)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.json, err, tc.want)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, n := range []string{"resnet18_small", "resnet50_small", "resnet_cifar_small"} {
		if b, err := os.ReadFile(filepath.Join("testdata", n+".json")); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"architecture": "resnet", "layers": [0], "num_classes": -1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err != nil {
			return
		}
		// An accepted config must describe a network Shapes can lay out.
		if _, err := Shapes(*c); err != nil {
			t.Fatalf("accepted config %+v has no shapes: %v", c, err)
		}
	})
}
