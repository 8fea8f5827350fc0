//go:build unix

package wavenet

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/plexusml/plexus/core/nn/weights"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchGenerate runs the benchmark shape (2 stacks × 10 layers, 64/128/256 channels,
// 80 mels, 16 kHz) and reports samples per wall second and per CPU second; the second
// figure is the one to read on a shared machine.
func benchGenerate(b *testing.B, batch, workers int) {
	cfg := DefaultConfig()
	w, err := RandomWeights(cfg, 1)
	if err != nil {
		b.Fatal(err)
	}
	m, err := New(weights.NewBinder(weights.NewMapStore("random", w)), cfg)
	if err != nil {
		b.Fatal(err)
	}
	frames := 16
	reqs := make([]Request, batch)
	for i := range reqs {
		reqs[i] = Request{Mel: make([]float32, cfg.CinChannels*frames), Frames: frames, Seed: uint64(i)}
	}
	n := batch * frames * cfg.Hop()
	b.ResetTimer()
	c0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if _, err := m.Generate(context.Background(), reqs, Options{Workers: workers}); err != nil {
			b.Fatal(err)
		}
	}
	cpu := cpuTime() - c0
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "samples/s")
	b.ReportMetric(float64(n*b.N)/cpu.Seconds(), "samples/cpu-s")
}

func BenchmarkGenerate16k(b *testing.B)         { benchGenerate(b, 1, 1) }
func BenchmarkGenerate16kBatch4(b *testing.B)   { benchGenerate(b, 4, 1) }
func BenchmarkGenerate16kBatch4W2(b *testing.B) { benchGenerate(b, 4, 2) }
