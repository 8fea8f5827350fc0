package wavenet_test

import (
	"context"
	"fmt"

	"github.com/plexusml/plexus/core/nn/weights"
	"github.com/plexusml/plexus/speech/wavenet"
)

// Vocode two utterances in one batch, each seeded on its own. A real model comes from
// wavenet.Open(weights, config); random weights stand in here.
func ExampleModel_Generate() {
	cfg := wavenet.Config{OutChannels: 256, Layers: 4, Stacks: 2, ResidualChannels: 8, GateChannels: 16,
		SkipChannels: 16, KernelSize: 2, CinChannels: 10, UpsampleScales: []int{4, 4}}
	w, _ := wavenet.RandomWeights(cfg, 1)
	m, err := wavenet.New(weights.NewBinder(weights.NewMapStore("random", w)), cfg)
	if err != nil {
		panic(err)
	}
	mel := make([]float32, 10*5) // 10 bands × 5 frames
	res, err := m.Generate(context.Background(), []wavenet.Request{
		{Mel: mel, Frames: 5, Seed: 1},
		{Mel: mel, Frames: 5, Length: 50, Seed: 2},
	}, wavenet.Options{Temperature: 0.9})
	if err != nil {
		panic(err)
	}
	fmt.Println(len(res[0].Audio), len(res[1].Audio))
	// Output: 80 50
}
