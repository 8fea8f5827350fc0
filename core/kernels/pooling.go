package kernels

import "math"

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
	sh, sw := p.strides()
	oh, ow := p.OutH(), p.OutW()
	for pl := 0; pl < p.N*p.C; pl++ {
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
