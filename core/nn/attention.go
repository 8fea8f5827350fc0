package nn

import (
	"fmt"
	"math"

	"github.com/plexusml/plexus/core/kernels"
	"github.com/plexusml/plexus/core/nn/weights"
)

// AttentionConfig holds what a MultiHeadAttention cannot read from its weights.
type AttentionConfig struct {
	Heads int
	// BatchFirst means Batch×Length×Embed activations (PyTorch's batch_first=True, and
	// always true for BERT); otherwise Length×Batch×Embed, nn.MultiheadAttention's default.
	BatchFirst bool
}

// AttentionMask says which keys each query may see. The zero value allows all.
type AttentionMask struct {
	// KeyPadding is Batch×Lk; true excludes that key for every query of the sequence
	// (PyTorch's key_padding_mask; Hugging Face's attention_mask == 0).
	KeyPadding []bool
	// Additive is Lq×Lk, added to the scaled scores (PyTorch's float attn_mask); −Inf
	// excludes a key.
	Additive []float32
	// Causal excludes keys after the query's position (a decoder's triangular mask).
	Causal bool
}

// MultiHeadAttention is torch.nn.MultiheadAttention for inference (no add_bias_kv, no
// dropout). When keys and values are Embed wide, the query, key and value projections
// are one 3·Embed×Embed matrix, so self-attention projects with one GEMM.
// A query that every mask excludes gets zeros (PyTorch gives NaN).
//
// As with Linear, the first projection of two or more rows packs the matrix it uses for
// the micro-kernel and keeps the copy; to change the weights, assign new slices rather
// than writing into the old ones.
type MultiHeadAttention struct {
	Name         string
	Embed, Heads int
	KDim, VDim   int // key and value input widths (PyTorch's kdim, vdim)
	BatchFirst   bool
	QKVWeight    []float32 // 3·Embed×Embed, or nil when KDim or VDim differ from Embed
	WQ, WK, WV   []float32 // Embed×Embed, Embed×KDim, Embed×VDim (views of QKVWeight)
	QKVBias      []float32 // 3·Embed, or nil
	Out          *Linear

	// packed[part][n-1] is the matrix project(part, n) multiplies by: only those that
	// Forward's paths use (query, key and value; key and value; each alone) get filled.
	packed [3][3]packedWeight
}

// NewMultiheadAttention binds PyTorch's names: prefix.in_proj_weight (or
// q_proj_weight, k_proj_weight and v_proj_weight when kdim or vdim differ from
// embed_dim), in_proj_bias, out_proj.weight and out_proj.bias. Embed comes from
// out_proj.weight, KDim and VDim from the key and value projections.
func NewMultiheadAttention(b *weights.Binder, prefix string, cfg AttentionConfig) *MultiHeadAttention {
	m := &MultiHeadAttention{Name: prefix, Heads: cfg.Heads, BatchFirst: cfg.BatchFirst}
	m.Out = NewLinear(b, join(prefix, "out_proj"), LinearConfig{})
	e := m.Out.Out
	if e == 0 {
		return m
	}
	if b.Has(join(prefix, "in_proj_weight")) || !b.Has(join(prefix, "q_proj_weight")) {
		m.Embed, m.KDim, m.VDim = e, e, e
		m.QKVWeight = b.Float32(join(prefix, "in_proj_weight"), 3*e, e)
		if m.QKVWeight != nil {
			m.WQ, m.WK, m.WV = m.QKVWeight[:e*e], m.QKVWeight[e*e:2*e*e], m.QKVWeight[2*e*e:]
		}
	} else {
		ks := shapeOf(b, join(prefix, "k_proj_weight"), 2)
		vs := shapeOf(b, join(prefix, "v_proj_weight"), 2)
		m.WQ = b.Float32(join(prefix, "q_proj_weight"), e, e)
		if ks == nil || vs == nil || m.WQ == nil {
			return m
		}
		m.Embed, m.KDim, m.VDim = e, ks[1], vs[1]
		m.WK = b.Float32(join(prefix, "k_proj_weight"), e, m.KDim)
		m.WV = b.Float32(join(prefix, "v_proj_weight"), e, m.VDim)
	}
	m.QKVBias = b.OptionalFloat32(join(prefix, "in_proj_bias"), 3*e)
	m.checkHeads(b, join(prefix, "out_proj.weight"))
	return m
}

// NewAttentionQKV binds attention with separate query, key, value and output Linear
// modules, the form Hugging Face BERT uses ("attention.self.query", "…key", "…value",
// "attention.output.dense"). The three projections are copied into one matrix.
func NewAttentionQKV(b *weights.Binder, query, key, value, out string, cfg AttentionConfig) *MultiHeadAttention {
	m := &MultiHeadAttention{Name: query, Heads: cfg.Heads, BatchFirst: cfg.BatchFirst}
	q := NewLinear(b, query, LinearConfig{})
	k := NewLinear(b, key, LinearConfig{})
	v := NewLinear(b, value, LinearConfig{})
	m.Out = NewLinear(b, out, LinearConfig{})
	e := q.Out
	if q.Weight == nil || k.Weight == nil || v.Weight == nil || m.Out.Weight == nil {
		return m
	}
	for _, l := range []*Linear{q, k, v, m.Out} {
		if l.In != e || l.Out != e {
			// Equal widths are all this layer supports; record the first mismatch.
			b.Float32(join(l.Name, "weight"), e, e)
			return m
		}
	}
	m.Embed, m.KDim, m.VDim = e, e, e
	m.QKVWeight = make([]float32, 0, 3*e*e)
	for _, l := range []*Linear{q, k, v} {
		m.QKVWeight = append(m.QKVWeight, l.Weight...)
	}
	m.WQ, m.WK, m.WV = m.QKVWeight[:e*e], m.QKVWeight[e*e:2*e*e], m.QKVWeight[2*e*e:]
	if q.Bias != nil || k.Bias != nil || v.Bias != nil {
		m.QKVBias = make([]float32, 3*e)
		for i, l := range []*Linear{q, k, v} {
			copy(m.QKVBias[i*e:(i+1)*e], l.Bias) // a nil bias leaves zeros
		}
	}
	m.checkHeads(b, join(query, "weight"))
	return m
}

// checkHeads records a head count that does not divide Embed as a shape problem of the
// named weight, so that it reaches the user with every other problem of the file.
func (m *MultiHeadAttention) checkHeads(b *weights.Binder, weight string) {
	if m.Heads > 0 && m.Embed%m.Heads == 0 {
		return
	}
	h := max(m.Heads, 1)
	b.Float32(weight, (m.Embed+h-1)/h*h, -1)
	m.Embed = 0
}

// SelfForward is Forward(a, x, x, x, mask), with the three projections in one GEMM.
func (m *MultiHeadAttention) SelfForward(a *Arena, x Act, mask AttentionMask) Act {
	return m.Forward(a, x, x, x, mask)
}

// Forward attends from queries q (Batch×Lq×Embed, or Lq×Batch×Embed) to keys k and
// values v (same layout, length Lk) and returns the output projection, laid out like q,
// from the arena. When q, k and v are the same activation the projections run as one
// GEMM; when only k and v are, as two.
func (m *MultiHeadAttention) Forward(a *Arena, q, k, v Act, mask AttentionMask) Act {
	e := m.Embed
	checkRank(m.Name, q, 3)
	checkRank(m.Name, k, 3)
	checkRank(m.Name, v, 3)
	checkDim(m.Name, q, 2, e, "features")
	checkDim(m.Name, k, 2, m.KDim, "key features")
	checkDim(m.Name, v, 2, m.VDim, "value features")
	bd, ld := 1, 0 // which dimensions are batch and length
	if m.BatchFirst {
		bd, ld = 0, 1
	}
	batch, lq, lk := q.dims[bd], q.dims[ld], k.dims[ld]
	if k.dims[bd] != batch || v.dims[bd] != batch || v.dims[ld] != lk {
		panic(fmt.Sprintf("nn: %s: query %v, key %v and value %v disagree", m.Name, q.Shape(), k.Shape(), v.Shape()))
	}
	if mask.KeyPadding != nil && len(mask.KeyPadding) != batch*lk {
		panic(fmt.Sprintf("nn: %s: key padding mask has %d entries, want %d×%d", m.Name, len(mask.KeyPadding), batch, lk))
	}
	if mask.Additive != nil && len(mask.Additive) != lq*lk {
		panic(fmt.Sprintf("nn: %s: additive mask has %d entries, want %d×%d", m.Name, len(mask.Additive), lq, lk))
	}
	y := q.withLast(a.Floats(q.Len()), e)
	mk := a.Mark()
	// Projected query, key and value: each a matrix of rows in the input's layout with
	// leading dimension ldq/ldk/ldv, starting at qp/kp/vp.
	var qp, kp, vp []float32
	var ldq, ldk, ldv int
	rq, rk := batch*lq, batch*lk
	switch {
	case m.QKVWeight != nil && same(q, k) && same(k, v):
		p := a.Floats(rq * 3 * e)
		m.project(q.Data, rq, 0, 3, p)
		qp, kp, vp, ldq, ldk, ldv = p, p[e:], p[2*e:], 3*e, 3*e, 3*e
	case m.QKVWeight != nil && same(k, v):
		qp, ldq = a.Floats(rq*e), e
		m.project(q.Data, rq, 0, 1, qp)
		p := a.Floats(rk * 2 * e)
		m.project(k.Data, rk, 1, 2, p)
		kp, vp, ldk, ldv = p, p[e:], 2*e, 2*e
	default:
		qp, kp, vp = a.Floats(rq*e), a.Floats(rk*e), a.Floats(rk*e)
		ldq, ldk, ldv = e, e, e
		m.project(q.Data, rq, 0, 1, qp)
		m.project(k.Data, rk, 1, 1, kp)
		m.project(v.Data, rk, 2, 1, vp)
	}
	dh := e / m.Heads
	strides := func(l, ld int) [3]int {
		if m.BatchFirst {
			return [3]int{l * ld, dh, ld}
		}
		return [3]int{ld, dh, batch * ld}
	}
	ctx := a.Floats(rq * e)
	p := kernels.AttentionParams{
		Batch: batch, Heads: m.Heads, Lq: lq, Lk: lk, D: dh, Dv: dh,
		Causal:   mask.Causal,
		QStrides: strides(lq, ldq), KStrides: strides(lk, ldk), VStrides: strides(lk, ldv),
		OutStrides: strides(lq, e),
	}
	switch {
	case mask.KeyPadding != nil:
		p.Mask, p.MaskPerBatch = a.Floats(batch*lq*lk), true
		fillMask(p.Mask, mask, batch, lq, lk)
	case mask.Additive != nil:
		p.Mask = mask.Additive
	}
	kernels.Attention(p, qp, kp, vp, ctx, a.Workspace())
	m.Out.ForwardInto(ctx, y.Data)
	a.Release(mk)
	return y
}

// project computes rows×(n·Embed) = x·Wᵀ + bias for n consecutive projections (part 0
// query, 1 key, 2 value); n > 1 needs the fused matrix.
func (m *MultiHeadAttention) project(x []float32, rows, part, n int, out []float32) {
	e := m.Embed
	w, in := [3][]float32{m.WQ, m.WK, m.WV}[part], [3]int{e, m.KDim, m.VDim}[part]
	if n > 1 {
		w, in = m.QKVWeight[part*e*e:(part+n)*e*e], e
	}
	if pb := m.packed[part][n-1].get(rows, w, n*e, in); pb != nil {
		kernels.SgemmPacked(false, rows, 1, x, in, pb, 0, out, n*e)
	} else {
		kernels.Sgemm(false, true, rows, n*e, in, 1, x, in, w, in, 0, out, n*e)
	}
	if m.QKVBias != nil {
		addRowBias(out[:rows*n*e], m.QKVBias[part*e:(part+n)*e])
	}
}

// fillMask writes the per-sequence Lq×Lk mask: the additive mask plus −Inf at padded
// keys.
func fillMask(dst []float32, mask AttentionMask, batch, lq, lk int) {
	negInf := float32(math.Inf(-1))
	for b := 0; b < batch; b++ {
		pad := mask.KeyPadding[b*lk : (b+1)*lk]
		for i := 0; i < lq; i++ {
			row := dst[(b*lq+i)*lk : (b*lq+i+1)*lk]
			if mask.Additive != nil {
				copy(row, mask.Additive[i*lk:(i+1)*lk])
			} else {
				clear(row)
			}
			for j, p := range pad {
				if p {
					row[j] = negInf
				}
			}
		}
	}
}

// same reports whether two activations are the same memory and shape.
func same(x, y Act) bool {
	return len(x.Data) == len(y.Data) && x.dims == y.dims &&
		(len(x.Data) == 0 || &x.Data[0] == &y.Data[0])
}
