package train

import (
	"math"
	"math/rand/v2"

	"gorgonia.org/gorgonia"
	gtensor "gorgonia.org/tensor"

	"github.com/plexusml/plexus/core/kernels"
	"github.com/plexusml/plexus/internal/gorgop"
)

// Activations are matrices with one row per frame, batch-major (row b·T+t), one
// column per channel. Batch data (features, lengths, targets) never enters the graph
// as a node: ops read it from Go memory that fillBatch sets before each step.

type sliceOp = gorgop.Op

func newOp(name string, in []int, shape gtensor.Shape, run func(out []float32, in [][]float32)) *sliceOp {
	return gorgop.New(name, in, shape, run)
}

// colSum writes the column sums of x (rows of len(out)) into out: a bias gradient.
func colSum(out, x []float32) {
	c := len(out)
	clear(out)
	for r := 0; r < len(x); r += c {
		for j, v := range x[r : r+c] {
			out[j] += v
		}
	}
}

// addData adds a constant matrix (the positional encodings) to x.
func addData(x *gorgonia.Node, data []float32) (*gorgonia.Node, error) {
	s := x.Shape().Clone()
	fwd := newOp("add_data", []int{2}, s, func(out []float32, in [][]float32) {
		for j, v := range in[0] {
			out[j] = v + data[j]
		}
	})
	fwd.WRT = []bool{true}
	fwd.Diff = func(_ gorgonia.Nodes, _, dy *gorgonia.Node) (gorgonia.Nodes, error) {
		return gorgonia.Nodes{dy}, nil
	}
	return fwd.Apply(x)
}

// reluMask is max(x, 0) with the rows where keep[row] is false zeroed: padding frames
// after a convolution are zero, as in a batch of one.
func reluMask(x *gorgonia.Node, keep []bool) (*gorgonia.Node, error) {
	s := x.Shape().Clone()
	c := s[1]
	fwd := newOp("relu", []int{2}, s, func(out []float32, in [][]float32) {
		for i, v := range in[0] {
			out[i] = max(v, 0)
		}
		if keep != nil {
			for r, k := range keep {
				if !k {
					clear(out[r*c : (r+1)*c])
				}
			}
		}
	})
	fwd.WRT = []bool{true}
	fwd.Diff = func(_ gorgonia.Nodes, y, dy *gorgonia.Node) (gorgonia.Nodes, error) {
		dx := newOp("relu.dx", []int{2, 2}, s.Clone(), func(out []float32, in [][]float32) {
			for i, v := range in[0] {
				if v > 0 {
					out[i] = in[1][i]
				} else {
					out[i] = 0
				}
			}
		})
		g, err := dx.Apply(y, dy)
		return gorgonia.Nodes{g}, err
	}
	return fwd.Apply(x)
}

// im2col turns x (B·Tin × C) into the columns of a kernel-3, padding-1, stride-s
// convolution: B·Tout × 3C, column k·C+c holding channel c at tap k.
func im2col(x *gorgonia.Node, B, Tin, Tout, s int) (*gorgonia.Node, error) {
	c := x.Shape()[1]
	fwd := newOp("im2col", []int{2}, gtensor.Shape{B * Tout, 3 * c}, func(out []float32, in [][]float32) {
		im2colRows(out, in[0], B, Tin, Tout, s, c)
	})
	fwd.WRT = []bool{true}
	fwd.Diff = func(_ gorgonia.Nodes, _, dy *gorgonia.Node) (gorgonia.Nodes, error) {
		dx := newOp("col2im", []int{2}, gtensor.Shape{B * Tin, c}, func(out []float32, in [][]float32) {
			clear(out)
			for b := 0; b < B; b++ {
				for t := 0; t < Tout; t++ {
					src := in[0][(b*Tout+t)*3*c : (b*Tout+t+1)*3*c]
					for k := 0; k < 3; k++ {
						u := t*s + k - 1
						if u < 0 || u >= Tin {
							continue
						}
						dst := out[(b*Tin+u)*c : (b*Tin+u+1)*c]
						for j, v := range src[k*c : (k+1)*c] {
							dst[j] += v
						}
					}
				}
			}
		})
		g, err := dx.Apply(dy)
		return gorgonia.Nodes{g}, err
	}
	return fwd.Apply(x)
}

// im2colRows writes the convolution columns of x (B·Tin × c) into out (B·Tout × 3c).
func im2colRows(out, x []float32, B, Tin, Tout, s, c int) {
	for b := 0; b < B; b++ {
		for t := 0; t < Tout; t++ {
			dst := out[(b*Tout+t)*3*c : (b*Tout+t+1)*3*c]
			for k := 0; k < 3; k++ {
				u := t*s + k - 1
				if u < 0 || u >= Tin {
					clear(dst[k*c : (k+1)*c])
					continue
				}
				copy(dst[k*c:(k+1)*c], x[(b*Tin+u)*c:(b*Tin+u+1)*c])
			}
		}
	}
}

// layerNorm normalises each row and applies γ and β. The forward pass keeps the
// normalised rows and inverse deviations for the backward pass of the same step.
func layerNorm(x, g, b *gorgonia.Node, eps float32) (*gorgonia.Node, error) {
	s := x.Shape().Clone()
	n, c := s[0], s[1]
	xhat := make([]float32, n*c)
	rstd := make([]float32, n)
	fwd := newOp("layernorm", []int{2, 1, 1}, s, func(out []float32, in [][]float32) {
		layerNormRows(out, xhat, rstd, in[0], in[1], in[2], c, eps)
	})
	fwd.WRT = []bool{true, true, true}
	fwd.Diff = func(nodes gorgonia.Nodes, _, dy *gorgonia.Node) (gorgonia.Nodes, error) {
		dx := newOp("layernorm.dx", []int{1, 2}, s.Clone(), func(out []float32, in [][]float32) {
			gam, d := in[0], in[1]
			for r := 0; r < n; r++ {
				dr, xr, o := d[r*c:(r+1)*c], xhat[r*c:(r+1)*c], out[r*c:(r+1)*c]
				var m1, m2 float32
				for j := range dr {
					gj := dr[j] * gam[j]
					m1 += gj
					m2 += gj * xr[j]
				}
				m1 /= float32(c)
				m2 /= float32(c)
				for j := range dr {
					o[j] = rstd[r] * (dr[j]*gam[j] - m1 - xr[j]*m2)
				}
			}
		})
		dg := newOp("layernorm.dg", []int{2}, gtensor.Shape{c}, func(out []float32, in [][]float32) {
			clear(out)
			for r := 0; r < n; r++ {
				for j, v := range in[0][r*c : (r+1)*c] {
					out[j] += v * xhat[r*c+j]
				}
			}
		})
		db := newOp("layernorm.db", []int{2}, gtensor.Shape{c}, func(out []float32, in [][]float32) {
			colSum(out, in[0])
		})
		gx, err := dx.Apply(nodes[1], dy)
		if err != nil {
			return nil, err
		}
		gg, err := dg.Apply(dy)
		if err != nil {
			return nil, err
		}
		gb, err := db.Apply(dy)
		return gorgonia.Nodes{gx, gg, gb}, err
	}
	return fwd.Apply(x, g, b)
}

func layerNormRows(out, xhat, rstd, x, g, b []float32, c int, eps float32) {
	n := len(x) / c
	for r := 0; r < n; r++ {
		xr := x[r*c : (r+1)*c]
		var m, v float64
		for _, u := range xr {
			m += float64(u)
		}
		m /= float64(c)
		for _, u := range xr {
			d := float64(u) - m
			v += d * d
		}
		rs := float32(1 / math.Sqrt(v/float64(c)+float64(eps)))
		rstd[r] = rs
		for j, u := range xr {
			h := (u - float32(m)) * rs
			xhat[r*c+j] = h
			out[r*c+j] = h*g[j] + b[j]
		}
	}
}

// attention is multi-head self-attention over the fused projections qkv (B·T × 3D:
// queries, keys, values) with keys at or after lens[b] excluded; it returns the
// heads' concatenated context, B·T × D. The forward pass keeps the attention weights
// for the backward pass.
func attention(qkv *gorgonia.Node, B, T, heads int, lens []int) (*gorgonia.Node, error) {
	D := qkv.Shape()[1] / 3
	dh := D / heads
	scale := float32(1 / math.Sqrt(float64(dh)))
	probs := make([]float32, B*heads*T*T)
	ld := 3 * D
	fwd := newOp("attention", []int{2}, gtensor.Shape{B * T, D}, func(out []float32, in [][]float32) {
		x := in[0]
		for b := 0; b < B; b++ {
			L := lens[b]
			for h := 0; h < heads; h++ {
				p := probs[(b*heads+h)*T*T : (b*heads+h+1)*T*T]
				q := x[b*T*ld+h*dh:]
				k := x[b*T*ld+D+h*dh:]
				v := x[b*T*ld+2*D+h*dh:]
				// scores T × L, row stride T
				kernels.Sgemm(false, true, T, L, dh, scale, q, ld, k, ld, 0, p, T)
				for i := 0; i < T; i++ {
					softmaxRow(p[i*T:i*T+L], p[i*T+L:(i+1)*T])
				}
				kernels.Sgemm(false, false, T, dh, L, 1, p, T, v, ld, 0, out[b*T*D+h*dh:], D)
			}
		}
	})
	fwd.WRT = []bool{true}
	fwd.Diff = func(nodes gorgonia.Nodes, _, dy *gorgonia.Node) (gorgonia.Nodes, error) {
		dp := make([]float32, T*T)
		back := newOp("attention.dx", []int{2, 2}, gtensor.Shape{B * T, 3 * D}, func(out []float32, in [][]float32) {
			x, g := in[0], in[1]
			clear(out)
			for b := 0; b < B; b++ {
				L := lens[b]
				for h := 0; h < heads; h++ {
					p := probs[(b*heads+h)*T*T : (b*heads+h+1)*T*T]
					q := x[b*T*ld+h*dh:]
					k := x[b*T*ld+D+h*dh:]
					v := x[b*T*ld+2*D+h*dh:]
					gy := g[b*T*D+h*dh:]
					dq := out[b*T*ld+h*dh:]
					dk := out[b*T*ld+D+h*dh:]
					dv := out[b*T*ld+2*D+h*dh:]
					// dV = Pᵀ·dY (L × dh); dP = dY·Vᵀ (T × L)
					kernels.Sgemm(true, false, L, dh, T, 1, p, T, gy, D, 0, dv, ld)
					kernels.Sgemm(false, true, T, L, dh, 1, gy, D, v, ld, 0, dp, T)
					// dS = P ⊙ (dP − Σ dP⊙P), scaled
					for i := 0; i < T; i++ {
						pr, dr := p[i*T:i*T+L], dp[i*T:i*T+L]
						var s float32
						for j, u := range pr {
							s += u * dr[j]
						}
						for j, u := range pr {
							dr[j] = u * (dr[j] - s) * scale
						}
					}
					kernels.Sgemm(false, false, T, dh, L, 1, dp, T, k, ld, 0, dq, ld)
					kernels.Sgemm(true, false, L, dh, T, 1, dp, T, q, ld, 0, dk, ld)
				}
			}
		})
		gx, err := back.Apply(nodes[0], dy)
		return gorgonia.Nodes{gx}, err
	}
	return fwd.Apply(qkv)
}

// softmaxRow normalises row in place and zeroes the excluded tail.
func softmaxRow(row, tail []float32) {
	mx := row[0]
	for _, v := range row {
		mx = max(mx, v)
	}
	var s float32
	for j, v := range row {
		e := float32(math.Exp(float64(v - mx)))
		row[j] = e
		s += e
	}
	inv := 1 / s
	for j := range row {
		row[j] *= inv
	}
	clear(tail)
}

// dropout zeroes each value with probability p and scales the rest by 1/(1−p)
// (inverted dropout, so inference uses the weights as they are). The mask is drawn
// from *rng at every forward pass and reused by the backward pass of the same step;
// a nil *rng (evaluation) or p = 0 passes x through.
func dropout(x *gorgonia.Node, p float64, rng **rand.Rand) (*gorgonia.Node, error) {
	if p <= 0 {
		return x, nil
	}
	s := x.Shape().Clone()
	mask := make([]float32, s.TotalSize())
	keep := float32(1 / (1 - p))
	fwd := newOp("dropout", []int{2}, s, func(out []float32, in [][]float32) {
		r := *rng
		for i, v := range in[0] {
			if r == nil {
				mask[i] = 1
			} else if r.Float64() < p {
				mask[i] = 0
			} else {
				mask[i] = keep
			}
			out[i] = v * mask[i]
		}
	})
	fwd.WRT = []bool{true}
	fwd.Diff = func(_ gorgonia.Nodes, _, dy *gorgonia.Node) (gorgonia.Nodes, error) {
		dx := newOp("dropout.dx", []int{2}, s.Clone(), func(out []float32, in [][]float32) {
			for i, v := range in[0] {
				out[i] = v * mask[i]
			}
		})
		g, err := dx.Apply(dy)
		return gorgonia.Nodes{g}, err
	}
	return fwd.Apply(x)
}
