package kernels

import (
	"fmt"
	"math"
)

// Pool2dParams describes max or average pooling over N×C×H×W input, as
// torch.nn.functional.max_pool2d / avg_pool2d define it (floor mode). A zero stride
// means the kernel size. CountIncludePad (PyTorch's default true) makes average pooling
// divide by the full window, padding included.
type Pool2dParams struct {
	N, C, H, W      int
	KH, KW          int
	StrideH         int
	StrideW         int
	PadH, PadW      int
	CountIncludePad bool
}

func (p Pool2dParams) strides() (int, int) {
	sh, sw := p.StrideH, p.StrideW
	if sh <= 0 {
		sh = p.KH
	}
	if sw <= 0 {
		sw = p.KW
	}
	return sh, sw
}

// OutH is the output height.
func (p Pool2dParams) OutH() int { sh, _ := p.strides(); return (p.H+2*p.PadH-p.KH)/sh + 1 }

// OutW is the output width.
func (p Pool2dParams) OutW() int { _, sw := p.strides(); return (p.W+2*p.PadW-p.KW)/sw + 1 }

// MaxPool2d writes the window maxima of x to out (N×C×OutH×OutW). Padding never wins.
func MaxPool2d(p Pool2dParams, x, out []float32) {
	pool2d(p, x, out, true)
}

// AvgPool2d writes the window means of x to out (N×C×OutH×OutW).
func AvgPool2d(p Pool2dParams, x, out []float32) {
	pool2d(p, x, out, false)
}

func pool2d(p Pool2dParams, x, out []float32, isMax bool) {
	oh, ow := p.OutH(), p.OutW()
	planes := p.N * p.C
	if oh <= 0 || ow <= 0 || planes <= 0 {
		return
	}
	// Check here: a panic on a worker goroutine could not be recovered.
	if len(x) < planes*p.H*p.W || len(out) < planes*oh*ow {
		panic(fmt.Sprintf("kernels: pool2d: x has %d elements and out %d, need %d and %d",
			len(x), len(out), planes*p.H*p.W, planes*oh*ow))
	}
	ctx := defaultCtx()
	ctx.mu.Lock()
	defer ctx.mu.Unlock()
	for w := range ctx.ws {
		ctx.ws[w].pool = grow(ctx.ws[w].pool, p.H*ow+ow)
	}
	ctx.poolJ = pool2dJob{g: ctx, p: p, x: x, out: out, isMax: isMax, per: planes}
	if ctx.pool.n == 1 || planes < 2 || planes*oh*ow*p.KH*p.KW < 1<<17 {
		ctx.poolJ.run(0, 0)
	} else {
		// ResNet's stem max-pool and Inception's pool branches are a few percent of
		// the network each: worth both cores.
		tasks := min(planes, 4*ctx.pool.n)
		ctx.poolJ.per = (planes + tasks - 1) / tasks
		ctx.pool.Run((planes+ctx.poolJ.per-1)/ctx.poolJ.per, &ctx.poolJ)
	}
	ctx.poolJ = pool2dJob{}
}

type pool2dJob struct {
	g      *gemmCtx
	p      Pool2dParams
	x, out []float32
	isMax  bool
	per    int
}

func (j *pool2dJob) run(worker, task int) {
	lo := task * j.per
	poolPlanesSep(j.p, j.x, j.out, j.isMax, lo, min(j.p.N*j.p.C, lo+j.per), j.g.ws[worker].pool)
}

// poolPlanesSep pools planes [lo, hi) as two one-dimensional passes, along rows into
// tmp (H×OutW, then OutW floats of column counts) and then down the columns: KH+KW
// operations per output instead of KH·KW, in loops long enough to run fast.
func poolPlanesSep(p Pool2dParams, x, out []float32, isMax bool, lo, hi int, tmp []float32) {
	sh, sw := p.strides()
	oh, ow := p.OutH(), p.OutW()
	hrows := tmp[:p.H*ow]
	colCnt := tmp[p.H*ow : p.H*ow+ow]
	for ox := 0; ox < ow; ox++ {
		x0 := ox*sw - p.PadW
		n := min(x0+p.KW, p.W) - max(x0, 0)
		if p.CountIncludePad {
			n = min(x0+p.KW, p.W+p.PadW) - x0
		}
		colCnt[ox] = float32(n)
	}
	// Output columns [oxA, oxB) have their whole window inside the row.
	oxA, oxB := min(ow, (p.PadW+sw-1)/sw), 0
	if last := p.W + p.PadW - p.KW; last >= 0 {
		oxB = min(ow, last/sw+1)
	}
	oxB = max(oxA, oxB)
	inf := float32(math.Inf(-1))
	for pl := lo; pl < hi; pl++ {
		src := x[pl*p.H*p.W : (pl+1)*p.H*p.W]
		dst := out[pl*oh*ow : (pl+1)*oh*ow]
		for y := 0; y < p.H; y++ {
			row := src[y*p.W : (y+1)*p.W]
			h := hrows[y*ow : (y+1)*ow]
			for ox := 0; ox < ow; ox++ {
				if ox == oxA && oxB > oxA {
					poolRowInterior(h[oxA:oxB], row[oxA*sw-p.PadW:], sw, p.KW, isMax)
					ox = oxB - 1
					continue
				}
				x0 := ox*sw - p.PadW
				win := row[max(x0, 0):min(x0+p.KW, p.W)]
				v := float32(0)
				if isMax {
					v = inf
				}
				for _, e := range win {
					if isMax {
						v = max(v, e)
					} else {
						v += e
					}
				}
				h[ox] = v
			}
		}
		for oy := 0; oy < oh; oy++ {
			y0 := oy*sh - p.PadH
			ya, yb := max(y0, 0), min(y0+p.KH, p.H)
			d := dst[oy*ow : (oy+1)*ow]
			if ya >= yb {
				v := float32(0)
				if isMax {
					v = inf
				}
				for i := range d {
					d[i] = v
				}
				continue
			}
			copy(d, hrows[ya*ow:(ya+1)*ow])
			for y := ya + 1; y < yb; y++ {
				r := hrows[y*ow : (y+1)*ow]
				r = r[:len(d)]
				if isMax {
					for i, v := range r {
						d[i] = max(d[i], v)
					}
				} else {
					for i, v := range r {
						d[i] += v
					}
				}
			}
			if isMax {
				continue
			}
			rows := float32(yb - ya)
			if p.CountIncludePad {
				rows = float32(min(y0+p.KH, p.H+p.PadH) - y0)
			}
			cc := colCnt[:len(d)]
			for i := range d {
				d[i] /= rows * cc[i]
			}
		}
	}
}

// poolRowInterior reduces windows of k elements, stride s, of row into h (the windows
// all lie inside row).
func poolRowInterior(h, row []float32, s, k int, isMax bool) {
	if k == 3 && s <= 2 {
		// The common 3-wide window, unrolled.
		row = row[:(len(h)-1)*s+3]
		for i := range h {
			b := i * s
			w := row[b : b+3 : b+3]
			if isMax {
				h[i] = max(w[0], w[1], w[2])
			} else {
				h[i] = w[0] + w[1] + w[2]
			}
		}
		return
	}
	for i := range h {
		w := row[i*s : i*s+k]
		v := w[0]
		for _, e := range w[1:] {
			if isMax {
				v = max(v, e)
			} else {
				v += e
			}
		}
		h[i] = v
	}
}

// poolPlanes pools planes [lo, hi) straight from the definition: the reference the
// tests hold poolPlanesSep to.
func poolPlanes(p Pool2dParams, x, out []float32, isMax bool, lo, hi int) {
	sh, sw := p.strides()
	oh, ow := p.OutH(), p.OutW()
	for pl := lo; pl < hi; pl++ {
		src := x[pl*p.H*p.W : (pl+1)*p.H*p.W]
		dst := out[pl*oh*ow : (pl+1)*oh*ow]
		for oy := 0; oy < oh; oy++ {
			y0 := oy*sh - p.PadH
			y1 := min(y0+p.KH, p.H)
			for ox := 0; ox < ow; ox++ {
				x0 := ox*sw - p.PadW
				x1 := min(x0+p.KW, p.W)
				if isMax {
					m := float32(math.Inf(-1))
					for y := max(y0, 0); y < y1; y++ {
						for _, v := range src[y*p.W+max(x0, 0) : y*p.W+x1] {
							m = max(m, v)
						}
					}
					dst[oy*ow+ox] = m
					continue
				}
				var s float32
				for y := max(y0, 0); y < y1; y++ {
					for _, v := range src[y*p.W+max(x0, 0) : y*p.W+x1] {
						s += v
					}
				}
				cnt := (y1 - max(y0, 0)) * (x1 - max(x0, 0))
				if p.CountIncludePad {
					cnt = (min(y0+p.KH, p.H+p.PadH) - y0) * (min(x0+p.KW, p.W+p.PadW) - x0)
				}
				dst[oy*ow+ox] = s / float32(cnt)
			}
		}
	}
}

// AdaptiveAvgPool2d averages x (n·c planes of h×w) into oh×ow bins with PyTorch's bin
// edges: start = ⌊i·h/oh⌋, end = ⌈(i+1)·h/oh⌉.
func AdaptiveAvgPool2d(n, c, h, w, oh, ow int, x, out []float32) {
	for pl := 0; pl < n*c; pl++ {
		src := x[pl*h*w : (pl+1)*h*w]
		dst := out[pl*oh*ow : (pl+1)*oh*ow]
		for i := 0; i < oh; i++ {
			y0, y1 := i*h/oh, ((i+1)*h+oh-1)/oh
			for j := 0; j < ow; j++ {
				x0, x1 := j*w/ow, ((j+1)*w+ow-1)/ow
				var s float32
				for y := y0; y < y1; y++ {
					for _, v := range src[y*w+x0 : y*w+x1] {
						s += v
					}
				}
				dst[i*ow+j] = s / float32((y1-y0)*(x1-x0))
			}
		}
	}
}
