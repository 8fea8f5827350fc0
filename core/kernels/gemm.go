package kernels

import (
	"fmt"
	"sync"
	"unsafe"
)

// microKernel computes the mr×nr tile C (+)= Apanel·Bpanel over k rank-1 updates, where
// the panels are packed (mr floats of A and nr floats of B per k). mode 0 adds the
// product to C, mode 1 overwrites C.
type microKernel func(k int, a, b, c *float32, ldc int, mode int)

// gemmImpl is one micro-kernel with its register tile and cache blocks.
type gemmImpl struct {
	name       string
	mr, nr     int
	kc, mc, nc int
	kern       microKernel
	// direct, where the CPU has one, is the same tile reading B in place (row p at
	// b+p·ldb) under lane masks; stride-1 convolutions use it to skip packing B.
	direct directKernel
	// taps is the direct kernel that also loops over a convolution's taps.
	taps tapsKernel
	// perm says that packPerm packs the implicit-GEMM convolution's 32-wide B panels
	// (a flag, not a func value: the descriptor passed through one would escape).
	perm bool
	// tails[r], where present, is the micro-kernel for the first r rows of a tile.
	tails []microKernel
	// kernLda, where present, is the full tile reading A in place (rows lda apart).
	kernLda func(k int, a *float32, lda int, b, c *float32, ldc int, mode int)
}

type tapsKernel func(k int, a, b *float32, ldb int, c *float32, ldc int, mode int, m0, m1 int, offs *int, taps int)

type directKernel func(k int, a, b *float32, ldb int, c *float32, ldc int, mode int, m0, m1 int)

// goImpl is the portable reference, the fallback on CPUs without AVX2+FMA.
var goImpl = &gemmImpl{name: "go", mr: 4, nr: 4, kc: 256, mc: 128, nc: 4096, kern: kernGo}

// Implementation names the micro-kernel Sgemm uses on this CPU ("avx512", "avx2", "go").
func Implementation() string { return bestImpl.name }

// bPacker writes a KC×NC block of the logical matrix B into nr-wide column panels:
// panel q holds columns j0+q·nr… as kc rows of nr floats, zero-padded past nc.
type bPacker interface {
	packB(dst []float32, p0, kc, j0, nc, nr int)
}

// denseB is an ordinary row-major B with a leading dimension, optionally transposed.
type denseB struct {
	b     []float32
	ldb   int
	trans bool
}

func (d *denseB) packB(dst []float32, p0, kc, j0, nc, nr int) {
	for q := 0; q*nr < nc; q++ {
		w := min(nr, nc-q*nr)
		pan := dst[q*kc*nr : (q+1)*kc*nr]
		j := j0 + q*nr
		if !d.trans {
			for p := 0; p < kc; p++ {
				row := pan[p*nr : p*nr+nr]
				copy(row, d.b[(p0+p)*d.ldb+j:(p0+p)*d.ldb+j+w])
				clear(row[w:])
			}
			continue
		}
		if w < nr {
			clear(pan)
		}
		for jj := 0; jj < w; jj++ {
			src := d.b[(j+jj)*d.ldb+p0 : (j+jj)*d.ldb+p0+kc]
			for p, v := range src {
				pan[p*nr+jj] = v
			}
		}
	}
}

// packA writes rows i0..i0+mc, columns p0..p0+kc of alpha·op(A) into mr-row panels.
func packA(dst []float32, a []float32, lda int, trans bool, alpha float32, i0, mc, p0, kc, mr int) {
	for q := 0; q*mr < mc; q++ {
		h := min(mr, mc-q*mr)
		pan := dst[q*kc*mr : (q+1)*kc*mr]
		i := i0 + q*mr
		if h < mr {
			clear(pan)
		}
		if trans {
			for p := 0; p < kc; p++ {
				src := a[(p0+p)*lda+i : (p0+p)*lda+i+h]
				d := pan[p*mr : p*mr+h]
				for r, v := range src {
					d[r] = alpha * v
				}
			}
			continue
		}
		if h == 14 && alpha == 1 {
			packA14(pan, a[i*lda+p0:], lda, kc)
			continue
		}
		// Read the h rows as parallel streams and write the panel in order: sequential
		// stores and prefetch-friendly loads, unlike a row-at-a-time scatter.
		var rows [32][]float32
		for r := 0; r < h; r++ {
			rows[r] = a[(i+r)*lda+p0 : (i+r)*lda+p0+kc]
		}
		for p := 0; p < kc; p++ {
			d := pan[p*mr : p*mr+h]
			for r := range d {
				d[r] = alpha * rows[r][p]
			}
		}
	}
}

// packA14 is packA's common case, a full panel of the AVX-512 kernel's 14 rows without
// scaling: the rows are named so that the compiler drops the bounds checks that made
// the general loop cost a quarter of a small model's time.
func packA14(pan, a []float32, lda, kc int) {
	if kc == 0 {
		return
	}
	_ = a[13*lda+kc-1]
	r0, r1, r2, r3 := a[0:kc], a[lda:lda+kc], a[2*lda:2*lda+kc], a[3*lda:3*lda+kc]
	r4, r5, r6, r7 := a[4*lda:4*lda+kc], a[5*lda:5*lda+kc], a[6*lda:6*lda+kc], a[7*lda:7*lda+kc]
	r8, r9, r10, r11 := a[8*lda:8*lda+kc], a[9*lda:9*lda+kc], a[10*lda:10*lda+kc], a[11*lda:11*lda+kc]
	r12, r13 := a[12*lda:12*lda+kc], a[13*lda:13*lda+kc]
	pan = pan[:kc*14]
	for p := 0; p < kc; p++ {
		d := pan[p*14 : p*14+14 : p*14+14]
		d[0], d[1], d[2], d[3], d[4], d[5], d[6] = r0[p], r1[p], r2[p], r3[p], r4[p], r5[p], r6[p]
		d[7], d[8], d[9], d[10], d[11], d[12], d[13] = r7[p], r8[p], r9[p], r10[p], r11[p], r12[p], r13[p]
	}
}

// gemmCtx owns the worker pool and every packed buffer: allocated once, grown rarely,
// reused by every call. One GEMM runs at a time; it uses all the workers anyway.
type gemmCtx struct {
	mu   sync.Mutex
	pool *pool
	bbuf []float32
	ws   []workerBuf
	dB   denseB
	cB   im2colB
	dc   directConv
	// zeroOff is the tap offset table of a plain GEMM on the direct kernel.
	zeroOff [1]int
	dirJ    directJob
	actJ    actJob
	rowJ    rowJob
	bJ      batchJob
	atJ     attnJob
	cv      convRun
	convJ   convJob
	packCJ  packConvJob
	poolJ   pool2dJob
	padJ    padJob
	pbJ     packedBJob

	// The operation in flight, read by the jobs.
	impl   *gemmImpl
	m, n   int
	k      int
	alpha  float32
	a      []float32
	lda    int
	transA bool
	bsrc   bPacker
	c      []float32
	ldc    int
	beta   float32
	// Current jc/pc block and its task grid.
	jc, ncur, pc, kcur int
	mcBlk, nM, chunk   int
	nChunks            int
	packJ              packJob
	ptasks             int // tasks the current B panel is packed in
	compJ              computeJob
	privJ              privateJob
}

type workerBuf struct {
	a   []float32
	b   []float32 // private B of the single-block path and of serialGemm
	db  denseB
	tmp []float32
	// cbuf and cols are the implicit-GEMM convolution's private C block and the
	// input offsets of its columns.
	cbuf   []float32
	cols   []int
	rowOff []int
	runs   [32]colRun
	pool   []float32 // pooling's row pass
	_      [64]byte
}

type packJob struct{ g *gemmCtx }
type computeJob struct{ g *gemmCtx }
type privateJob struct{ g *gemmCtx }

func newGemmCtx(workers int) *gemmCtx {
	g := &gemmCtx{pool: newPool(workers)}
	g.ws = make([]workerBuf, g.pool.n)
	g.packJ.g = g
	g.compJ.g = g
	g.privJ.g = g
	g.dirJ.g = g
	g.convJ.g = g
	return g
}

// alignedFloats returns n floats whose first element sits on a 64-byte boundary.
func alignedFloats(n int) []float32 {
	s := make([]float32, n+16)
	off := int(uintptr(unsafe.Pointer(&s[0]))&63) / 4
	if off != 0 {
		off = 16 - off
	}
	return s[off : off+n : off+n]
}

func grow(s []float32, n int) []float32 {
	if cap(s) >= n {
		return s[:n]
	}
	return alignedFloats(n)
}

// Sgemm computes C = alpha·op(A)·op(B) + beta·C on row-major matrices, where op(A) is
// m×k, op(B) is k×n and C is m×n, with leading dimensions lda, ldb, ldc as in CBLAS
// row-major. It panics on sizes the slices cannot hold, like a BLAS would report them.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	// A single row or column is a matrix-vector product: memory-bound, where packing
	// a whole operand for one output line would cost more than the product.
	if m == 1 && n > 1 && k > 0 {
		checkMat("a", transA, m, k, a, lda)
		checkMat("c", false, m, n, c, ldc)
		incX := 1
		if transA {
			incX = lda
		}
		if transB { // B is n×k: c = B·a
			Sgemv(false, n, k, alpha, b, ldb, a, incX, beta, c, 1)
		} else { // B is k×n: c = Bᵀ·a
			Sgemv(true, k, n, alpha, b, ldb, a, incX, beta, c, 1)
		}
		return
	}
	if n == 1 && m > 1 && k > 0 {
		checkMat("b", transB, k, n, b, ldb)
		checkMat("c", false, m, n, c, ldc)
		incX := ldb
		if transB {
			incX = 1
		}
		if transA { // A is k×m
			Sgemv(true, k, m, alpha, a, lda, b, incX, beta, c, ldc)
		} else {
			Sgemv(false, m, k, alpha, a, lda, b, incX, beta, c, ldc)
		}
		return
	}
	sgemmImpl(bestImpl, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func sgemmImpl(impl *gemmImpl, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkMat("a", transA, m, k, a, lda)
	checkMat("b", transB, k, n, b, ldb)
	checkMat("c", false, m, n, c, ldc)
	g := defaultCtx()
	g.mu.Lock()
	g.dB = denseB{b: b, ldb: ldb, trans: transB}
	g.gemm(impl, transA, m, n, k, alpha, a, lda, &g.dB, beta, c, ldc)
	g.dB = denseB{}
	g.mu.Unlock()
}

// checkMat panics unless s holds a rows×cols matrix (cols×rows when trans) with leading
// dimension ld.
func checkMat(name string, trans bool, rows, cols int, s []float32, ld int) {
	if rows < 0 || cols < 0 {
		panic(fmt.Sprintf("kernels: sgemm: negative size %d×%d of %s", rows, cols, name))
	}
	if trans {
		rows, cols = cols, rows
	}
	if ld < max(1, cols) {
		panic(fmt.Sprintf("kernels: sgemm: leading dimension %d of %s below its %d columns", ld, name, cols))
	}
	if rows > 0 && cols > 0 && len(s) < (rows-1)*ld+cols {
		panic(fmt.Sprintf("kernels: sgemm: %s has %d elements, needs %d", name, len(s), (rows-1)*ld+cols))
	}
}

// scaleC applies C = beta·C, writing zeros (not 0·NaN) when beta is 0.
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// gemm is the five-loop driver. The caller holds g.mu.
func (g *gemmCtx) gemm(impl *gemmImpl, transA bool, m, n, k int, alpha float32, a []float32, lda int,
	bsrc bPacker, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		if beta != 1 {
			scaleC(m, n, beta, c, ldc)
		}
		return
	}
	if beta != 0 && beta != 1 {
		scaleC(m, n, beta, c, ldc)
		beta = 1
	}
	g.impl, g.m, g.n, g.k = impl, m, n, k
	g.alpha, g.a, g.lda, g.transA = alpha, a, lda, transA
	g.bsrc, g.c, g.ldc, g.beta = bsrc, c, ldc, beta
	mr, nr := impl.mr, impl.nr

	workers := g.pool.n
	if 2*m*n*k < 1<<18 {
		workers = 1 // the fork/join would cost more than the arithmetic
	}
	nM := (m + impl.mc - 1) / impl.mc
	mcBlk := roundUp((m+nM-1)/nM, mr)
	nM = (m + mcBlk - 1) / mcBlk
	g.mcBlk, g.nM = mcBlk, nM

	kcMax := min(impl.kc, k)
	for w := range g.ws {
		g.ws[w].a = grow(g.ws[w].a, kcMax*roundUp(min(mcBlk, m), mr))
		g.ws[w].tmp = grow(g.ws[w].tmp, mr*nr)
	}
	if db, ok := bsrc.(*denseB); ok && impl.direct != nil && !db.trans && m <= directMaxM && n >= 2*nr && k*n <= directMaxB {
		// Few rows of A: packing B would be amortised over too few of them, so read
		// B in place, as long as it is small enough to stay in the caches: its rows
		// are a leading dimension apart, which the prefetchers do not follow.
		g.directGemm(impl, transA, m, n, k, alpha, a, lda, db.b, db.ldb, beta, c, ldc)
		g.a, g.bsrc, g.c = nil, nil, nil
		return
	}
	if nM == 1 && workers > 1 {
		// One A block (convolutions, skinny products): split N into chunks and let
		// each task pack its own A and B and run every K block, so the whole product
		// is one fork/join instead of two barriers per K block. Re-packing the small
		// A per chunk is cheap next to the barriers it saves.
		panels := (n + nr - 1) / nr
		chunk := min((panels+4*workers-1)/(4*workers), impl.nc/nr)
		g.chunk, g.nChunks = chunk, (panels+chunk-1)/chunk
		for w := range g.ws {
			g.ws[w].b = grow(g.ws[w].b, kcMax*chunk*nr)
		}
		g.runJobs(workers, g.nChunks, &g.privJ)
		g.a, g.bsrc, g.c = nil, nil, nil
		return
	}
	ncMax := min(impl.nc, roundUp(n, nr))
	g.bbuf = grow(g.bbuf, kcMax*ncMax)

	for jc := 0; jc < n; jc += impl.nc {
		ncur := min(impl.nc, n-jc)
		panels := (ncur + nr - 1) / nr
		// Split N so that there are a few tasks per worker, but keep chunks wide
		// enough (≥ 8 panels) that re-packing A per chunk stays cheap.
		nChunks := 1
		if workers > 1 {
			want := (4*workers + nM - 1) / nM
			nChunks = max(1, min(want, panels/8))
			if nM*nChunks < workers {
				nChunks = min(panels, (workers+nM-1)/nM)
			}
		}
		chunk := (panels + nChunks - 1) / nChunks
		nChunks = (panels + chunk - 1) / chunk
		g.jc, g.ncur, g.chunk, g.nChunks = jc, ncur, chunk, nChunks
		for pc := 0; pc < k; pc += impl.kc {
			g.pc, g.kcur = pc, min(impl.kc, k-pc)
			ptasks := min(panels, workers*4)
			if workers == 1 || g.m*g.n*g.k*2 < 1<<18 {
				ptasks = 1
			}
			g.ptasks = ptasks
			g.runJobs(workers, ptasks, &g.packJ)
			g.runJobs(workers, nM*nChunks, &g.compJ)
		}
	}
	g.a, g.bsrc, g.c = nil, nil, nil
}

func (g *gemmCtx) runJobs(workers, ntask int, j poolJob) {
	if workers == 1 {
		for i := 0; i < ntask; i++ {
			j.run(0, i)
		}
		return
	}
	g.pool.Run(ntask, j)
}

func roundUp(x, m int) int { return (x + m - 1) / m * m }

// run packs a contiguous range of B's column panels for the current block.
func (j *packJob) run(_, task int) {
	g := j.g
	nr := g.impl.nr
	panels := (g.ncur + nr - 1) / nr
	// The split must be the one the driver asked the pool for (g.ptasks): with fewer
	// workers than the pool has, recomputing it here left part of B unpacked.
	per := (panels + g.ptasks - 1) / g.ptasks
	q0, q1 := task*per, min(panels, (task+1)*per)
	if q0 >= q1 {
		return
	}
	j0 := q0 * nr
	nc := min(g.ncur-j0, (q1-q0)*nr)
	g.bsrc.packB(g.bbuf[q0*g.kcur*nr:], g.pc, g.kcur, g.jc+j0, nc, nr)
}

// run packs one MC block of A and multiplies it with one chunk of B's panels.
func (j *computeJob) run(worker, task int) {
	g := j.g
	mr, nr, kc := g.impl.mr, g.impl.nr, g.kcur
	ib, cb := task/g.nChunks, task%g.nChunks
	i0 := ib * g.mcBlk
	mc := min(g.mcBlk, g.m-i0)
	wb := &g.ws[worker]
	packA(wb.a, g.a, g.lda, g.transA, g.alpha, i0, mc, g.pc, kc, mr)
	mode := 0
	if g.pc == 0 && g.beta == 0 {
		mode = 1
	}
	q0 := cb * g.chunk
	q1 := min((g.ncur+nr-1)/nr, q0+g.chunk)
	if q0 >= q1 {
		return
	}
	j0 := q0 * nr
	macro(g.impl, wb, g.bbuf[q0*kc*nr:], g.c, g.ldc, i0, mc, g.jc+j0, min(g.ncur-j0, (q1-q0)*nr), kc, mode)
}

// run computes one chunk of C's columns over all of K, packing A and B privately.
func (j *privateJob) run(worker, task int) {
	g := j.g
	mr, nr := g.impl.mr, g.impl.nr
	j0 := task * g.chunk * nr
	ncols := min(g.n-j0, g.chunk*nr)
	wb := &g.ws[worker]
	for pc := 0; pc < g.k; pc += g.impl.kc {
		kc := min(g.impl.kc, g.k-pc)
		packA(wb.a, g.a, g.lda, g.transA, g.alpha, 0, g.m, pc, kc, mr)
		g.bsrc.packB(wb.b, pc, kc, j0, ncols, nr)
		mode := 0
		if pc == 0 && g.beta == 0 {
			mode = 1
		}
		macro(g.impl, wb, wb.b, g.c, g.ldc, 0, g.m, j0, ncols, kc, mode)
	}
}

// macro runs the micro-kernel over an mc×ncols block of C (row stride ldc) at row i0,
// column j0, from the packed A in wb and the packed B panels in bp. Edge tiles go
// through wb.tmp so that the kernel always writes a full tile.
func macro(impl *gemmImpl, wb *workerBuf, bp, c []float32, ldc, i0, mc, j0, ncols, kc, mode int) {
	mr, nr, kern := impl.mr, impl.nr, impl.kern
	tmp := wb.tmp
	for q := 0; q*nr < ncols; q++ {
		jr := q * nr
		cols := min(nr, ncols-jr)
		bq := &bp[q*kc*nr]
		for ir := 0; ir < mc; ir += mr {
			rows := min(mr, mc-ir)
			ap := &wb.a[(ir/mr)*kc*mr]
			off := (i0+ir)*ldc + j0 + jr
			if rows == mr && cols == nr {
				kern(kc, ap, bq, &c[off], ldc, mode)
				continue
			}
			kern(kc, ap, bq, &tmp[0], nr, 1)
			for r := 0; r < rows; r++ {
				dst := c[off+r*ldc : off+r*ldc+cols]
				src := tmp[r*nr : r*nr+cols]
				if mode == 1 {
					copy(dst, src)
					continue
				}
				for x, v := range src {
					dst[x] += v
				}
			}
		}
	}
}

// serialGemm is the blocked product on one worker's buffers, without fork/join, for
// callers that spread independent products (batches, attention heads) over the workers.
func serialGemm(impl *gemmImpl, wb *workerBuf, transA, transB bool, m, n, k int, alpha float32,
	a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		if beta != 1 {
			scaleC(m, n, beta, c, ldc)
		}
		return
	}
	if beta != 0 && beta != 1 {
		scaleC(m, n, beta, c, ldc)
		beta = 1
	}
	mr, nr := impl.mr, impl.nr
	kcMax := min(impl.kc, k)
	wb.a = grow(wb.a, kcMax*roundUp(min(impl.mc, m), mr))
	wb.b = grow(wb.b, kcMax*roundUp(min(impl.nc, n), nr))
	wb.tmp = grow(wb.tmp, mr*nr)
	wb.db = denseB{b: b, ldb: ldb, trans: transB}
	for jc := 0; jc < n; jc += impl.nc {
		ncur := min(impl.nc, n-jc)
		for pc := 0; pc < k; pc += impl.kc {
			kc := min(impl.kc, k-pc)
			wb.db.packB(wb.b, pc, kc, jc, ncur, nr)
			mode := 0
			if pc == 0 && beta == 0 {
				mode = 1
			}
			for ic := 0; ic < m; ic += impl.mc {
				mc := min(impl.mc, m-ic)
				packA(wb.a, a, lda, transA, alpha, ic, mc, pc, kc, mr)
				macro(impl, wb, wb.b, c, ldc, ic, mc, jc, ncur, kc, mode)
			}
		}
	}
	wb.db = denseB{}
}

// kernGo is the portable 4×4 micro-kernel; sixteen scalar accumulators fit the
// registers every Go target has.
func kernGo(k int, a, b, c *float32, ldc int, mode int) {
	as := unsafe.Slice(a, 4*k)
	bs := unsafe.Slice(b, 4*k)
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	var c20, c21, c22, c23, c30, c31, c32, c33 float32
	for p := 0; p < k; p++ {
		av := as[4*p : 4*p+4 : 4*p+4]
		bv := bs[4*p : 4*p+4 : 4*p+4]
		a0, a1, a2, a3 := av[0], av[1], av[2], av[3]
		b0, b1, b2, b3 := bv[0], bv[1], bv[2], bv[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	cs := unsafe.Slice(c, 3*ldc+4)
	acc := [16]float32{c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33}
	for r := 0; r < 4; r++ {
		row := cs[r*ldc : r*ldc+4 : r*ldc+4]
		if mode == 1 {
			copy(row, acc[r*4:r*4+4])
			continue
		}
		row[0] += acc[r*4]
		row[1] += acc[r*4+1]
		row[2] += acc[r*4+2]
		row[3] += acc[r*4+3]
	}
}

// SgemmPureGo is Sgemm on the portable micro-kernel whatever the CPU, for benchmarks
// that report what the fallback achieves.
func SgemmPureGo(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmImpl(goImpl, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
