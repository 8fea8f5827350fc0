package kernels

import (
	"fmt"
	"math"
)

// AttentionParams describes scaled dot-product attention over Batch×Heads pairs of
// Q (Lq×D), K (Lk×D) and V (Lk×Dv). Each of Q, K, V and Out is addressed as
// b·Strides[0] + h·Strides[1] + i·Strides[2] + d; zero strides mean contiguous
// Batch×Heads×L×D, and other strides read e.g. a fused QKV projection in place.
type AttentionParams struct {
	Batch, Heads int
	Lq, Lk       int
	D, Dv        int
	// Scale multiplies QKᵀ; zero means 1/√D.
	Scale float32
	// Mask, if set, is added to the scores: Lq×Lk shared by all pairs, or
	// Batch×Lq×Lk when MaskPerBatch (a padding mask); use −Inf to exclude a key.
	Mask         []float32
	MaskPerBatch bool
	// Causal excludes key j > i (+ Lk − Lq, aligning the ends as PyTorch does).
	Causal                       bool
	QStrides, KStrides, VStrides [3]int
	OutStrides                   [3]int
}

func contiguous(s [3]int, heads, l, d int) [3]int {
	if s == ([3]int{}) {
		return [3]int{heads * l * d, l * d, d}
	}
	return s
}

// Attention computes out = softmax(scale·QKᵀ + mask)·V for every (batch, head) pair.
// A query whose keys are all masked gets zeros. Pairs run in parallel, one per worker;
// ws holds an Lq×Lk score matrix per worker.
func Attention(p AttentionParams, q, k, v, out []float32, ws *Workspace) {
	j := attnJob{p: p, q: q, k: k, v: v, out: out}
	j.qs = contiguous(p.QStrides, p.Heads, p.Lq, p.D)
	j.ks = contiguous(p.KStrides, p.Heads, p.Lk, p.D)
	j.vs = contiguous(p.VStrides, p.Heads, p.Lk, p.Dv)
	j.os = contiguous(p.OutStrides, p.Heads, p.Lq, p.Dv)
	j.scale = p.Scale
	if j.scale == 0 {
		j.scale = float32(1 / math.Sqrt(float64(p.D)))
	}
	pairs := p.Batch * p.Heads
	if pairs <= 0 || p.Lq <= 0 || p.Lk <= 0 {
		return
	}
	// Operands are checked here, where a panic can be recovered, not on a worker.
	need := func(name string, s []float32, st [3]int, l, d int) {
		n := (p.Batch-1)*st[0] + (p.Heads-1)*st[1] + (l-1)*st[2] + d
		if len(s) < n {
			panic(fmt.Sprintf("kernels: attention: %s has %d elements, needs %d", name, len(s), n))
		}
	}
	need("q", q, j.qs, p.Lq, p.D)
	need("k", k, j.ks, p.Lk, p.D)
	need("v", v, j.vs, p.Lk, p.Dv)
	need("out", out, j.os, p.Lq, p.Dv)
	if p.Mask != nil {
		want := p.Lq * p.Lk
		if p.MaskPerBatch {
			want *= p.Batch
		}
		if len(p.Mask) < want {
			panic(fmt.Sprintf("kernels: attention: mask has %d elements, needs %d", len(p.Mask), want))
		}
	}
	g := defaultCtx()
	workers := min(g.pool.n, pairs)
	j.s = ws.floats(workers * p.Lq * p.Lk)
	j.g = g
	g.mu.Lock()
	defer g.mu.Unlock()
	g.atJ = j
	g.pool.Run(pairs, &g.atJ)
	g.atJ = attnJob{}
}

// attnJob computes one (batch, head) pair per task on the worker's own buffers.
type attnJob struct {
	p              AttentionParams
	q, k, v, out   []float32
	qs, ks, vs, os [3]int
	scale          float32
	s              []float32
	g              *gemmCtx
}

func (j *attnJob) run(worker, pair int) {
	p := &j.p
	b, h := pair/p.Heads, pair%p.Heads
	wb := &j.g.ws[worker]
	s := j.s[worker*p.Lq*p.Lk : (worker+1)*p.Lq*p.Lk]
	qo, ko := b*j.qs[0]+h*j.qs[1], b*j.ks[0]+h*j.ks[1]
	vo, oo := b*j.vs[0]+h*j.vs[1], b*j.os[0]+h*j.os[1]
	serialGemm(bestImpl, wb, false, true, p.Lq, p.Lk, p.D, j.scale, j.q[qo:], j.qs[2], j.k[ko:], j.ks[2], 0, s, p.Lk)
	var mask []float32
	if p.Mask != nil {
		mask = p.Mask
		if p.MaskPerBatch {
			mask = p.Mask[b*p.Lq*p.Lk:]
		}
	}
	negInf := float32(math.Inf(-1))
	for i := 0; i < p.Lq; i++ {
		row := s[i*p.Lk : (i+1)*p.Lk]
		if mask != nil {
			for c, m := range mask[i*p.Lk : (i+1)*p.Lk] {
				row[c] += m
			}
		}
		if p.Causal {
			for c := max(0, i+p.Lk-p.Lq+1); c < p.Lk; c++ {
				row[c] = negInf
			}
		}
		softmaxRow(row)
	}
	serialGemm(bestImpl, wb, false, false, p.Lq, p.Dv, p.Lk, 1, s, p.Lk, j.v[vo:], j.vs[2], 0, j.out[oo:], j.os[2])
}
