package train

import (
	"fmt"
	"math"

	"github.com/plexusml/plexus/core/kernels"
	"github.com/plexusml/plexus/internal/gorgop"
	"gorgonia.org/gorgonia"
	gtensor "gorgonia.org/tensor"
)

// convGeom is a square-kernel 2-D convolution without bias over NCHW, OIHW.
type convGeom struct {
	n, c, h, w, o, k, stride, pad int
}

func (g convGeom) oh() int { return (g.h+2*g.pad-g.k)/g.stride + 1 }
func (g convGeom) ow() int { return (g.w+2*g.pad-g.k)/g.stride + 1 }

// span returns the output columns [lo, hi) whose input column ox·stride − pad + kx
// falls inside the image, so the inner loops of im2col and col2im need no bounds test.
func (g convGeom) span(kx, ow int) (lo, hi int) {
	off := kx - g.pad
	lo = 0
	if off < 0 {
		lo = (-off + g.stride - 1) / g.stride
	}
	hi = (g.w-1-off)/g.stride + 1
	if g.w-1-off < 0 {
		hi = 0
	}
	return lo, min(max(hi, lo), ow)
}

// im2col writes the (c·k·k)×(oh·ow) column matrix of one image.
func (g convGeom) im2col(x, cols []float32) {
	oh, ow := g.oh(), g.ow()
	row := 0
	for c := 0; c < g.c; c++ {
		xc := x[c*g.h*g.w:]
		for ky := 0; ky < g.k; ky++ {
			for kx := 0; kx < g.k; kx++ {
				dst := cols[row*oh*ow : (row+1)*oh*ow]
				row++
				lo, hi := g.span(kx, ow)
				off := kx - g.pad
				for oy := 0; oy < oh; oy++ {
					iy := oy*g.stride - g.pad + ky
					d := dst[oy*ow : (oy+1)*ow]
					if iy < 0 || iy >= g.h || lo >= hi {
						clear(d)
						continue
					}
					clear(d[:lo])
					clear(d[hi:])
					src := xc[iy*g.w : (iy+1)*g.w]
					if g.stride == 1 {
						copy(d[lo:hi], src[lo+off:hi+off])
						continue
					}
					for ox := lo; ox < hi; ox++ {
						d[ox] = src[ox*g.stride+off]
					}
				}
			}
		}
	}
}

// col2im adds the column matrix of one image back onto its (zeroed) gradient.
func (g convGeom) col2im(cols, x []float32) {
	oh, ow := g.oh(), g.ow()
	row := 0
	for c := 0; c < g.c; c++ {
		xc := x[c*g.h*g.w:]
		for ky := 0; ky < g.k; ky++ {
			for kx := 0; kx < g.k; kx++ {
				src := cols[row*oh*ow : (row+1)*oh*ow]
				row++
				lo, hi := g.span(kx, ow)
				off := kx - g.pad
				if lo >= hi {
					continue
				}
				for oy := 0; oy < oh; oy++ {
					iy := oy*g.stride - g.pad + ky
					if iy < 0 || iy >= g.h {
						continue
					}
					dst := xc[iy*g.w : (iy+1)*g.w]
					s := src[oy*ow : (oy+1)*ow]
					if g.stride == 1 {
						d := dst[lo+off : hi+off]
						for i, v := range s[lo:hi] {
							d[i] += v
						}
						continue
					}
					for ox := lo; ox < hi; ox++ {
						dst[ox*g.stride+off] += s[ox]
					}
				}
			}
		}
	}
}

// conv2d is a convolution without bias (a BatchNorm follows every one in a ResNet).
func conv2d(x, w *gorgonia.Node, stride, pad int) (*gorgonia.Node, error) {
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 4 || len(ws) != 4 || ws[2] != ws[3] || xs[1] != ws[1] {
		return nil, fmt.Errorf("conv2d: input %v and weight %v do not fit", xs, ws)
	}
	g := convGeom{n: xs[0], c: xs[1], h: xs[2], w: xs[3], o: ws[0], k: ws[2], stride: stride, pad: pad}
	oh, ow := g.oh(), g.ow()
	var ws0 kernels.Workspace
	p := kernels.Conv2dParams{N: g.n, C: g.c, H: g.h, W: g.w, O: g.o, KH: g.k, KW: g.k,
		StrideH: stride, StrideW: stride, PadH: pad, PadW: pad}
	fwd := newOp("conv2d", []int{4, 4}, gtensor.Shape{g.n, g.o, oh, ow}, func(out []float32, in [][]float32) {
		kernels.Conv2d(p, in[0], in[1], nil, out, &ws0)
	})
	fwd.WRT = []bool{true, true}
	kdim, l := g.c*g.k*g.k, oh*ow
	var cols []float32
	fwd.Diff = func(in gorgonia.Nodes, _, dy *gorgonia.Node) (gorgonia.Nodes, error) {
		dx := newOp("conv2d.dx", []int{4, 4}, gtensor.Shape{g.n, g.c, g.h, g.w}, func(out []float32, in [][]float32) {
			w, dy := in[0], in[1]
			if cols == nil {
				cols = make([]float32, kdim*l)
			}
			clear(out)
			for i := 0; i < g.n; i++ {
				kernels.Sgemm(true, false, kdim, l, g.o, 1, w, kdim, dy[i*g.o*l:(i+1)*g.o*l], l, 0, cols, l)
				g.col2im(cols, out[i*g.c*g.h*g.w:])
			}
		})
		dw := newOp("conv2d.dw", []int{4, 4}, ws.Clone(), func(out []float32, in [][]float32) {
			x, dy := in[0], in[1]
			if cols == nil {
				cols = make([]float32, kdim*l)
			}
			for i := 0; i < g.n; i++ {
				g.im2col(x[i*g.c*g.h*g.w:], cols)
				beta := float32(1)
				if i == 0 {
					beta = 0
				}
				kernels.Sgemm(false, true, g.o, kdim, l, 1, dy[i*g.o*l:(i+1)*g.o*l], l, cols, l, beta, out, kdim)
			}
		})
		gx, err := dx.Apply(in[1], dy)
		if err != nil {
			return nil, err
		}
		gw, err := dw.Apply(in[0], dy)
		if err != nil {
			return nil, err
		}
		return gorgonia.Nodes{gx, gw}, nil
	}
	return fwd.Apply(x, w)
}

// batchNorm is the training-mode BatchNorm2d of PyTorch: batch statistics over N, H, W
// normalise the input, and the running statistics (unbiased variance, momentum 0.1)
// move towards them; they are what inference uses.
type batchNorm struct {
	c, m         int // channels; elements per channel (N·H·W)
	hw           int
	eps          float64
	momentum     float64
	runningMean  []float32
	runningVar   []float32
	numBatches   int64
	xhat, invStd []float32
}

func newBatchNorm(c int) *batchNorm {
	bn := &batchNorm{c: c, eps: 1e-5, momentum: 0.1,
		runningMean: make([]float32, c), runningVar: make([]float32, c), invStd: make([]float32, c)}
	for i := range bn.runningVar {
		bn.runningVar[i] = 1
	}
	return bn
}

func (bn *batchNorm) forward(out, x, gamma, beta []float32, n int) {
	bn.numBatches++
	for c := 0; c < bn.c; c++ {
		var sum float64
		for i := 0; i < n; i++ {
			for _, v := range x[(i*bn.c+c)*bn.hw : (i*bn.c+c+1)*bn.hw] {
				sum += float64(v)
			}
		}
		mean := sum / float64(bn.m)
		var ss float64
		for i := 0; i < n; i++ {
			for _, v := range x[(i*bn.c+c)*bn.hw : (i*bn.c+c+1)*bn.hw] {
				d := float64(v) - mean
				ss += d * d
			}
		}
		variance := ss / float64(bn.m)
		inv := 1 / math.Sqrt(variance+bn.eps)
		bn.invStd[c] = float32(inv)
		mom := bn.momentum
		bn.runningMean[c] = float32((1-mom)*float64(bn.runningMean[c]) + mom*mean)
		bn.runningVar[c] = float32((1-mom)*float64(bn.runningVar[c]) + mom*ss/float64(bn.m-1))
		mf, invf, gf, bf := float32(mean), float32(inv), gamma[c], beta[c]
		for i := 0; i < n; i++ {
			off := (i*bn.c + c) * bn.hw
			xs, hs, os := x[off:off+bn.hw], bn.xhat[off:off+bn.hw], out[off:off+bn.hw]
			for j, v := range xs {
				h := (v - mf) * invf
				hs[j] = h
				os[j] = h*gf + bf
			}
		}
	}
}

// sums returns Σdy and Σdy·x̂ of channel c.
func (bn *batchNorm) sums(dy []float32, n, c int) (sdy, sdyx float64) {
	for i := 0; i < n; i++ {
		off := (i*bn.c + c) * bn.hw
		hs := bn.xhat[off : off+bn.hw]
		for j, d := range dy[off : off+bn.hw] {
			sdy += float64(d)
			sdyx += float64(d) * float64(hs[j])
		}
	}
	return sdy, sdyx
}

func batchNorm2d(x, gamma, beta *gorgonia.Node, bn *batchNorm) (*gorgonia.Node, error) {
	xs := x.Shape()
	if len(xs) != 4 || xs[1] != bn.c {
		return nil, fmt.Errorf("batchnorm: input %v for %d channels", xs, bn.c)
	}
	n := xs[0]
	bn.hw = xs[2] * xs[3]
	bn.m = n * bn.hw
	bn.xhat = make([]float32, n*bn.c*bn.hw)
	fwd := newOp("batchnorm", []int{4, 1, 1}, xs.Clone(), func(out []float32, in [][]float32) {
		bn.forward(out, in[0], in[1], in[2], n)
	})
	fwd.WRT = []bool{true, true, true}
	fwd.Diff = func(in gorgonia.Nodes, _, dy *gorgonia.Node) (gorgonia.Nodes, error) {
		dx := newOp("batchnorm.dx", []int{1, 4}, xs.Clone(), func(out []float32, in [][]float32) {
			gamma, dy := in[0], in[1]
			m := float32(bn.m)
			for c := 0; c < bn.c; c++ {
				sdy, sdyx := bn.sums(dy, n, c)
				k := gamma[c] * bn.invStd[c] / m
				a, b := float32(sdy), float32(sdyx)
				for i := 0; i < n; i++ {
					off := (i*bn.c + c) * bn.hw
					hs, os := bn.xhat[off:off+bn.hw], out[off:off+bn.hw]
					for j, d := range dy[off : off+bn.hw] {
						os[j] = k * (m*d - a - hs[j]*b)
					}
				}
			}
		})
		dg := newOp("batchnorm.dgamma", []int{4}, gtensor.Shape{bn.c}, func(out []float32, in [][]float32) {
			for c := range out {
				_, s := bn.sums(in[0], n, c)
				out[c] = float32(s)
			}
		})
		db := newOp("batchnorm.dbeta", []int{4}, gtensor.Shape{bn.c}, func(out []float32, in [][]float32) {
			for c := range out {
				var s float64
				for i := 0; i < n; i++ {
					for _, d := range in[0][(i*bn.c+c)*bn.hw : (i*bn.c+c+1)*bn.hw] {
						s += float64(d)
					}
				}
				out[c] = float32(s)
			}
		})
		gx, err := dx.Apply(in[1], dy)
		if err != nil {
			return nil, err
		}
		gg, err := dg.Apply(dy)
		if err != nil {
			return nil, err
		}
		gb, err := db.Apply(dy)
		if err != nil {
			return nil, err
		}
		return gorgonia.Nodes{gx, gg, gb}, nil
	}
	return fwd.Apply(x, gamma, beta)
}

func relu(x *gorgonia.Node) (*gorgonia.Node, error) {
	s := x.Shape().Clone()
	fwd := newOp("relu", []int{s.Dims()}, s, func(out []float32, in [][]float32) {
		for i, v := range in[0] {
			out[i] = max(v, 0)
		}
	})
	fwd.WRT = []bool{true}
	fwd.Diff = func(_ gorgonia.Nodes, y, dy *gorgonia.Node) (gorgonia.Nodes, error) {
		dx := newOp("relu.dx", []int{s.Dims(), s.Dims()}, s.Clone(), func(out []float32, in [][]float32) {
			y, dy := in[0], in[1][:len(in[0])]
			out = out[:len(y)]
			for i, v := range y {
				// A multiply instead of a branch: the sign of y is unpredictable.
				out[i] = dy[i] * float32(b2f(v > 0))
			}
		})
		gx, err := dx.Apply(y, dy)
		if err != nil {
			return nil, err
		}
		return gorgonia.Nodes{gx}, nil
	}
	return fwd.Apply(x)
}

// add is the residual sum; its gradient flows unchanged to both inputs.
func add(a, b *gorgonia.Node) (*gorgonia.Node, error) {
	s := a.Shape().Clone()
	if !s.Eq(b.Shape()) {
		return nil, fmt.Errorf("add: shapes %v and %v differ", s, b.Shape())
	}
	fwd := newOp("add", []int{s.Dims(), s.Dims()}, s, func(out []float32, in [][]float32) {
		a, b := in[0], in[1]
		for i := range out {
			out[i] = a[i] + b[i]
		}
	})
	fwd.WRT = []bool{true, true}
	fwd.Diff = func(_ gorgonia.Nodes, _, dy *gorgonia.Node) (gorgonia.Nodes, error) {
		return gorgonia.Nodes{dy, dy}, nil
	}
	return fwd.Apply(a, b)
}

// globalAvgPool averages each channel's plane: N×C×H×W to N×C.
func globalAvgPool(x *gorgonia.Node) (*gorgonia.Node, error) {
	s := x.Shape()
	n, c, hw := s[0], s[1], s[2]*s[3]
	fwd := newOp("avgpool", []int{4}, gtensor.Shape{n, c}, func(out []float32, in [][]float32) {
		for i := range out {
			var sum float32
			for _, v := range in[0][i*hw : (i+1)*hw] {
				sum += v
			}
			out[i] = sum / float32(hw)
		}
	})
	fwd.WRT = []bool{true}
	fwd.Diff = func(_ gorgonia.Nodes, _, dy *gorgonia.Node) (gorgonia.Nodes, error) {
		dx := newOp("avgpool.dx", []int{2}, s.Clone(), func(out []float32, in [][]float32) {
			for i, d := range in[0] {
				v := d / float32(hw)
				for j := range out[i*hw : (i+1)*hw] {
					out[i*hw+j] = v
				}
			}
		})
		gx, err := dx.Apply(dy)
		if err != nil {
			return nil, err
		}
		return gorgonia.Nodes{gx}, nil
	}
	return fwd.Apply(x)
}

// linear is torch.nn.Linear: y = x·Wᵀ + b with W out×in.
func linear(x, w, b *gorgonia.Node) (*gorgonia.Node, error) {
	n, in, out := x.Shape()[0], x.Shape()[1], w.Shape()[0]
	if w.Shape()[1] != in || b.Shape()[0] != out {
		return nil, fmt.Errorf("linear: input %v, weight %v, bias %v do not fit", x.Shape(), w.Shape(), b.Shape())
	}
	fwd := newOp("linear", []int{2, 2, 1}, gtensor.Shape{n, out}, func(y []float32, v [][]float32) {
		for i := 0; i < n; i++ {
			copy(y[i*out:(i+1)*out], v[2])
		}
		kernels.Sgemm(false, true, n, out, in, 1, v[0], in, v[1], in, 1, y, out)
	})
	fwd.WRT = []bool{true, true, true}
	fwd.Diff = func(nodes gorgonia.Nodes, _, dy *gorgonia.Node) (gorgonia.Nodes, error) {
		dx := newOp("linear.dx", []int{2, 2}, gtensor.Shape{n, in}, func(g []float32, v [][]float32) {
			kernels.Sgemm(false, false, n, in, out, 1, v[1], out, v[0], in, 0, g, in)
		})
		dw := newOp("linear.dw", []int{2, 2}, gtensor.Shape{out, in}, func(g []float32, v [][]float32) {
			kernels.Sgemm(true, false, out, in, n, 1, v[1], out, v[0], in, 0, g, in)
		})
		db := newOp("linear.db", []int{2}, gtensor.Shape{out}, func(g []float32, v [][]float32) {
			clear(g)
			for i := 0; i < n; i++ {
				for j, d := range v[0][i*out : (i+1)*out] {
					g[j] += d
				}
			}
		})
		gx, err := dx.Apply(nodes[1], dy)
		if err != nil {
			return nil, err
		}
		gw, err := dw.Apply(nodes[0], dy)
		if err != nil {
			return nil, err
		}
		gb, err := db.Apply(dy)
		if err != nil {
			return nil, err
		}
		return gorgonia.Nodes{gx, gw, gb}, nil
	}
	return fwd.Apply(x, w, b)
}

// crossEntropy is the mean softmax cross-entropy of logits against labels set before
// each step; it also counts the batch's correct predictions for the training log.
type crossEntropy struct {
	labels  []int
	correct int
}

func softmaxCrossEntropy(logits *gorgonia.Node, ce *crossEntropy) (*gorgonia.Node, error) {
	ce.labels = make([]int, logits.Shape()[0])
	return gorgop.CrossEntropy(logits, func(i int) int { return ce.labels[i] }, &ce.correct)
}

func b2f(b bool) float32 {
	if b {
		return 1
	}
	return 0
}
