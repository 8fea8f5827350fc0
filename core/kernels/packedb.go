package kernels

// PackedB is the right-hand operand of a product packed once into the micro-kernel's
// B panels: a layer's weight, multiplied by a different A on every call. Sgemm packs B
// on every call, which costs as much as the arithmetic when A has only a few rows
// (batch-sized Linear layers). A PackedB is read-only after packing and safe for
// concurrent use.
type PackedB struct {
	impl   *gemmImpl
	k, n   int
	kc     int // K block; block p0 starts at p0·nPad
	nPad   int // n rounded up to nr
	panels []float32
}

// PackB packs op(B) (k×n; B is n×k when transB) with leading dimension ldb.
func PackB(transB bool, k, n int, b []float32, ldb int) *PackedB {
	return packB(bestImpl, transB, k, n, b, ldb)
}

func packB(impl *gemmImpl, transB bool, k, n int, b []float32, ldb int) *PackedB {
	checkMat("b", transB, k, n, b, ldb)
	pb := &PackedB{impl: impl, k: k, n: n, kc: impl.kc, nPad: roundUp(n, impl.nr)}
	pb.panels = alignedFloats(k * pb.nPad)
	src := denseB{b: b, ldb: ldb, trans: transB}
	for p0 := 0; p0 < k; p0 += pb.kc {
		if n > 0 {
			src.packB(pb.panels[p0*pb.nPad:], p0, min(pb.kc, k-p0), 0, n, impl.nr)
		}
	}
	return pb
}

// K and N are the packed operand's dimensions.
func (pb *PackedB) K() int { return pb.k }

// N is the number of columns of op(B).
func (pb *PackedB) N() int { return pb.n }

// SgemmPacked computes C = alpha·op(A)·B + beta·C, where op(A) is m×K, B was packed by
// PackB and C is m×N, row-major with leading dimensions lda and ldc.
func SgemmPacked(transA bool, m int, alpha float32, a []float32, lda int, pb *PackedB, beta float32, c []float32, ldc int) {
	k, n := pb.k, pb.n
	checkMat("a", transA, m, k, a, lda)
	checkMat("c", false, m, n, c, ldc)
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
	impl := pb.impl
	mr, nr := impl.mr, impl.nr
	ctx := defaultCtx()
	ctx.mu.Lock()
	defer ctx.mu.Unlock()
	workers := ctx.pool.n
	if 2*m*n*k < 1<<18 {
		workers = 1
	}
	nM := (m + impl.mc - 1) / impl.mc
	mcBlk := roundUp((m+nM-1)/nM, mr)
	nM = (m + mcBlk - 1) / mcBlk
	panels := pb.nPad / nr
	// Column chunks: a few tasks per worker; each task packs its rows of A once per
	// K block, so chunks stay at least 8 panels wide unless that leaves workers idle.
	chunk := panels
	if workers > 1 {
		want := max(1, (4*workers+nM-1)/nM)
		chunk = max(min(8, panels), (panels+want-1)/want)
		if nM*((panels+chunk-1)/chunk) < workers {
			chunk = max(1, (panels+workers-1)/workers)
		}
	}
	ctx.pbJ = packedBJob{g: ctx, pb: pb, transA: transA, m: m, alpha: alpha, a: a, lda: lda, beta: beta, c: c, ldc: ldc,
		mcBlk: mcBlk, chunk: chunk, nChunks: (panels + chunk - 1) / chunk}
	for w := range ctx.ws {
		ctx.ws[w].a = grow(ctx.ws[w].a, min(pb.kc, k)*mcBlk)
		ctx.ws[w].tmp = grow(ctx.ws[w].tmp, mr*nr)
	}
	ctx.runJobs(workers, nM*ctx.pbJ.nChunks, &ctx.pbJ)
	ctx.pbJ = packedBJob{}
}

type packedBJob struct {
	g                     *gemmCtx
	pb                    *PackedB
	transA                bool
	m                     int
	alpha, beta           float32
	a, c                  []float32
	lda, ldc              int
	mcBlk, chunk, nChunks int
}

// run computes one MC block of rows times one chunk of column panels over all of K.
func (j *packedBJob) run(worker, task int) {
	pb := j.pb
	impl := pb.impl
	nr := impl.nr
	ib, cb := task/j.nChunks, task%j.nChunks
	i0 := ib * j.mcBlk
	mc := min(j.mcBlk, j.m-i0)
	q0 := cb * j.chunk
	j0 := q0 * nr
	ncols := min(pb.n-j0, j.chunk*nr)
	if mc <= 0 || ncols <= 0 {
		return
	}
	wb := &j.g.ws[worker]
	for p0 := 0; p0 < pb.k; p0 += pb.kc {
		kc := min(pb.kc, pb.k-p0)
		packA(wb.a, j.a, j.lda, j.transA, j.alpha, i0, mc, p0, kc, impl.mr)
		mode := 0
		if p0 == 0 && j.beta == 0 {
			mode = 1
		}
		macro(impl, wb, pb.panels[p0*pb.nPad+q0*kc*nr:], j.c, j.ldc, i0, mc, j0, ncols, kc, mode)
	}
}
