package train

import (
	"math"
	"math/rand/v2"

	"gorgonia.org/gorgonia"
	gtensor "gorgonia.org/tensor"

	"github.com/plexusml/plexus/core/kernels"
)

// embed looks up the window's ids (time-major, set by the trainer before each run) in
// the table emb (vocab×dim); its gradient scatters rows back into a vocab×dim tensor.
func embed(emb *gorgonia.Node, ids *[]int, rows, vocab, dim int) (*gorgonia.Node, error) {
	op := newOp("embed", []int{2}, gtensor.Shape{rows, dim}, func(out []float32, in [][]float32) {
		for r, id := range *ids {
			copy(out[r*dim:(r+1)*dim], in[0][id*dim:(id+1)*dim])
		}
	})
	op.WRT = []bool{true}
	op.Diff = func(_ gorgonia.Nodes, _, grad *gorgonia.Node) (gorgonia.Nodes, error) {
		g := newOp("embed-grad", []int{2}, gtensor.Shape{vocab, dim}, func(out []float32, in [][]float32) {
			for r, id := range *ids {
				o, d := out[id*dim:(id+1)*dim], in[0][r*dim:(r+1)*dim]
				for j := range o {
					o[j] += d[j]
				}
			}
		})
		n, err := g.Apply(grad)
		return gorgonia.Nodes{n}, err
	}
	return op.Apply(emb)
}

// lstmLayer is one LSTM layer unrolled over the window: a gorgonia Mul projects every
// step's input at once (gx = x·W_ih, (steps·batch)×4·hidden), then one cell node per
// step turns its rows of gx, the previous step's [h | c] and W_hh into the step's
// [h | c]; gorgonia chains the steps, forwards and backwards. The cell keeps what its
// backward pass needs, and the weight gradients are each one large product over the
// whole window (Hprevᵀ·dG for W_hh, gorgonia's xᵀ·dG for W_ih) instead of one small
// product per step that gorgonia would then have to sum.
type lstmLayer struct {
	batch, hidden, steps int
	whh                  []float32 // W_hh's value (hidden×4·hidden), read by cells
	act                  []float32 // activated gates, (steps·batch)×4·hidden
	hPrev                []float32 // every step's previous h, (steps·batch)×hidden
	cPrev, tc            []float32 // previous c and tanh(c), (steps·batch)×hidden
	dg                   []float32 // gate gradients, filled by the backward pass
	dcPrev               []float32 // batch×hidden scratch
	keep                 []float32 // receives the last step's [h | c]
}

// newLSTMLayer builds the layer over x ((steps·batch)×in, time-major) from hc0
// (batch×2·hidden) and returns every step's h, (steps·batch)×hidden.
func newLSTMLayer(x, wih, whh, bias, hc0 *gorgonia.Node, batch, hidden, steps int, keep []float32) (*gorgonia.Node, error) {
	H, B, T := hidden, batch, steps
	ly := &lstmLayer{batch: B, hidden: H, steps: T, keep: keep,
		act: make([]float32, T*B*4*H), hPrev: make([]float32, T*B*H), cPrev: make([]float32, T*B*H),
		tc: make([]float32, T*B*H), dg: make([]float32, T*B*4*H), dcPrev: make([]float32, B*H)}
	ly.whh = whh.Value().Data().([]float32)
	gx, err := gorgonia.Mul(x, wih)
	if err != nil {
		return nil, err
	}
	hcs := make(gorgonia.Nodes, T)
	prev := hc0
	for t := 0; t < T; t++ {
		hc, err := ly.cell(t, gx, prev, whh, bias)
		if err != nil {
			return nil, err
		}
		hcs[t], prev = hc, hc
	}
	return ly.gather(hcs)
}

// cell is step t's node.
func (ly *lstmLayer) cell(t int, gx, prev, whh, bias *gorgonia.Node) (*gorgonia.Node, error) {
	H, B := ly.hidden, ly.batch
	r0 := t * B
	op := newOp("lstm-cell", []int{2, 2, 2, 1}, gtensor.Shape{B, 2 * H}, func(out []float32, in [][]float32) {
		gxv, pv, b := in[0], in[1], in[3]
		a := ly.act[r0*4*H : (r0+B)*4*H]
		copy(a, gxv[r0*4*H:(r0+B)*4*H])
		for i := 0; i < B; i++ {
			row := a[i*4*H : (i+1)*4*H]
			for j, v := range b {
				row[j] += v
			}
		}
		hp := ly.hPrev[r0*H : (r0+B)*H]
		cp := ly.cPrev[r0*H : (r0+B)*H]
		for i := 0; i < B; i++ {
			copy(hp[i*H:(i+1)*H], pv[i*2*H:i*2*H+H])
			copy(cp[i*H:(i+1)*H], pv[i*2*H+H:(i+1)*2*H])
		}
		kernels.Sgemm(false, false, B, 4*H, H, 1, hp, H, ly.whh, 4*H, 1, a, 4*H)
		tc := ly.tc[r0*H : (r0+B)*H]
		for i := 0; i < B; i++ {
			g := a[i*4*H : (i+1)*4*H]
			kernels.Sigmoid(g[:2*H], g[:2*H])
			kernels.Tanh(g[2*H:3*H], g[2*H:3*H])
			kernels.Sigmoid(g[3*H:], g[3*H:])
			h, cn := out[i*2*H:i*2*H+H], out[i*2*H+H:(i+1)*2*H]
			c0 := cp[i*H : (i+1)*H]
			for j := 0; j < H; j++ {
				cn[j] = g[H+j]*c0[j] + g[j]*g[2*H+j]
			}
			tci := tc[i*H : (i+1)*H]
			kernels.Tanh(cn, tci)
			for j := 0; j < H; j++ {
				h[j] = g[3*H+j] * tci[j]
			}
		}
		if t == ly.steps-1 && ly.keep != nil {
			copy(ly.keep, out)
		}
	})
	// The window-wide gradients (gx, W_hh, bias) are produced once, by step 0, whose
	// backward runs last; the other steps only pass the gradient back in time.
	first := t == 0
	op.WRT = []bool{first, true, first, first}
	op.Diff = func(_ gorgonia.Nodes, _, grad *gorgonia.Node) (gorgonia.Nodes, error) {
		dprev, err := ly.cellGrad(t).Apply(grad)
		if err != nil || !first {
			return gorgonia.Nodes{nil, dprev, nil, nil}, err
		}
		T, G := ly.steps, 4*H
		dgx := newOp("lstm-dgates", []int{2}, gtensor.Shape{T * B, G}, func([]float32, [][]float32) {})
		dgx.Out = ly.dg // already filled by the cells' backward nodes, which dprev follows
		dGX, err := dgx.Apply(dprev)
		if err != nil {
			return nil, err
		}
		dW, err := newOp("lstm-dwhh", []int{2}, gtensor.Shape{H, G}, func(out []float32, in [][]float32) {
			kernels.Sgemm(true, false, H, G, T*B, 1, ly.hPrev, H, in[0], G, 0, out, G)
		}).Apply(dGX)
		if err != nil {
			return nil, err
		}
		db, err := colSum(dGX, T*B, G)
		if err != nil {
			return nil, err
		}
		return gorgonia.Nodes{dGX, dprev, dW, db}, nil
	}
	return op.Apply(gx, prev, whh, bias)
}

// cellGrad is step t's backward node: from the gradient of its [h | c] it fills the
// step's rows of dg and returns the gradient of the previous [h | c].
func (ly *lstmLayer) cellGrad(t int) *fnOp {
	H, B := ly.hidden, ly.batch
	r0 := t * B
	return newOp("lstm-cell-grad", []int{2}, gtensor.Shape{B, 2 * H}, func(out []float32, in [][]float32) {
		d := in[0]
		dg := ly.dg[r0*4*H : (r0+B)*4*H]
		for i := 0; i < B; i++ {
			a, o := ly.act[(r0+i)*4*H:(r0+i+1)*4*H], dg[i*4*H:(i+1)*4*H]
			dh, dcOut := d[i*2*H:i*2*H+H], d[i*2*H+H:(i+1)*2*H]
			tc, cp := ly.tc[(r0+i)*H:(r0+i+1)*H], ly.cPrev[(r0+i)*H:(r0+i+1)*H]
			dcp := out[i*2*H+H : (i+1)*2*H]
			for j := 0; j < H; j++ {
				ig, fg, gg, og := a[j], a[H+j], a[2*H+j], a[3*H+j]
				dc := dcOut[j] + dh[j]*og*(1-tc[j]*tc[j])
				o[j] = dc * gg * ig * (1 - ig)
				o[H+j] = dc * cp[j] * fg * (1 - fg)
				o[2*H+j] = dc * ig * (1 - gg*gg)
				o[3*H+j] = dh[j] * tc[j] * og * (1 - og)
				dcp[j] = dc * fg
			}
		}
		// dh_prev = dG·W_hhᵀ, written into the h half of each row.
		kernels.Sgemm(false, true, B, H, 4*H, 1, dg, 4*H, ly.whh, 4*H, 0, out, 2*H)
	})
}

// gather stacks every step's h into (steps·batch)×hidden; its gradient hands each step
// its rows as [dh | 0].
func (ly *lstmLayer) gather(hcs gorgonia.Nodes) (*gorgonia.Node, error) {
	H, B, T := ly.hidden, ly.batch, ly.steps
	in := make([]int, T)
	for i := range in {
		in[i] = 2
	}
	op := newOp("lstm-gather", in, gtensor.Shape{T * B, H}, func(out []float32, in [][]float32) {
		for t, hc := range in {
			for i := 0; i < B; i++ {
				copy(out[(t*B+i)*H:(t*B+i+1)*H], hc[i*2*H:i*2*H+H])
			}
		}
	})
	op.WRT = make([]bool, T)
	for i := range op.WRT {
		op.WRT[i] = true
	}
	op.Diff = func(_ gorgonia.Nodes, _, grad *gorgonia.Node) (gorgonia.Nodes, error) {
		gs := make(gorgonia.Nodes, T)
		for t := range gs {
			n, err := newOp("lstm-gather-grad", []int{2}, gtensor.Shape{B, 2 * H}, func(out []float32, in [][]float32) {
				for i := 0; i < B; i++ {
					copy(out[i*2*H:i*2*H+H], in[0][(t*B+i)*H:(t*B+i+1)*H])
					clear(out[i*2*H+H : (i+1)*2*H])
				}
			}).Apply(grad)
			if err != nil {
				return nil, err
			}
			gs[t] = n
		}
		return gs, nil
	}
	return op.Apply(hcs...)
}

// colSum sums a rows×cols tensor over its rows (a bias gradient).
func colSum(x *gorgonia.Node, rows, cols int) (*gorgonia.Node, error) {
	return newOp("col-sum", []int{2}, gtensor.Shape{cols}, func(out []float32, in [][]float32) {
		clear(out)
		for r := 0; r < rows; r++ {
			row := in[0][r*cols : (r+1)*cols]
			for j, v := range row {
				out[j] += v
			}
		}
	}).Apply(x)
}

// dropout zeroes each element with probability p and scales the rest by 1/(1-p)
// (inverted dropout, as torch.nn.Dropout in training). The mask is drawn from rng at
// each run, so a run's masks follow from the trainer's RNG state. *p is read at each
// run: zero turns dropout off without rebuilding the graph.
func dropout(x *gorgonia.Node, rows, cols int, p *float64, rng *rand.Rand) (*gorgonia.Node, error) {
	mask := make([]float32, rows*cols)
	op := newOp("dropout", []int{2}, gtensor.Shape{rows, cols}, func(out []float32, in [][]float32) {
		keep := 1 - *p
		scale := float32(1 / keep)
		for i := range mask {
			switch {
			case *p == 0:
				mask[i] = 1
			case rng.Float64() < keep:
				mask[i] = scale
			default:
				mask[i] = 0
			}
			out[i] = in[0][i] * mask[i]
		}
	})
	op.WRT = []bool{true}
	op.Diff = func(_ gorgonia.Nodes, _, grad *gorgonia.Node) (gorgonia.Nodes, error) {
		n, err := newOp("dropout-grad", []int{2}, gtensor.Shape{rows, cols}, func(out []float32, in [][]float32) {
			for i := range out {
				out[i] = in[0][i] * mask[i]
			}
		}).Apply(grad)
		return gorgonia.Nodes{n}, err
	}
	return op.Apply(x)
}

// crossEntropy is the summed softmax cross-entropy of logits+bias (rows×vocab) against
// the targets, divided by the number of rows, so the graph's cost is the mean over the
// window. It records the summed loss in nats in *sum.
func crossEntropy(logits, bias *gorgonia.Node, targets *[]int, rows, vocab int, sum *float64) (*gorgonia.Node, error) {
	prob := make([]float32, rows*vocab)
	norm := float64(rows)
	op := newOp("cross-entropy", []int{2, 1}, nil, func(out []float32, in [][]float32) {
		tg := *targets
		var loss float64
		for b := 0; b < rows; b++ {
			p, z := prob[b*vocab:(b+1)*vocab], in[0][b*vocab:(b+1)*vocab]
			m := float32(math.Inf(-1))
			for j := range p {
				p[j] = z[j] + in[1][j]
				m = max(m, p[j])
			}
			var s float64
			for j := range p {
				e := math.Exp(float64(p[j] - m))
				p[j] = float32(e)
				s += e
			}
			inv := float32(1 / s)
			for j := range p {
				p[j] *= inv
			}
			loss -= math.Log(max(float64(p[tg[b]]), 1e-30))
		}
		*sum = loss
		out[0] = float32(loss / norm)
	})
	op.WRT = []bool{true, true}
	op.Diff = func(_ gorgonia.Nodes, _, grad *gorgonia.Node) (gorgonia.Nodes, error) {
		dz, err := newOp("cross-entropy-grad", []int{0}, gtensor.Shape{rows, vocab}, func(out []float32, in [][]float32) {
			tg := *targets
			s := in[0][0] / float32(norm)
			for i := range out {
				out[i] = prob[i] * s
			}
			for b := 0; b < rows; b++ {
				out[b*vocab+tg[b]] -= s
			}
		}).Apply(grad)
		if err != nil {
			return nil, err
		}
		db, err := colSum(dz, rows, vocab)
		if err != nil {
			return nil, err
		}
		return gorgonia.Nodes{dz, db}, nil
	}
	return op.Apply(logits, bias)
}
