package kernels

// directConv is a stride-1 convolution of one image and group written as a sum over
// the kernel's taps of GEMMs whose B is the (padded) input itself, shifted by the tap:
// out[o, j] += Σ_c w[o, c, tap] · xp[c·ldb + off(tap) + j], where j = oy·wp + ox runs
// over output pixels in the padded width. B is never packed, which is where an im2col
// convolution with few output channels spends its time; columns with ox ≥ OW are
// computed and dropped.
type directConv struct {
	w       []float32 // weights of the group: w[o·lda + c·taps + tap]
	lda     int
	taps    int
	offs    []int // B offset of each tap
	cg      int   // channels: the K of one tap
	xp      []float32
	ldb     int // channel stride of xp
	m, n    int
	c       []float32
	ldc     int
	mcBlk   int
	nM      int
	chunk   int
	nChunks int

	// The plain-GEMM use: alpha and transA apply to A (taps must be 1), accumulate
	// adds to C instead of overwriting it, and splitM prefers splitting rows, which
	// packs A exactly once, to splitting columns.
	transA     bool
	alpha      float32
	accumulate bool
	splitM     bool
}

type directJob struct{ g *gemmCtx }

// directKC bounds the K block of the single-tap direct kernel (1×1 convolutions, plain
// GEMMs). Its B rows sit a leading dimension apart and crowd few L1 sets, which argues
// for short blocks, but 64 and 128 measured no better than 256 here.
const directKC = 256

// directKCTaps is the channel block of a convolution with several taps: its weights for
// all taps (mc×kc×taps floats) should stay in L2 while the taps are packed.
const directKCTaps = 128

// packATaps packs rows i0..i0+mc, channels c0..c0+kc of OIHW-ordered weights
// (a[i·lda + c·taps + t]) for every tap at once, panel-major: panel q holds its taps
// one after another (q·taps·kc·mr + t·kc·mr), the order in which the taps kernel
// streams them. Each row's span of kc·taps floats is read once from memory and then
// from L1, instead of streaming the whole tensor once per tap.
func packATaps(dst, a []float32, lda, taps, i0, mc, c0, kc, mr int) {
	span := kc * taps
	for q := 0; q*mr < mc; q++ {
		h := min(mr, mc-q*mr)
		pq := dst[q*taps*kc*mr : (q+1)*taps*kc*mr]
		if h < mr {
			clear(pq)
		}
		// One weight row at a time, read in order (its kc·taps floats are contiguous
		// in OIHW); the writes land in the panel (taps·kc·mr floats), which stays in L1.
		for r := 0; r < h; r++ {
			row := (i0 + q*mr + r) * lda
			src := a[row+c0*taps : row+c0*taps+span]
			if taps == 1 {
				for p, v := range src {
					pq[p*mr+r] = v
				}
				continue
			}
			for p := 0; p < kc; p++ {
				sp := src[p*taps : p*taps+taps]
				d := pq[p*mr+r:]
				for t, v := range sp {
					d[t*kc*mr] = v
				}
			}
		}
	}
}

// runDirect runs d on all workers. The caller holds g.mu.
func (g *gemmCtx) runDirect(impl *gemmImpl) {
	d := &g.dc
	mr, nr := impl.mr, impl.nr
	workers := g.pool.n
	if 2*d.m*d.n*d.cg*d.taps < 1<<18 {
		workers = 1
	}
	panels := (d.n + nr - 1) / nr
	var nChunks, nM int
	if d.splitM {
		// Rows first, in blocks of at least 4 panels of A; columns only as needed.
		nM = max(1, min((d.m+4*mr-1)/(4*mr), 2*workers))
		nChunks = max(1, min((2*workers+nM-1)/nM, panels/4))
	} else {
		// Every column chunk re-packs its rows of A, so split rows first (blocks of at
		// least 4 panels), then columns in chunks of at least 8 panels, aiming at two
		// tasks per worker; a single worker takes the whole block in one task.
		nM = (d.m + impl.mc - 1) / impl.mc
		nChunks = 1
		if workers > 1 {
			nM = max(nM, min(workers, d.m/(4*mr)))
			nChunks = max(1, min((2*workers+nM-1)/nM, panels/8))
			for nM*nChunks < 2*workers && roundUp((d.m+nM)/(nM+1), mr) >= 4*mr {
				nM++
			}
		}
	}

	d.mcBlk = roundUp((d.m+nM-1)/nM, mr)
	d.nM = (d.m + d.mcBlk - 1) / d.mcBlk
	d.chunk = (panels + nChunks - 1) / nChunks
	d.nChunks = (panels + d.chunk - 1) / d.chunk
	kc := min(directKC, d.cg)
	if d.taps > 1 {
		kc = min(directKCTaps, d.cg)
	}
	for w := range g.ws {
		g.ws[w].a = grow(g.ws[w].a, d.taps*kc*d.mcBlk)
		g.ws[w].tmp = grow(g.ws[w].tmp, mr*nr)
	}
	g.impl = impl
	g.runJobs(workers, d.nM*d.nChunks, &g.dirJ)
}

func (j *directJob) run(worker, task int) {
	g := j.g
	d := &g.dc
	mr, nr, kcMax := g.impl.mr, g.impl.nr, directKC
	kern, tapsKern := g.impl.direct, g.impl.taps
	ib, cb := task/d.nChunks, task%d.nChunks
	i0 := ib * d.mcBlk
	mc := min(d.mcBlk, d.m-i0)
	j0 := cb * d.chunk * nr
	ncols := min(d.n-j0, d.chunk*nr)
	if mc <= 0 || ncols <= 0 {
		return
	}
	wb := &g.ws[worker]
	tmp := wb.tmp
	mode := 1
	if d.accumulate {
		mode = 0
	}
	if d.taps > 1 {
		kcMax = min(kcMax, directKCTaps)
	}
	// Channel blocks outside, all taps inside one kernel call: the taps of one channel
	// sit next to each other in OIHW weights, and the C tile stays in registers across
	// them instead of being loaded and stored once per tap.
	for c0 := 0; c0 < d.cg; c0 += kcMax {
		kc := min(kcMax, d.cg-c0)
		if d.taps == 1 {
			packA(wb.a, d.w, d.lda, d.transA, d.alpha, i0, mc, c0, kc, mr)
		} else {
			packATaps(wb.a, d.w, d.lda, d.taps, i0, mc, c0, kc, mr)
		}
		boff := c0*d.ldb + j0
		for jr := 0; jr < ncols; jr += nr {
			cols := min(nr, ncols-jr)
			m0, m1 := 0xffff, 0xffff
			if cols < 32 {
				m0, m1 = (1<<min(cols, 16))-1, (1<<max(cols-16, 0))-1
			}
			for ir := 0; ir < mc; ir += mr {
				rows := min(mr, mc-ir)
				ap := &wb.a[(ir/mr)*d.taps*kc*mr]
				off := (i0+ir)*d.ldc + j0 + jr
				dst, ldc, md := &d.c[off], d.ldc, mode
				if rows < mr {
					dst, ldc, md = &tmp[0], nr, 1
				}
				if d.taps == 1 {
					kern(kc, ap, &d.xp[boff+d.offs[0]+jr], d.ldb, dst, ldc, md, m0, m1)
				} else {
					tapsKern(kc, ap, &d.xp[boff+jr], d.ldb, dst, ldc, md, m0, m1, &d.offs[0], d.taps)
				}
				if rows == mr {
					continue
				}
				for r := 0; r < rows; r++ {
					dst := d.c[off+r*d.ldc : off+r*d.ldc+cols]
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
		mode = 0
	}
}

// directMaxM is the largest M that the plain GEMM runs on the direct kernel: one MC
// block, where packing B would be amortised over too few rows of A.
const directMaxM = 336

// directMaxB is the largest B (k·n floats, 4 MiB) that the plain GEMM reads in place.
const directMaxB = 1 << 20

// directGemm runs C = alpha·op(A)·B + beta·C (beta 0 or 1) on the direct kernel, B
// read in place. The caller holds g.mu.
func (g *gemmCtx) directGemm(impl *gemmImpl, transA bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	offs := g.dc.offs
	g.dc = directConv{w: a, lda: lda, taps: 1, offs: g.zeroOff[:], cg: k, xp: b, ldb: ldb, m: m, n: n, c: c, ldc: ldc,
		transA: transA, alpha: alpha, accumulate: beta == 1, splitM: true}
	g.runDirect(impl)
	g.dc = directConv{offs: offs}
}
