package kernels

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkAttention is BERT-base self-attention for one 128-token sequence.
func BenchmarkAttention(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	p := AttentionParams{Batch: 1, Heads: 12, Lq: 128, Lk: 128, D: 64, Dv: 64}
	q, k, v := randSlice(r, 12*128*64), randSlice(r, 12*128*64), randSlice(r, 12*128*64)
	out := make([]float32, len(q))
	var ws Workspace
	Attention(p, q, k, v, out, &ws)
	b.ResetTimer()
	t0 := cpuTime()
	for i := 0; i < b.N; i++ {
		Attention(p, q, k, v, out, &ws)
	}
	reportFlops(b, 2*2*12*128*128*64*float64(b.N), t0)
}
