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
	// Four float64 accumulators: one would serialise every add on its latency, and
	// LayerNorm rows (144–1024 wide) are short enough for that to dominate.
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += float64(x[i])
		s1 += float64(x[i+1])
		s2 += float64(x[i+2])
		s3 += float64(x[i+3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i])
	}
	mean := (s0 + s1 + s2 + s3) / float64(len(x))
	var q0, q1, q2, q3 float64
	i = 0
	for ; i+4 <= len(x); i += 4 {
		d0, d1 := float64(x[i])-mean, float64(x[i+1])-mean
		d2, d3 := float64(x[i+2])-mean, float64(x[i+3])-mean
		q0 += d0 * d0
		q1 += d1 * d1
		q2 += d2 * d2
		q3 += d3 * d3
	}
	for ; i < len(x); i++ {
		d := float64(x[i]) - mean
		q0 += d * d
	}
	inv := float32(1 / math.Sqrt((q0+q1+q2+q3)/float64(len(x))+float64(eps)))
	m := float32(mean)
	out = out[:len(x)]
	switch {
	case g != nil && b != nil:
		g, b = g[:len(x)], b[:len(x)]
		for i, v := range x {
			out[i] = (v-m)*inv*g[i] + b[i]
		}
	default:
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
