package kernels

import "fmt"

// PackedConv is a convolution's weights packed once, at load time, into the A panels
// of the GEMM micro-kernel, so that a call spends its time in the micro-kernel rather
// than in re-packing weights. Run computes the convolution as an implicit GEMM: the
// columns of B (im2col of the input) are gathered straight into packed panels, one
// column chunk per task, and never materialised. A PackedConv is read-only after
// packing and safe for concurrent Run calls (each with its own Workspace).
type PackedConv struct {
	impl *gemmImpl
	geo  convGeom // filter geometry only: n, h, w, oh, ow come with each call
	cg   int      // input channels per group
	og   int      // output channels per group
	taps int      // kh·kw
	// K is blocked by channels: block kb holds channels kb·kcC… for every tap.
	kcC, nKB int
	mPad     int // og rounded up to mr
	grpLen   int // floats of one group's panels
	a        []float32
	// chanMajor orders K within a block as (channel, tap), OIHW's own order, rather
	// than (tap, channel). Measured here: (tap, channel) packs B faster for up to 256
	// channels, (channel, tap) for 512 (7×7 images, panels straddling images).
	chanMajor bool
	// w, when set, holds the OIHW weights that the in-place kernel reads as they are
	// (Conv2d, which would otherwise pack on every call); a then holds only each
	// group's partial last row panel, and K runs (channel, tap).
	w []float32
}

// PackConv2d packs the weights w (O×C/Groups×KH×KW) of the convolution p for Run; the
// N, H, W, ReLU and Residual fields of p are not used here.
func PackConv2d(p Conv2dParams, w []float32) *PackedConv {
	pc := new(PackedConv)
	pc.pack(bestImpl, geomOf(p), w)
	return pc
}

func geomOf(p Conv2dParams) convGeom {
	p = p.norm()
	return convGeom{n: p.N, c: p.C, h: p.H, w: p.W, o: p.O, kh: p.KH, kw: p.KW,
		sh: p.StrideH, sw: p.StrideW, ph: p.PadH, pw: p.PadW, dh: p.DilH, dw: p.DilW,
		groups: p.Groups, oh: p.OutH(), ow: p.OutW(), relu: p.ReLU, residual: p.Residual}
}

// chanMajorChannels is the channel count (per group) from which packed weights use
// the (channel, tap) order; inPlaceWeights the weight count from which Conv2d reads
// the weights in place. Variables so that tests can force every path.
var chanMajorChannels, inPlaceWeights = 512, 1 << 18

// convKC is the target K block (taps × channels) of the implicit GEMM: the B
// micro-panel (convKC×32 floats, 36 KiB) stays in L1 across the sweep over A.
const convKC = 288

// pack lays the weights out as groups × K blocks × row panels × (taps·kc) × mr.
func (pc *PackedConv) pack(impl *gemmImpl, g convGeom, w []float32) {
	if g.groups <= 0 || g.c%g.groups != 0 || g.o%g.groups != 0 {
		panic(fmt.Sprintf("kernels: pack conv: %d input and %d output channels do not split into %d groups", g.c, g.o, g.groups))
	}
	pc.impl = impl
	pc.w = nil
	pc.geo = convGeom{c: g.c, o: g.o, kh: g.kh, kw: g.kw, sh: g.sh, sw: g.sw, ph: g.ph, pw: g.pw,
		dh: g.dh, dw: g.dw, groups: g.groups}
	pc.cg, pc.og = g.c/g.groups, g.o/g.groups
	pc.taps = g.kh * g.kw
	pc.chanMajor = pc.cg >= chanMajorChannels
	mr := impl.mr
	kcMax := max(1, convKC/pc.taps)
	pc.nKB = (pc.cg + kcMax - 1) / kcMax
	pc.kcC = (pc.cg + pc.nKB - 1) / pc.nKB
	pc.mPad = roundUp(pc.og, mr)
	pc.grpLen = pc.mPad * pc.cg * pc.taps
	k := pc.cg * pc.taps
	if len(w) < g.o*k {
		panic(fmt.Sprintf("kernels: pack conv: weight has %d elements, needs %d", len(w), g.o*k))
	}
	pc.a = grow(pc.a, g.groups*pc.grpLen)
	ctx := defaultCtx()
	ctx.mu.Lock()
	defer ctx.mu.Unlock()
	// Conv2d packs on every call, and a 512-channel 3×3 layer's 2.4M weights are
	// worth both cores.
	mPan := pc.mPad / mr
	ctx.packCJ = packConvJob{pc: pc, w: w, perBlk: (mPan + packPanelsPerTask - 1) / packPanelsPerTask}
	tasks := g.groups * pc.nKB * ctx.packCJ.perBlk
	workers := ctx.pool.n
	if len(pc.a) < 1<<16 {
		workers = 1
	}
	ctx.runJobs(workers, tasks, &ctx.packCJ)
	ctx.packCJ = packConvJob{}
}

// packInPlace prepares w (O×C/Groups×KH×KW) for the kernel that reads A in place: only
// each group's partial last row panel is packed, so the cost per call is a few rows.
func (pc *PackedConv) packInPlace(impl *gemmImpl, g convGeom, w []float32) {
	if g.groups <= 0 || g.c%g.groups != 0 || g.o%g.groups != 0 {
		panic(fmt.Sprintf("kernels: conv2d: %d input and %d output channels do not split into %d groups", g.c, g.o, g.groups))
	}
	pc.impl = impl
	pc.geo = convGeom{c: g.c, o: g.o, kh: g.kh, kw: g.kw, sh: g.sh, sw: g.sw, ph: g.ph, pw: g.pw,
		dh: g.dh, dw: g.dw, groups: g.groups}
	pc.cg, pc.og = g.c/g.groups, g.o/g.groups
	pc.taps = g.kh * g.kw
	mr := impl.mr
	kcMax := max(1, convKC/pc.taps)
	pc.nKB = (pc.cg + kcMax - 1) / kcMax
	pc.kcC = (pc.cg + pc.nKB - 1) / pc.nKB
	pc.mPad = roundUp(pc.og, mr)
	k := pc.cg * pc.taps
	if len(w) < g.o*k {
		panic(fmt.Sprintf("kernels: conv2d: weight has %d elements, needs %d", len(w), g.o*k))
	}
	pc.w = w
	pc.chanMajor = true
	pc.grpLen = k * mr
	full := pc.og / mr
	rows := pc.og - full*mr
	if rows == 0 {
		pc.a = pc.a[:0]
		return
	}
	pc.a = grow(pc.a, g.groups*pc.grpLen)
	for grp := 0; grp < g.groups; grp++ {
		for kb := 0; kb < pc.nKB; kb++ {
			c0 := kb * pc.kcC
			kc := min(pc.kcC, pc.cg-c0)
			packA(pc.a[grp*pc.grpLen+c0*pc.taps*mr:], w[grp*pc.og*k:], k, false, 1, full*mr, rows, c0*pc.taps, kc*pc.taps, mr)
		}
	}
}

// packPanelsPerTask is how many row panels of one K block a packing task writes.
const packPanelsPerTask = 8

// packConvJob packs packPanelsPerTask row panels of one K block of one group per task.
type packConvJob struct {
	pc     *PackedConv
	w      []float32
	perBlk int
}

func (j *packConvJob) run(_, task int) {
	pc := j.pc
	mr := pc.impl.mr
	blk := task / j.perBlk
	grp, kb := blk/pc.nKB, blk%pc.nKB
	q0 := task % j.perBlk * packPanelsPerTask
	q1 := min(pc.mPad/mr, q0+packPanelsPerTask)
	c0 := kb * pc.kcC
	kc := min(pc.kcC, pc.cg-c0)
	k := pc.cg * pc.taps
	dst := pc.a[grp*pc.grpLen+c0*pc.taps*pc.mPad+q0*pc.taps*kc*mr:]
	if pc.chanMajor {
		packA(dst, j.w[grp*pc.og*k:], k, false, 1, q0*mr, min(pc.og, q1*mr)-q0*mr, c0*pc.taps, kc*pc.taps, mr)
		return
	}
	packATaps(dst, j.w[grp*pc.og*k:], k, pc.taps, q0*mr, min(pc.og, q1*mr)-q0*mr, c0, kc, mr)
}

// panel returns the packed A of group grp, K block kb, row panel q (taps·kc×mr floats);
// with in-place weights, only the partial last panel is packed.
func (pc *PackedConv) panel(grp, kb, q int) []float32 {
	c0 := kb * pc.kcC
	kc := min(pc.kcC, pc.cg-c0)
	if pc.w != nil {
		off := grp*pc.grpLen + c0*pc.taps*pc.impl.mr
		return pc.a[off : off+pc.taps*kc*pc.impl.mr]
	}
	off := grp*pc.grpLen + c0*pc.taps*pc.mPad + q*pc.taps*kc*pc.impl.mr
	return pc.a[off : off+pc.taps*kc*pc.impl.mr]
}

// Run computes out = conv2d(x, w) + bias with p's epilogue (Residual, ReLU), like
// Conv2d with the weights given to PackConv2d. p must describe the same filter (C, O,
// KH, KW, strides, padding, dilation, groups); N, H and W may change from call to call.
func (pc *PackedConv) Run(p Conv2dParams, x, bias, out []float32, ws *Workspace) {
	g := geomOf(p)
	pc.check(g, "conv2d")
	pc.run(g, x, bias, out, ws, "conv2d")
}

func (pc *PackedConv) check(g convGeom, op string) {
	f := pc.geo
	if g.c != f.c || g.o != f.o || g.kh != f.kh || g.kw != f.kw || g.sh != f.sh || g.sw != f.sw ||
		g.ph != f.ph || g.pw != f.pw || g.dh != f.dh || g.dw != f.dw || g.groups != f.groups {
		panic(fmt.Sprintf("kernels: %s: parameters (C %d, O %d, kernel %d×%d, stride %d×%d, pad %d×%d, dilation %d×%d, groups %d) differ from the packed weights' (C %d, O %d, kernel %d×%d, stride %d×%d, pad %d×%d, dilation %d×%d, groups %d)",
			op, g.c, g.o, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.groups,
			f.c, f.o, f.kh, f.kw, f.sh, f.sw, f.ph, f.pw, f.dh, f.dw, f.groups))
	}
}

func checkConvSizes(g convGeom, x, bias, out []float32, op string) {
	if g.oh <= 0 || g.ow <= 0 {
		panic(fmt.Sprintf("kernels: %s: empty output %d×%d from input %d×%d", op, g.oh, g.ow, g.h, g.w))
	}
	ohw := g.oh * g.ow
	need := func(name string, s []float32, n int) {
		if len(s) < n {
			panic(fmt.Sprintf("kernels: %s: %s has %d elements, needs %d", op, name, len(s), n))
		}
	}
	need("x", x, g.n*g.c*g.h*g.w)
	need("out", out, g.n*g.o*ohw)
	if bias != nil {
		need("bias", bias, g.o)
	}
	if g.residual != nil {
		need("residual", g.residual, g.n*g.o*ohw)
	}
}

func (pc *PackedConv) run(g convGeom, x, bias, out []float32, ws *Workspace, op string) {
	checkConvSizes(g, x, bias, out, op)
	if g.n == 0 {
		return
	}
	pc.gatherGemm(g, x, bias, out, ws)
}

// convRun is the implicit GEMM in flight, read by the tasks.
type convRun struct {
	pc       *PackedConv
	g        convGeom
	x        []float32 // input; a padded or stride-phase copy when the convolution pads or strides
	plane    int       // floats per channel of x
	rowStep  int       // offset of the next output row's receptive field
	colStep  int       // offset of the next output column's
	imgLen   int       // floats per image of x
	bias     []float32
	out      []float32
	ntot     int // columns: images × output pixels
	nM       int // row blocks per group
	mBlkP    int // row panels per block
	chunkP   int // column panels per chunk
	nChunks  int
	toff     []int // input offset of each tap
	toffBuf  [64]int
	toffHeap []int
}

type convJob struct{ g *gemmCtx }

// gatherGemm runs the implicit GEMM: per task, a block of output channels times a
// chunk of output pixels, over every K block, into a private C buffer that the
// epilogue then writes to NCHW with bias, residual and ReLU.
func (pc *PackedConv) gatherGemm(g convGeom, x, bias, out []float32, ws *Workspace) {
	impl := pc.impl
	mr, nr := impl.mr, impl.nr
	hp, wp := g.h, g.w
	padded := g.ph != 0 || g.pw != 0
	if padded {
		hp, wp = g.h+2*g.ph, g.w+2*g.pw
	}
	plane, rowStep, colStep := hp*wp, g.sh*wp, g.sw
	strided := g.sh > 1 || g.sw > 1
	var hq, wq int
	ctx := defaultCtx()
	ctx.mu.Lock()
	defer ctx.mu.Unlock()
	if strided {
		// Split the padded input into its stride phases (space to depth): tap
		// (ky, kx) then reads phase ((ky·dh) mod sh, (kx·dw) mod sw) with unit stride,
		// so the packer copies runs instead of gathering every other pixel.
		hq, wq = (hp+g.sh-1)/g.sh, (wp+g.sw-1)/g.sw
		plane, rowStep, colStep = g.sh*g.sw*hq*wq, wq, 1
	}
	if strided || padded {
		xp := ws.floats(g.n * g.c * plane)
		ctx.padJ = padJob{g: g, x: x, xp: xp, hp: hp, wp: wp, hq: hq, wq: wq, strided: strided}
		planes := g.n * g.c
		tasks := 1
		if ctx.pool.n > 1 && planes*plane >= 1<<16 {
			tasks = min(planes, 4*ctx.pool.n)
		}
		ctx.padJ.per = (planes + tasks - 1) / tasks
		ctx.runJobs(min(tasks, ctx.pool.n), (planes+ctx.padJ.per-1)/ctx.padJ.per, &ctx.padJ)
		ctx.padJ = padJob{}
		x = xp
	}
	r := &ctx.cv
	*r = convRun{pc: pc, g: g, x: x, plane: plane, rowStep: rowStep, colStep: colStep, imgLen: g.c * plane,
		bias: bias, out: out, ntot: g.n * g.oh * g.ow, toffHeap: r.toffHeap}
	taps := pc.taps
	if taps <= len(r.toffBuf) {
		r.toff = r.toffBuf[:taps]
	} else {
		if cap(r.toffHeap) < taps {
			r.toffHeap = make([]int, taps)
		}
		r.toff = r.toffHeap[:taps]
	}
	for ky := 0; ky < g.kh; ky++ {
		for kx := 0; kx < g.kw; kx++ {
			dy, dx := ky*g.dh, kx*g.dw
			if strided {
				r.toff[ky*g.kw+kx] = (dy%g.sh*g.sw+dx%g.sw)*hq*wq + dy/g.sh*wq + dx/g.sw
			} else {
				r.toff[ky*g.kw+kx] = dy*wp + dx
			}
		}
	}

	workers := ctx.pool.n
	flops := 2 * g.n * g.o * pc.cg * taps * g.oh * g.ow
	if flops < 1<<18 {
		workers = 1
	}
	mPan := pc.mPad / mr
	kMax := taps * pc.kcC
	panelsN := (r.ntot + nr - 1) / nr
	// Rows: blocks of at most ~280 rows, so the private C chunk and the A block of one
	// K block stay in L2 with the B chunk.
	nM := (pc.mPad + 279) / 280
	mBlkP := (mPan + nM - 1) / nM
	// Columns: the private C block (rows × chunk) within 64K floats, the packed B
	// chunk (K block × chunk) within 48K floats.
	chunkP := max(1, min(16, 64<<10/(mBlkP*mr*nr), 48<<10/(kMax*nr)))
	chunkP = min(chunkP, panelsN)
	tasks := func() int { return g.groups * ((mPan + mBlkP - 1) / mBlkP) * ((panelsN + chunkP - 1) / chunkP) }
	if workers > 1 {
		// A few tasks per worker absorb a noisy neighbour; narrower chunks first (B is
		// packed once either way), then more row blocks (each re-packs its B chunk).
		for tasks() < 3*workers && chunkP > 1 {
			chunkP--
		}
		for tasks() < 2*workers && mBlkP > 4 {
			mBlkP = (mBlkP + 1) / 2
		}
	}
	r.mBlkP, r.chunkP = mBlkP, chunkP
	r.nM = (mPan + mBlkP - 1) / mBlkP
	r.nChunks = (panelsN + chunkP - 1) / chunkP
	for w := range ctx.ws {
		wb := &ctx.ws[w]
		wb.b = grow(wb.b, kMax*chunkP*nr)
		wb.cbuf = grow(wb.cbuf, mBlkP*mr*chunkP*nr)
		if cap(wb.cols) < chunkP*nr {
			wb.cols = make([]int, chunkP*nr)
		}
		if cap(wb.rowOff) < kMax {
			wb.rowOff = make([]int, kMax)
		}
	}
	ctx.runJobs(workers, tasks(), &ctx.convJ)
	*r = convRun{toffHeap: r.toffHeap}
}

func (j *convJob) run(worker, task int) {
	ctx := j.g
	r := &ctx.cv
	pc, g := r.pc, &r.g
	impl := pc.impl
	mr, nr, kern := impl.mr, impl.nr, impl.kern
	grp := task / (r.nM * r.nChunks)
	ib := task / r.nChunks % r.nM
	cb := task % r.nChunks
	q0 := ib * r.mBlkP
	q1 := min(pc.mPad/mr, q0+r.mBlkP)
	j0 := cb * r.chunkP * nr
	ncols := min(r.ntot-j0, r.chunkP*nr)
	if q0 >= q1 || ncols <= 0 {
		return
	}
	npan := (ncols + nr - 1) / nr
	ldc := npan * nr
	wb := &ctx.ws[worker]
	// cols[j] is the padded-input offset of column j0+j's receptive field origin.
	cols := wb.cols[:ncols]
	ohw := g.oh * g.ow
	{
		img, pix := j0/ohw, j0%ohw
		oy, ox := pix/g.ow, pix%g.ow
		for j := range cols {
			cols[j] = img*r.imgLen + oy*r.rowStep + ox*r.colStep
			if ox++; ox == g.ow {
				ox = 0
				if oy++; oy == g.oh {
					oy = 0
					img++
				}
			}
		}
	}
	cbuf := wb.cbuf[:(q1-q0)*mr*ldc]
	bbuf := wb.b
	plane := r.plane
	xg := r.x[grp*pc.cg*plane:]
	for kb := 0; kb < pc.nKB; kb++ {
		c0 := kb * pc.kcC
		kc := min(pc.kcC, pc.cg-c0)
		k := pc.taps * kc
		packGather(bbuf, xg[c0*plane:], plane, kc, r.toff, cols, nr, wb.runs[:nr], impl.perm, wb.rowOff, pc.chanMajor)
		mode := 0
		if kb == 0 {
			mode = 1
		}
		for q := 0; q < npan; q++ {
			bq := &bbuf[q*k*nr]
			for ip := q0; ip < q1; ip++ {
				if pc.w != nil && (ip+1)*mr <= pc.og {
					kLen := pc.cg * pc.taps
					impl.kernLda(k, &pc.w[(grp*pc.og+ip*mr)*kLen+c0*pc.taps], kLen, bq, &cbuf[(ip-q0)*mr*ldc+q*nr], ldc, mode)
					continue
				}
				a := pc.panel(grp, kb, ip)
				kr := kern
				if rows := pc.og - ip*mr; rows < mr && impl.tails != nil {
					kr = impl.tails[rows]
				}
				kr(k, &a[0], bq, &cbuf[(ip-q0)*mr*ldc+q*nr], ldc, mode)
			}
		}
	}
	// Epilogue: rows past the real channels are padding; columns run image by image.
	rows := min(pc.og, q1*mr) - q0*mr
	for col := 0; col < ncols; {
		j := j0 + col
		img, pix := j/ohw, j%ohw
		l := min(ncols-col, ohw-pix)
		for rr := 0; rr < rows; rr++ {
			o := grp*pc.og + q0*mr + rr
			off := (img*g.o+o)*ohw + pix
			dst := r.out[off : off+l]
			src := cbuf[rr*ldc+col : rr*ldc+col+l]
			var b float32
			if r.bias != nil {
				b = r.bias[o]
			}
			var res []float32
			if g.residual != nil {
				res = g.residual[off : off+l]
			}
			epilogueRow(dst, src, b, res, g.relu)
		}
		col += l
	}
}

// epilogueRow writes dst = relu?(src + b + res).
func epilogueRow(dst, src []float32, b float32, res []float32, relu bool) {
	if epilogueVec(dst, src, b, res, relu) {
		return
	}
	src = src[:len(dst)]
	switch {
	case res == nil && !relu:
		for i, v := range src {
			dst[i] = v + b
		}
	case res == nil:
		for i, v := range src {
			dst[i] = max(v+b, 0)
		}
	default:
		res = res[:len(dst)]
		for i, v := range src {
			v += b + res[i]
			if relu {
				v = max(v, 0)
			}
			dst[i] = v
		}
	}
}

// packGather packs kc channels × taps rows of the im2col matrix for the columns whose
// input offsets are cols into nr-wide panels, zero-padded past len(cols). The rows run
// (tap, channel), or (channel, tap) when chanMajor (weights read in place in OIHW
// order). x starts at the first channel; plane is the channel stride. runs and rowOff
// are scratch. perm, where the CPU has it, packs a 32-wide panel by vector permutes.
func packGather(dst, x []float32, plane, kc int, toff, cols []int, nr int, runs []colRun, perm bool, rowOff []int, chanMajor bool) {
	taps := len(toff)
	k := taps * kc
	ncols := len(cols)
	rowOff = rowOff[:k]
	for t, to := range toff {
		for c := 0; c < kc; c++ {
			if chanMajor {
				rowOff[c*taps+t] = c*plane + to
			} else {
				rowOff[t*kc+c] = c*plane + to
			}
		}
	}
	for q := 0; q*nr < ncols; q++ {
		w := min(nr, ncols-q*nr)
		pan := dst[q*k*nr : (q+1)*k*nr]
		cq := cols[q*nr : q*nr+w]
		var d permPanel
		if perm && nr == 32 && d.build(cq) {
			packPerm(&pan[0], &x[0], rowOff, &d)
			continue
		}
		// Runs of consecutive input pixels (an output row's stretch of a stride-1
		// convolution) are copied; isolated pixels are gathered one by one.
		nrun := 0
		for i := 0; i < w; {
			l := 1
			for i+l < w && cq[i+l] == cq[i]+l {
				l++
			}
			runs[nrun] = colRun{col: i, off: cq[i], l: l}
			nrun++
			i += l
		}
		gather := nrun > w/4
		for r, off := range rowOff {
			row := pan[r*nr : (r+1)*nr]
			src := x[off:]
			if gather {
				for i, o := range cq {
					row[i] = src[o]
				}
			} else {
				for _, run := range runs[:nrun] {
					copy(row[run.col:run.col+run.l], src[run.off:run.off+run.l])
				}
			}
			if w < nr {
				clear(row[w:])
			}
		}
	}
}

// colRun is a run of l columns, from column col, reading consecutive input pixels from
// offset off.
type colRun struct{ col, off, l int }

// permPanel describes how the AVX-512 packer builds a 32-wide panel row: each 16-lane
// half permutes two 16-float windows of the input row (at offA and offB, loaded under
// masks mA and mB) by idx, and stores the lanes in store (zero elsewhere). The layout
// is fixed by the assembly (internal/gen emitPackPerm).
type permPanel struct {
	h   [2]permHalf
	idx [2][16]int32
}

type permHalf struct {
	offA, offB, mA, mB, store int
	_                         [3]int
}

// build fills d for the columns cq (input offsets, increasing) and reports whether
// each half's columns fit two 16-float windows: one 32-float window, or two windows
// where the half crosses an image or a wide padding gap.
func (d *permPanel) build(cq []int) bool {
	for h := 0; h < 2; h++ {
		lo := h * 16
		if lo >= len(cq) {
			d.h[h] = permHalf{}
			continue
		}
		lanes := cq[lo:min(len(cq), lo+16)]
		first, last := lanes[0], lanes[len(lanes)-1]
		hd := &d.h[h]
		hd.store = 1<<len(lanes) - 1
		if span := last - first + 1; span <= 32 {
			hd.offA, hd.offB = first, first+16
			hd.mA, hd.mB = 1<<min(span, 16)-1, 1<<max(span-16, 0)-1
			for i, o := range lanes {
				d.idx[h][i] = int32(o - first)
			}
			continue
		}
		s := 0
		for s < len(lanes) && lanes[s]-first < 16 {
			s++
		}
		if last-lanes[s] >= 16 {
			return false
		}
		hd.offA, hd.offB = first, lanes[s]
		hd.mA, hd.mB = 1<<(lanes[s-1]-first+1)-1, 1<<(last-lanes[s]+1)-1
		for i, o := range lanes {
			if i < s {
				d.idx[h][i] = int32(o - first)
			} else {
				d.idx[h][i] = int32(16 + o - lanes[s])
			}
		}
	}
	return true
}

// padJob writes the padded (or phase-split) copy of the input, planes per task.
type padJob struct {
	g              convGeom
	x, xp          []float32
	hp, wp, hq, wq int
	strided        bool
	per            int
}

func (j *padJob) run(_, task int) {
	g := &j.g
	lo := task * j.per
	hi := min(g.n*g.c, lo+j.per)
	if lo >= hi {
		return
	}
	x := j.x[lo*g.h*g.w:]
	if j.strided {
		phaseImage(x, j.xp[lo*g.sh*g.sw*j.hq*j.wq:], *g, hi-lo, j.hq, j.wq)
		return
	}
	padImage(x, j.xp[lo*j.hp*j.wp:], hi-lo, g.h, g.w, j.hp, j.wp, g.ph, g.pw)
}

// phaseImage writes c channel planes, zero-padded by (g.ph, g.pw), as their
// g.sh×g.sw stride phases: phase (py, px) of a channel is the hq×wq plane of padded
// pixels (py + sh·i, px + sw·j). Phases no tap reads are left unwritten.
func phaseImage(x, dst []float32, g convGeom, c, hq, wq int) {
	var used [8][8]bool
	usedAll := g.sh > 8 || g.sw > 8
	if !usedAll {
		for ky := 0; ky < g.kh; ky++ {
			for kx := 0; kx < g.kw; kx++ {
				used[ky*g.dh%g.sh][kx*g.dw%g.sw] = true
			}
		}
	}
	pq := hq * wq
	// Output column j of phase px reads input column px + sw·j − pw: those in
	// [lo[px], hi[px]) are inside the image.
	var lo, hi [8]int
	for px := 0; px < min(g.sw, 8); px++ {
		lo[px] = min(wq, max(0, (g.pw-px+g.sw-1)/g.sw))
		hi[px] = min(wq, max(lo[px], (g.w+g.pw-px+g.sw-1)/g.sw))
	}
	for ch := 0; ch < c; ch++ {
		src := x[ch*g.h*g.w : (ch+1)*g.h*g.w]
		for py := 0; py < g.sh; py++ {
			for i := 0; i < hq; i++ {
				iy := py + g.sh*i - g.ph
				// Each input row feeds the sw phases of its py, read while in L1.
				for px := 0; px < g.sw; px++ {
					if !usedAll && !used[py][px] {
						continue
					}
					off := (ch*g.sh*g.sw+py*g.sw+px)*pq + i*wq
					row := dst[off : off+wq]
					if iy < 0 || iy >= g.h {
						clear(row)
						continue
					}
					l, h := 0, wq
					if px < 8 {
						l, h = lo[px], hi[px]
					} else {
						l = min(wq, max(0, (g.pw-px+g.sw-1)/g.sw))
						h = min(wq, max(l, (g.w+g.pw-px+g.sw-1)/g.sw))
					}
					clear(row[:l])
					clear(row[h:])
					if l == h {
						continue
					}
					d := row[l:h]
					sr := src[iy*g.w+px+g.sw*l-g.pw : iy*g.w+px+g.sw*(h-1)-g.pw+1]
					if g.sw == 2 {
						for j := range d {
							d[j] = sr[2*j]
						}
						continue
					}
					for j := range d {
						d[j] = sr[g.sw*j]
					}
				}
			}
		}
	}
}
