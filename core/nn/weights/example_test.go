package weights_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/plexusml/plexus/core/nn/weights"
	"github.com/plexusml/plexus/core/tensor"
)

// A model binds its parameters by name; one error lists every problem.
func ExampleBinder() {
	store := weights.NewMapStore("linear.safetensors", map[string]*tensor.Tensor{
		"module.fc.weight":   tensor.New(tensor.Float32, 3, 4),
		"module.fc.bias":     tensor.New(tensor.Float32, 3),
		"module.head.weight": tensor.New(tensor.Float32, 2, 3),
	})
	b := weights.NewBinder(store, weights.StripPrefix("module."))
	w := b.Float32("fc.weight", 2, 4) // the model wants 2 outputs, the file has 3
	bias := b.Float32("fc.bias", 3)
	scale := b.Float32("fc.scale", 3)
	fmt.Println(w == nil, len(bias), scale == nil)
	fmt.Println(b.Err())
	// Output:
	// true 3 true
	// weights linear.safetensors do not fit the model (1 missing, 1 unexpected, 1 wrong shape)
	//   missing: fc.scale
	//   unexpected: head.weight
	//   wrong shape: fc.weight: file has [3 4], model wants [2 4]
	//   (if the names differ only by a prefix, strip it: --prefix-strip or weights.StripPrefix)
}

func ExampleWriteSafetensors() {
	dir, _ := os.MkdirTemp("", "weights")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "w.safetensors")
	err := weights.WriteSafetensors(path, map[string]*tensor.Tensor{
		"embed.weight": tensor.FromFloat32([]float32{1, 2, 3, 4, 5, 6}, 3, 2),
	}, map[string]string{"format": "pt"})
	if err != nil {
		fmt.Println(err)
		return
	}
	s, err := weights.OpenSafetensors(path) // memory-mapped
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	t, _ := s.Get("embed.weight")
	fmt.Println(s.Names(), t, t.Float32s(), s.Metadata())
	// Output: [embed.weight] float32[3,2] [1 2 3 4 5 6] map[format:pt]
}
