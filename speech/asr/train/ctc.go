package train

import (
	"math"

	"gorgonia.org/gorgonia"
	gtensor "gorgonia.org/tensor"
)

// ctcBatch is the part of a batch the CTC loss reads: per item, the valid frames and
// the label sequence (no blanks).
type ctcBatch struct {
	lens    []int
	targets [][]int
	logits  []float32 // when not nil, the forward pass copies its input here (for logs)
}

// ctcStats are the forward pass's by-products for the training log.
type ctcStats struct {
	infeasible int // items whose labels cannot fit their frames (loss and gradient 0)
}

// ctcLoss is log-softmax followed by the CTC loss (Graves et al. 2006), summed over the
// batch and divided by the batch size: torch.nn.functional.ctc_loss(log_softmax(x),
// reduction="sum", zero_infinity=True) / B, blank 0. logits is B·T × C, batch-major.
//
// gorgonia.CTCLoss (v0.9.18) is not used: its gradient ignores the "mean" reduction's
// divisions and leaves −Inf in the rows of frames past an item's length, which turn
// every gradient of a padded batch into NaN (see TestGorgoniaCTCLoss). This op computes
// the loss and its gradient together in float64 (alpha and beta recursions in log
// space) and hands the gradient over to its derivative op, which only scales it.
func ctcLoss(logits *gorgonia.Node, B, T int, data *ctcBatch, st *ctcStats) (*gorgonia.Node, error) {
	C := logits.Shape()[1]
	grad := make([]float32, B*T*C)
	fwd := newOp("ctc", []int{2}, nil, func(out []float32, in [][]float32) {
		if data.logits != nil {
			copy(data.logits, in[0])
		}
		var total float64
		bad := 0
		for b := 0; b < B; b++ {
			nll, ok := ctcItem(in[0][b*T*C:(b+1)*T*C], grad[b*T*C:(b+1)*T*C], C, data.lens[b], data.targets[b], 1/float64(B))
			if !ok {
				bad++
				continue
			}
			total += nll
		}
		if st != nil {
			st.infeasible = bad
		}
		out[0] = float32(total / float64(B))
	})
	fwd.WRT = []bool{true}
	fwd.Diff = func(_ gorgonia.Nodes, _, g *gorgonia.Node) (gorgonia.Nodes, error) {
		dx := newOp("ctc.dx", []int{0}, gtensor.Shape{B * T, C}, func(out []float32, in [][]float32) {
			s := in[0][0]
			for i, v := range grad {
				out[i] = v * s
			}
		})
		gx, err := dx.Apply(g)
		return gorgonia.Nodes{gx}, err
	}
	return fwd.Apply(logits)
}

// ctcItem computes one item's negative log-likelihood from its logits (T × C, of which
// the first n frames count) and writes scale times its gradient with respect to the
// logits into grad. It reports false (and a zero gradient) when the labels cannot be
// aligned to n frames.
func ctcItem(x, grad []float32, C, n int, labels []int, scale float64) (float64, bool) {
	clear(grad)
	L := len(labels)
	S := 2*L + 1
	T := n
	lp := make([]float64, T*C)
	for t := 0; t < T; t++ {
		row := x[t*C : (t+1)*C]
		mx := float64(row[0])
		for _, v := range row {
			mx = math.Max(mx, float64(v))
		}
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v) - mx)
		}
		lse := mx + math.Log(s)
		for c, v := range row {
			lp[t*C+c] = float64(v) - lse
		}
	}
	lab := func(s int) int {
		if s%2 == 0 {
			return 0
		}
		return labels[s/2]
	}
	negInf := math.Inf(-1)
	alpha := make([]float64, T*S)
	beta := make([]float64, T*S)
	for i := range alpha {
		alpha[i], beta[i] = negInf, negInf
	}
	alpha[0] = lp[0]
	if L > 0 {
		alpha[1] = lp[lab(1)]
	}
	for t := 1; t < T; t++ {
		for s := 0; s < S; s++ {
			a := alpha[(t-1)*S+s]
			if s > 0 {
				a = logAdd(a, alpha[(t-1)*S+s-1])
			}
			if s > 1 && s%2 == 1 && lab(s) != lab(s-2) {
				a = logAdd(a, alpha[(t-1)*S+s-2])
			}
			alpha[t*S+s] = a + lp[t*C+lab(s)]
		}
	}
	ll := alpha[(T-1)*S+S-1]
	if L > 0 {
		ll = logAdd(ll, alpha[(T-1)*S+S-2])
	}
	if math.IsInf(ll, -1) || math.IsNaN(ll) {
		return 0, false
	}
	beta[(T-1)*S+S-1] = lp[(T-1)*C]
	if L > 0 {
		beta[(T-1)*S+S-2] = lp[(T-1)*C+lab(S-2)]
	}
	for t := T - 2; t >= 0; t-- {
		for s := 0; s < S; s++ {
			b := beta[(t+1)*S+s]
			if s+1 < S {
				b = logAdd(b, beta[(t+1)*S+s+1])
			}
			if s+2 < S && s%2 == 1 && lab(s) != lab(s+2) {
				b = logAdd(b, beta[(t+1)*S+s+2])
			}
			beta[t*S+s] = b + lp[t*C+lab(s)]
		}
	}
	occ := make([]float64, C)
	for t := 0; t < T; t++ {
		clear(occ)
		for s := 0; s < S; s++ {
			v := alpha[t*S+s] + beta[t*S+s]
			if math.IsInf(v, -1) {
				continue
			}
			// α·β counts frame t's probability twice.
			occ[lab(s)] += math.Exp(v - lp[t*C+lab(s)] - ll)
		}
		for c := 0; c < C; c++ {
			grad[t*C+c] = float32((math.Exp(lp[t*C+c]) - occ[c]) * scale)
		}
	}
	return -ll, true
}

func logAdd(a, b float64) float64 {
	if math.IsInf(a, -1) {
		return b
	}
	if math.IsInf(b, -1) {
		return a
	}
	if a < b {
		a, b = b, a
	}
	return a + math.Log1p(math.Exp(b-a))
}
