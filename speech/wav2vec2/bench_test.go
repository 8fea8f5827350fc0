package wav2vec2

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/plexusml/plexus/core/nn"
	"github.com/plexusml/plexus/core/nn/weights"
)

// BenchmarkBase runs wav2vec2-base (random weights) on 10 s of 16 kHz audio; the
// metric audio-s/s is the inverse of the real-time factor, audio-s/cpu-s the same per
// CPU second (the figure to compare on a shared machine, with GOMAXPROCS=1 against
// torch.set_num_threads(1) and time.process_time()).
func BenchmarkBase(b *testing.B) {
	cfg := Base(29)
	w, err := RandomWeights(cfg, 1)
	if err != nil {
		b.Fatal(err)
	}
	m, err := New(weights.NewMapStore("random", w), cfg)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	wav := make([]float32, 16000*10)
	for i := range wav {
		wav[i] = float32(r.NormFloat64() * 0.1)
	}
	ctx := context.Background()
	a := nn.NewArena(0)
	run := func() {
		a.Reset()
		if _, err := m.Forward(ctx, a, [][]float32{wav}, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	run()
	b.ResetTimer()
	c0 := cpuTime()
	for i := 0; i < b.N; i++ {
		run()
	}
	cpu := cpuTime() - c0
	b.ReportMetric(10*float64(b.N)/b.Elapsed().Seconds(), "audio-s/s")
	if cpu > 0 {
		b.ReportMetric(10*float64(b.N)/cpu.Seconds(), "audio-s/cpu-s")
	}
	b.ReportMetric(float64(a.Size())*4/(1<<20), "arena-MB")
}
