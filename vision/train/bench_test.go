package train

import (
	"math/rand/v2"
	"testing"

	"github.com/plexusml/plexus/vision/resnet"
)

// BenchmarkStep times one training step (forward, backward, update) of the shipped
// Fashion-MNIST architecture at batch 128.
func BenchmarkStep(b *testing.B) {
	c := resnet.Config{Architecture: "resnet", Block: "basic", Layers: []int{1, 1, 1}, Widths: []int{16, 32, 64},
		Stem: "small", InChannels: 1, NumClasses: 10, InputSize: 28, Mean: []float32{0}, Std: []float32{1}, ZeroInitResidual: true}
	if err := c.Normalize(); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	nt, err := buildNet(c, 128, rng)
	if err != nil {
		b.Fatal(err)
	}
	opt := &SGD{LR: 0.01, Momentum: 0.9}
	for _, p := range nt.params {
		opt.Decay = append(opt.Decay, p.decay)
	}
	labels := make([]int, 128)
	for i := range nt.input.Float32s() {
		nt.input.Float32s()[i] = float32(rng.NormFloat64())
	}
	b.ResetTimer()
	for s := 0; s < b.N; s++ {
		if _, _, err := nt.step(labels); err != nil {
			b.Fatal(err)
		}
		if err := opt.Step(nt.valueGrads()); err != nil {
			b.Fatal(err)
		}
	}
}
