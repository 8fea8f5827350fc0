package train

import (
	"github.com/plexusml/plexus/vision/resnet"
	"math/rand/v2"
	"testing"
)

// TestEvaluateLoadsStateDict checks that the training graph's state dict loads into the
// inference model by torchvision names and that evaluation runs on it.
func TestEvaluateLoadsStateDict(t *testing.T) {
	nt, _ := tinyNet(t, 4)
	rng := rand.New(rand.NewPCG(5, 6))
	d := &images{n: 7, h: 6, w: 6, pix: make([]uint8, 7*36), labels: make([]uint8, 7)}
	for i := range d.pix {
		d.pix[i] = uint8(rng.IntN(256))
	}
	for i := range d.labels {
		d.labels[i] = uint8(rng.IntN(3))
	}
	acc, err := evaluate(nt, d, 3)
	if err != nil {
		t.Fatal(err)
	}
	if acc < 0 || acc > 1 {
		t.Fatalf("accuracy %v", acc)
	}
}

func tinyNet(t *testing.T, batch int) (*net, []int) {
	t.Helper()
	c := resnet.Config{Architecture: "resnet", Block: "basic", Layers: []int{1, 2}, Widths: []int{3, 4},
		Stem: "small", InChannels: 1, NumClasses: 3, InputSize: 6, Mean: []float32{0}, Std: []float32{1}}
	if err := c.Normalize(); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	nt, err := buildNet(c, batch, rng)
	if err != nil {
		t.Fatal(err)
	}
	for i := range nt.input.Float32s() {
		nt.input.Float32s()[i] = float32(rng.NormFloat64())
	}
	labels := make([]int, batch)
	for i := range labels {
		labels[i] = rng.IntN(c.NumClasses)
	}
	return nt, labels
}
