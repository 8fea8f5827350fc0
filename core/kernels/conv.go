package kernels

import "fmt"

// Conv2dParams describes a 2-D convolution over NCHW input with OIHW weights
// (I = C/Groups), as torch.nn.functional.conv2d defines it. Zero strides, dilations and
// groups mean 1. The epilogue adds Bias (if given), then Residual (if given, shaped like
// the output), then applies ReLU if set: the fused form of a ResNet block's tail.
type Conv2dParams struct {
	N, C, H, W       int
	O, KH, KW        int
	StrideH, StrideW int
	PadH, PadW       int
	DilH, DilW       int
	Groups           int
	ReLU             bool
	Residual         []float32
}

func one(v int) int {
	if v <= 0 {
		return 1
	}
	return v
}

func (p Conv2dParams) norm() Conv2dParams {
	p.StrideH, p.StrideW = one(p.StrideH), one(p.StrideW)
	p.DilH, p.DilW = one(p.DilH), one(p.DilW)
	p.Groups = one(p.Groups)
	return p
}

// OutH is the output height.
func (p Conv2dParams) OutH() int {
	p = p.norm()
	return (p.H+2*p.PadH-p.DilH*(p.KH-1)-1)/p.StrideH + 1
}

// OutW is the output width.
func (p Conv2dParams) OutW() int {
	p = p.norm()
	return (p.W+2*p.PadW-p.DilW*(p.KW-1)-1)/p.StrideW + 1
}

// convGeom is the geometry the im2col packer and the driver share; padding is given as
// the top/left amount with the output size explicit, so causal 1-D padding fits too.
type convGeom struct {
	n, c, h, w     int
	o, kh, kw      int
	sh, sw, ph, pw int
	dh, dw         int
	groups         int
	oh, ow         int
	relu           bool
	residual       []float32
}

// im2colB presents the im2col matrix of one group (rows c·kh·kw, columns over images and
// output pixels) to the GEMM as a B source, so it is built panel by panel while packing
// and never materialised.
type im2colB struct {
	x         []float32
	imgStride int
	cg        convGeom
}

// colSeg is a run of output pixels of one image and one output row inside a panel;
// iy0/ix0 are the input coordinates of its first pixel before the kernel offset.
type colSeg struct{ base, iy0, ix0, l, col int }

func (s *im2colB) packB(dst []float32, p0, kc, j0, nc, nr int) {
	g := &s.cg
	ohw := g.oh * g.ow
	khw := g.kh * g.kw
	chw := g.h * g.w
	c0, r0 := p0/khw, p0%khw
	ky0, kx0 := r0/g.kw, r0%g.kw
	var segs [64]colSeg
	for q := 0; q*nr < nc; q++ {
		wdt := min(nr, nc-q*nr)
		pan := dst[q*kc*nr : (q+1)*kc*nr]
		ns := 0
		for j, col := j0+q*nr, 0; col < wdt; {
			img, pix := j/ohw, j%ohw
			oy, ox := pix/g.ow, pix%g.ow
			l := min(wdt-col, g.ow-ox)
			segs[ns] = colSeg{base: img * s.imgStride, iy0: oy*g.sh - g.ph, ix0: ox*g.sw - g.pw, l: l, col: col}
			ns++
			j += l
			col += l
		}
		// The common case, a whole 32-wide panel inside one output row with unit
		// stride, becomes one fixed-size copy per row: no call, no clipping.
		whole := ns == 1 && wdt == 32 && nr == 32 && g.sw == 1
		c, ky, kx := c0, ky0, kx0
		for p := 0; p < kc; p++ {
			row := pan[p*nr : (p+1)*nr]
			coff := c * chw
			if wdt < nr {
				clear(row[wdt:])
			}
			for _, sg := range segs[:ns] {
				out := row[sg.col : sg.col+sg.l]
				iy := sg.iy0 + ky*g.dh
				if iy < 0 || iy >= g.h {
					clear(out)
					continue
				}
				off := sg.base + coff + iy*g.w
				ix0 := sg.ix0 + kx*g.dw
				if g.sw == 1 {
					if whole && ix0 >= 0 && ix0+32 <= g.w {
						*(*[32]float32)(out) = *(*[32]float32)(s.x[off+ix0 : off+ix0+32])
						continue
					}
					lo := min(sg.l, max(0, -ix0))
					hi := max(lo, min(sg.l, g.w-ix0))
					clear(out[:lo])
					if lo < hi { // a segment wholly inside the padding reads nothing
						copy(out[lo:hi], s.x[off+ix0+lo:off+ix0+hi])
					}
					clear(out[hi:])
					continue
				}
				// Strided: the in-range outputs are t in [lo, hi), a branch-free gather.
				src := s.x[off : off+g.w]
				lo := 0
				if ix0 < 0 {
					lo = min(sg.l, (-ix0+g.sw-1)/g.sw)
				}
				hi := max(lo, min(sg.l, (g.w-ix0+g.sw-1)/g.sw))
				clear(out[:lo])
				for t, ix := lo, ix0+lo*g.sw; t < hi; t, ix = t+1, ix+g.sw {
					out[t] = src[ix]
				}
				clear(out[hi:])
			}
			if kx++; kx == g.kw {
				kx = 0
				if ky++; ky == g.kh {
					ky = 0
					c++
				}
			}
		}
	}
}

// Conv2d computes out = conv2d(x, w) + bias with the fused epilogue of p. x is
// N×C×H×W, w is O×(C/Groups)×KH×KW, bias has O elements or is nil, out is
// N×O×OutH×OutW. ws holds the temporaries; nil allocates. Large weights are read in
// place where the CPU has a kernel for it; otherwise the weights are packed on every
// call, and layers that run many times should pack them once with PackConv2d.
func Conv2d(p Conv2dParams, x, w, bias, out []float32, ws *Workspace) {
	g := geomOf(p)
	var pc *PackedConv
	if ws != nil {
		pc = &ws.pc
	} else {
		pc = new(PackedConv)
	}
	if bestImpl.kernLda != nil && g.o*g.c/max(g.groups, 1)*g.kh*g.kw >= inPlaceWeights {
		// Large weights are read in place: packing 2.4M floats per call took longer
		// than a 7×7 image's arithmetic. Small ones pack faster than they run.
		pc.packInPlace(bestImpl, g, w)
	} else {
		pc.pack(bestImpl, g, w)
	}
	pc.run(g, x, bias, out, ws, "conv2d")
}

func conv(g convGeom, x, w, bias, out []float32, ws *Workspace, op string) {
	if g.c%g.groups != 0 || g.o%g.groups != 0 {
		panic(fmt.Sprintf("kernels: %s: %d input and %d output channels do not split into %d groups", op, g.c, g.o, g.groups))
	}
	if g.oh <= 0 || g.ow <= 0 {
		panic(fmt.Sprintf("kernels: %s: empty output %d×%d from input %d×%d", op, g.oh, g.ow, g.h, g.w))
	}
	cg, og := g.c/g.groups, g.o/g.groups
	kdim := cg * g.kh * g.kw
	ohw := g.oh * g.ow
	need := func(name string, s []float32, n int) {
		if len(s) < n {
			panic(fmt.Sprintf("kernels: %s: %s has %d elements, needs %d", op, name, len(s), n))
		}
	}
	need("x", x, g.n*g.c*g.h*g.w)
	need("w", w, g.o*kdim)
	need("out", out, g.n*g.o*ohw)
	if bias != nil {
		need("bias", bias, g.o)
	}
	if g.residual != nil {
		need("residual", g.residual, g.n*g.o*ohw)
	}
	if bestImpl.direct != nil && g.sh == 1 && g.sw == 1 && directWins(g) {
		convDirect(g, x, w, out, ws)
		epilogue(g.n, g.o, ohw, bias, g.residual, g.relu, out)
		return
	}
	pointwise := g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0 && g.oh == g.h && g.ow == g.w
	// Small images: one GEMM over every image of the batch keeps the N dimension wide
	// enough for the micro-kernel, at the price of a copy into NCHW afterwards.
	batched := g.n > 1 && ohw < 256 && !pointwise
	ctx := defaultCtx()
	var tmp []float32
	if batched {
		tmp = ws.floats(og * g.n * ohw)
	}
	ctx.mu.Lock()
	for grp := 0; grp < g.groups; grp++ {
		wg := w[grp*og*kdim:]
		if batched {
			ctx.cB = im2colB{x: x[grp*cg*g.h*g.w:], imgStride: g.c * g.h * g.w, cg: g}
			ctx.gemm(bestImpl, false, og, g.n*ohw, kdim, 1, wg, kdim, &ctx.cB, 0, tmp, g.n*ohw)
			for img := 0; img < g.n; img++ {
				for o := 0; o < og; o++ {
					copy(out[(img*g.o+grp*og+o)*ohw:(img*g.o+grp*og+o+1)*ohw], tmp[o*g.n*ohw+img*ohw:])
				}
			}
			continue
		}
		for img := 0; img < g.n; img++ {
			xi := x[(img*g.c+grp*cg)*g.h*g.w:]
			oi := out[(img*g.o+grp*og)*ohw:]
			if pointwise {
				ctx.dB = denseB{b: xi, ldb: ohw}
				ctx.gemm(bestImpl, false, og, ohw, kdim, 1, wg, kdim, &ctx.dB, 0, oi, ohw)
				continue
			}
			ctx.cB = im2colB{x: xi, imgStride: 0, cg: g}
			ctx.gemm(bestImpl, false, og, ohw, kdim, 1, wg, kdim, &ctx.cB, 0, oi, ohw)
		}
	}
	ctx.cB, ctx.dB = im2colB{}, denseB{}
	ctx.mu.Unlock()
	epilogue(g.n, g.o, ohw, bias, g.residual, g.relu, out)
}

// epilogue adds bias per channel and the residual, then applies ReLU, in one pass.
func epilogue(n, o, hw int, bias, residual []float32, relu bool, out []float32) {
	if bias == nil && residual == nil && !relu {
		return
	}
	for img := 0; img < n; img++ {
		for ch := 0; ch < o; ch++ {
			off := (img*o + ch) * hw
			row := out[off : off+hw]
			var b float32
			if bias != nil {
				b = bias[ch]
			}
			var res []float32
			if residual != nil {
				res = residual[off : off+hw]
			}
			epilogueRow(row, row, b, res, relu)
		}
	}
}

// Conv1dParams describes a 1-D convolution over N×C×L input with O×(C/Groups)×K
// weights. Padding pads both ends; Causal instead pads Dilation·(K−1) on the left only,
// so output t sees inputs up to t (WaveNet). Zero stride, dilation and groups mean 1.
type Conv1dParams struct {
	N, C, L  int
	O, K     int
	Stride   int
	Padding  int
	Dilation int
	Groups   int
	Causal   bool
	ReLU     bool
	Residual []float32
}

// OutL is the output length.
func (p Conv1dParams) OutL() int {
	s, d := one(p.Stride), one(p.Dilation)
	if p.Causal {
		return (p.L-1)/s + 1
	}
	return (p.L+2*p.Padding-d*(p.K-1)-1)/s + 1
}

// Conv1d computes out = conv1d(x, w) + bias (N×O×OutL) with p's epilogue.
func Conv1d(p Conv1dParams, x, w, bias, out []float32, ws *Workspace) {
	pad := p.Padding
	if p.Causal {
		pad = one(p.Dilation) * (p.K - 1)
	}
	g := convGeom{n: p.N, c: p.C, h: 1, w: p.L, o: p.O, kh: 1, kw: p.K,
		sh: 1, sw: one(p.Stride), ph: 0, pw: pad, dh: 1, dw: one(p.Dilation),
		groups: one(p.Groups), oh: 1, ow: p.OutL(), relu: p.ReLU, residual: p.Residual}
	conv(g, x, w, bias, out, ws, "conv1d")
}

// directWins compares what each stride-1 method spends besides the arithmetic: the
// direct form re-packs the weights per column chunk of every image; im2col packs the
// expanded input (at about twice the cost per element) and the weights about once.
func directWins(g convGeom) bool {
	k := g.c / g.groups * g.kh * g.kw
	wp := g.ow + (g.kw-1)*g.dw
	panels := (g.oh*wp + 31) / 32
	chunks := max(1, min(8, panels/8))
	direct := g.n * chunks * g.o * k
	im2col := 2*k*g.n*g.oh*g.ow*g.groups + g.o*k // both pack the weights at least once
	return direct < im2col
}

// convDirect runs a stride-1 convolution through directConv: the input is copied once
// into a zero-padded buffer (unless it needs no padding), and the output is computed in
// the padded width and cropped unless the widths agree.
func convDirect(g convGeom, x, w, out []float32, ws *Workspace) {
	cg, og := g.c/g.groups, g.o/g.groups
	taps := g.kh * g.kw
	hp := g.oh + (g.kh-1)*g.dh
	wp := g.ow + (g.kw-1)*g.dw
	pad := g.ph != 0 || g.pw != 0 || hp != g.h || wp != g.w
	inPlace := wp == g.ow
	xpN, ctN := 0, 0
	if pad {
		xpN = g.c * hp * wp
	}
	if !inPlace {
		ctN = og * g.oh * wp
	}
	buf := ws.floats(xpN + ctN)
	xpBuf, ctmp := buf[:xpN], buf[xpN:]
	ohw := g.oh * g.ow
	ctx := defaultCtx()
	ctx.mu.Lock()
	defer ctx.mu.Unlock()
	d := &ctx.dc
	if cap(d.offs) < taps {
		d.offs = make([]int, taps)
	}
	d.offs = d.offs[:taps]
	for ky := 0; ky < g.kh; ky++ {
		for kx := 0; kx < g.kw; kx++ {
			d.offs[ky*g.kw+kx] = ky*g.dh*wp + kx*g.dw
		}
	}
	for img := 0; img < g.n; img++ {
		xi := x[img*g.c*g.h*g.w : (img+1)*g.c*g.h*g.w]
		if pad {
			padImage(xi, xpBuf, g.c, g.h, g.w, hp, wp, g.ph, g.pw)
			xi = xpBuf
		}
		for grp := 0; grp < g.groups; grp++ {
			*d = directConv{w: w[grp*og*cg*taps:], lda: cg * taps, taps: taps, offs: d.offs, cg: cg,
				xp: xi[grp*cg*hp*wp:], ldb: hp * wp, m: og, n: (g.oh-1)*wp + g.ow, alpha: 1}
			if inPlace {
				d.c, d.ldc = out[(img*g.o+grp*og)*ohw:], ohw
			} else {
				d.c, d.ldc = ctmp, g.oh*wp
			}
			ctx.runDirect(bestImpl)
			if !inPlace {
				for o := 0; o < og; o++ {
					dst := out[(img*g.o+grp*og+o)*ohw:]
					for oy := 0; oy < g.oh; oy++ {
						copy(dst[oy*g.ow:oy*g.ow+g.ow], ctmp[o*g.oh*wp+oy*wp:])
					}
				}
			}
		}
	}
	offs := d.offs
	*d = directConv{offs: offs}
}

// padImage copies c planes of h×w into hp×wp planes at offset (ph, pw), zeroing the rest.
func padImage(x, xp []float32, c, h, w, hp, wp, ph, pw int) {
	for ch := 0; ch < c; ch++ {
		plane := xp[ch*hp*wp : (ch+1)*hp*wp]
		src := x[ch*h*w : (ch+1)*h*w]
		for y := 0; y < hp; y++ {
			row := plane[y*wp : (y+1)*wp]
			sy := y - ph
			if sy < 0 || sy >= h {
				clear(row)
				continue
			}
			lo := min(wp, max(0, pw))
			hi := min(wp, pw+w)
			clear(row[:lo])
			copy(row[lo:hi], src[sy*w+lo-pw:])
			clear(row[hi:])
		}
	}
}
