package asr

import (
	"context"
	"math"
	"testing"

	"github.com/plexusml/plexus/core/nn/weights"
)

// BenchmarkEmissions10s runs the default model (random weights) on 10 s of audio; the
// real-time factor is 10 s / (ns/op).
func BenchmarkEmissions10s(b *testing.B) {
	cfg := DefaultConfig()
	w, err := RandomWeights(cfg, 1)
	if err != nil {
		b.Fatal(err)
	}
	m, err := New(weights.NewBinder(weights.NewMapStore("random", w)), cfg)
	if err != nil {
		b.Fatal(err)
	}
	x := make([]float32, 160000)
	for i := range x {
		x[i] = float32(0.3 * math.Sin(float64(i)*0.05))
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Emissions(ctx, [][]float32{x}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(10/(float64(b.Elapsed().Seconds())/float64(b.N)), "x-realtime")
}
