//go:build !race

package kernels

import (
	"math/rand/v2"
	"testing"
)

// TestSteadyStateAllocs runs one inference-shaped step (conv with epilogue, pooling,
// GEMM, norms, activations, attention, LSTM) and requires zero allocations once the
// Workspace and the GEMM buffers have grown.
func TestSteadyStateAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	cp := Conv2dParams{N: 2, C: 16, H: 12, W: 12, O: 32, KH: 3, KW: 3, PadH: 1, PadW: 1, ReLU: true}
	x := randSlice(r, 2*16*12*12)
	w := randSlice(r, 32*16*9)
	bias := randSlice(r, 32)
	y := make([]float32, 2*32*12*12)
	pp := Pool2dParams{N: 2, C: 32, H: 12, W: 12, KH: 2, KW: 2}
	pooled := make([]float32, 2*32*6*6)
	a, b, c := randSlice(r, 300*200), randSlice(r, 200*500), make([]float32, 300*500)
	ap := AttentionParams{Batch: 2, Heads: 2, Lq: 9, Lk: 9, D: 8, Dv: 8, Causal: true}
	q := randSlice(r, 2*2*9*8)
	att := make([]float32, len(q))
	h, cs := randSlice(r, 3*16), randSlice(r, 3*16)
	xin, wih, whh := randSlice(r, 3*8), randSlice(r, 64*8), randSlice(r, 64*16)
	ids := []int64{1, 2, 3}
	emb := make([]float32, 3*8)
	c1p := Conv1dParams{N: 1, C: 8, L: 40, O: 8, K: 2, Dilation: 4, Causal: true}
	c1x, c1w, c1y := randSlice(r, 8*40), randSlice(r, 8*8*2), make([]float32, 8*40)
	var ws Workspace
	step := func() {
		Conv2d(cp, x, w, bias, y, &ws)
		MaxPool2d(pp, y, pooled)
		Sgemm(false, true, 300, 500, 200, 1, a, 200, b, 200, 0, c, 500)
		Sgemm(true, false, 200, 500, 300, 1, a, 200, c, 500, 0, b, 500)
		LayerNorm(300, 200, a, nil, nil, 1e-5, a)
		GELU(c, c)
		Softmax(300, 500, c)
		Attention(ap, q, q, q, att, &ws)
		LSTMCell(3, 8, 16, xin, h, cs, wih, whh, nil, nil, h, cs, &ws)
		_ = Embedding(wih, 8, ids, emb)
		BatchedSgemm(false, true, 3, 9, 9, 8, 1, q, 8, 72, q, 8, 72, 0, att, 9, 81)
		Conv1d(c1p, c1x, c1w, nil, c1y, &ws)
	}
	step()
	if n := testing.AllocsPerRun(5, step); n != 0 {
		t.Fatalf("steady-state step allocates %.1f times per run", n)
	}
}
