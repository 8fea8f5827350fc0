package nn

import (
	"math"
	"testing"

	"github.com/plexusml/plexus/core/kernels"
	"github.com/plexusml/plexus/core/nn/weights"
)

func maxRelDiff(got, want []float32) float64 {
	var d, m float64
	for i := range want {
		d = math.Max(d, math.Abs(float64(got[i]-want[i])))
		m = math.Max(m, math.Abs(float64(want[i])))
	}
	return d / m
}

// TestPackedWeightsFollowReplacement runs Conv2d and Linear on the weights packed at
// construction (or first use), then after Weight is replaced by a new slice, and
// compares both with the unpacked kernels on the weights in force.
func TestPackedWeightsFollowReplacement(t *testing.T) {
	st := randomStore(map[string][]int{"conv.weight": {5, 3, 3, 3}, "conv.bias": {5}, "fc.weight": {7, 20}, "fc.bias": {7}})
	b := weights.NewBinder(st)
	conv := NewConv2d(b, "conv", Conv2dConfig{Padding: Sq(1), ReLU: true})
	fc := NewLinear(b, "fc", LinearConfig{})
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 2*3*6*5)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)))
	}
	xa := NewAct(x, 2, 3, 6, 5)
	checkConv := func(what string) {
		t.Helper()
		y := conv.Forward(nil, xa)
		p := conv.params(xa)
		want := make([]float32, y.Len())
		kernels.Conv2d(p, x, conv.Weight, conv.Bias, want, nil)
		if e := maxRelDiff(y.Data, want); e > 1e-5 {
			t.Errorf("conv %s: relative difference %.3g", what, e)
		}
	}
	xl := x[:3*20]
	checkFC := func(what string) {
		t.Helper()
		y := make([]float32, 3*7)
		fc.ForwardInto(xl, y)
		want := make([]float32, 3*7)
		kernels.Sgemm(false, true, 3, 7, 20, 1, xl, 20, fc.Weight, 20, 0, want, 7)
		for r := 0; r < 3; r++ {
			for j := 0; j < 7; j++ {
				want[r*7+j] += fc.Bias[j]
			}
		}
		if e := maxRelDiff(y, want); e > 1e-5 {
			t.Errorf("linear %s: relative difference %.3g", what, e)
		}
	}
	checkConv("packed")
	checkFC("packed")
	nw := make([]float32, len(conv.Weight))
	for i := range nw {
		nw[i] = float32(i%7) - 3
	}
	conv.Weight = nw
	nl := make([]float32, len(fc.Weight))
	for i := range nl {
		nl[i] = float32(i%5) - 2
	}
	fc.Weight = nl
	checkConv("after replacing Weight")
	checkFC("after replacing Weight")
}
