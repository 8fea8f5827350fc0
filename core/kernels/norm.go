package kernels

import "math"

// LayerNorm normalises each of rows rows of n values over the row, then scales by gamma
// and shifts by beta (either may be nil), like torch.nn.functional.layer_norm over the
// last dimension. out may be x.
func LayerNorm(rows, n int, x, gamma, beta []float32, eps float32, out []float32) {
	forRows(rowLayerNorm, rows, n, x, n, gamma, beta, eps, out)
}

// normalize writes (x−mean)/sqrt(var+eps)·g+b over one span, g and b indexed by the
// position (either may be nil). Mean and variance are accumulated in float64 so that
// long rows stay exact.
func normalize(x, out []float32, eps float32, g, b []float32) {
	var s float64
	for _, v := range x {
		s += float64(v)
	}
	mean := s / float64(len(x))
	var q float64
	for _, v := range x {
		d := float64(v) - mean
		q += d * d
	}
	inv := float32(1 / math.Sqrt(q/float64(len(x))+float64(eps)))
	m := float32(mean)
	for i, v := range x {
		y := (v - m) * inv
		if g != nil {
			y *= g[i]
		}
		if b != nil {
			y += b[i]
		}
		out[i] = y
	}
}

// GroupNorm normalises x (n×c×hw) over each group of c/groups channels and all hw
// positions, then applies per-channel gamma and beta (either may be nil), like
// torch.nn.functional.group_norm. out may be x.
func GroupNorm(n, c, hw, groups int, x, gamma, beta []float32, eps float32, out []float32) {
	cg := c / groups
	span := cg * hw
	for i := 0; i < n*groups; i++ {
		xs := x[i*span : (i+1)*span]
		os := out[i*span : (i+1)*span]
		normalize(xs, os, eps, nil, nil)
		if gamma == nil && beta == nil {
			continue
		}
		ch0 := (i % groups) * cg
		for ch := 0; ch < cg; ch++ {
			gm, bt := float32(1), float32(0)
			if gamma != nil {
				gm = gamma[ch0+ch]
			}
			if beta != nil {
				bt = beta[ch0+ch]
			}
			row := os[ch*hw : (ch+1)*hw]
			for j, v := range row {
				row[j] = v*gm + bt
			}
		}
	}
}
