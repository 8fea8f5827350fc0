package nn

import (
	"testing"

	"github.com/plexusml/plexus/core/nn/weights"
)

func BenchmarkLinear(b *testing.B) {
	for _, rows := range []int{1, 64} {
		b.Run(map[int]string{1: "1x1024x1024", 64: "64x1024x1024"}[rows], func(b *testing.B) {
			bd := weights.NewBinder(randomStore(map[string][]int{"fc.weight": {1024, 1024}, "fc.bias": {1024}}))
			l := NewLinear(bd, "fc", LinearConfig{})
			x := NewAct(make([]float32, rows*1024), rows, 1024)
			a := NewArena(0)
			b.ReportAllocs()
			for b.Loop() {
				a.Reset()
				l.Forward(a, x)
			}
			b.ReportMetric(float64(2*rows*1024*1024)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkLSTMStep is one generation step of a 2-layer, 512-wide LSTM at batch 1.
func BenchmarkLSTMStep(b *testing.B) {
	shapes := map[string][]int{}
	for _, l := range []string{"0", "1"} {
		shapes["rnn.weight_ih_l"+l] = []int{2048, 512}
		shapes["rnn.weight_hh_l"+l] = []int{2048, 512}
		shapes["rnn.bias_ih_l"+l] = []int{2048}
		shapes["rnn.bias_hh_l"+l] = []int{2048}
	}
	rnn := NewLSTM(weights.NewBinder(randomStore(shapes)), "rnn", LSTMConfig{BatchFirst: true})
	st := rnn.NewState(1)
	x := NewAct(make([]float32, 512), 1, 1, 512)
	a := NewArena(0)
	b.ReportAllocs()
	for b.Loop() {
		a.Reset()
		rnn.Forward(a, x, st)
	}
}

// BenchmarkConvBN is a ResNet-50 stage-1 3×3 convolution (64 channels, 56×56) at batch 1.
func BenchmarkConvBN(b *testing.B) {
	bd := weights.NewBinder(randomStore(map[string][]int{"c.weight": {64, 64, 3, 3},
		"bn.weight": {64}, "bn.bias": {64}, "bn.running_mean": {64}, "bn.running_var": {64}}))
	c := NewConvBN(bd, "c", "bn", Conv2dConfig{Padding: Sq(1), ReLU: true})
	x := NewAct(make([]float32, 64*56*56), 1, 64, 56, 56)
	a := NewArena(0)
	b.ReportAllocs()
	for b.Loop() {
		a.Reset()
		c.Forward(a, x)
	}
	b.ReportMetric(float64(2*64*64*9*56*56)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
