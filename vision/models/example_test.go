package models_test

import (
	"fmt"
	"path/filepath"

	"github.com/plexusml/plexus/core/nn"
	"github.com/plexusml/plexus/core/tensor"
	"github.com/plexusml/plexus/vision/models"
)

// Open a classifier with the config.json beside its weights and classify a batch.
func ExampleOpen() {
	dir := filepath.Join("..", "resnet", "testdata")
	m, err := models.Open(filepath.Join(dir, "resnet18_small.safetensors"), filepath.Join(dir, "resnet18_small.json"), "resnet")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	x, _ := tensor.LoadNpy(filepath.Join(dir, "resnet18_small.input.npy"))
	s := x.Shape()
	logits, features, err := m.Run(nn.NewArena(0), x.Float32s(), s[0], s[2], s[3])
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Architecture, logits.Shape(), features.Shape())
	fmt.Println(m.TopK(logits.Data[:7], 1)[0].Label)
	// Output:
	// resnet18 [2 7] [2 32]
	// class 3
}
