package kernels

// BatchedSgemm runs batch independent Sgemm products; matrix i of A, B and C starts at
// i·strideA, i·strideB and i·strideC (a stride of 0 broadcasts one matrix to all).
// Small products run one per worker; large ones one after another, each on all workers.
func BatchedSgemm(transA, transB bool, batch, m, n, k int, alpha float32,
	a []float32, lda, strideA int, b []float32, ldb, strideB int,
	beta float32, c []float32, ldc, strideC int) {
	if batch <= 0 {
		return
	}
	g := defaultCtx()
	if batch == 1 || g.pool.n == 1 || 2*m*n*k >= batchSplitFlops {
		for i := 0; i < batch; i++ {
			Sgemm(transA, transB, m, n, k, alpha, a[i*strideA:], lda, b[i*strideB:], ldb, beta, c[i*strideC:], ldc)
		}
		return
	}
	// Check every operand here: a panic on a worker goroutine could not be recovered.
	for i := 0; i < batch; i++ {
		checkMat("a", transA, m, k, a[i*strideA:], lda)
		checkMat("b", transB, k, n, b[i*strideB:], ldb)
		checkMat("c", false, m, n, c[i*strideC:], ldc)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.bJ = batchJob{impl: bestImpl, g: g, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
		a: a, lda: lda, sa: strideA, b: b, ldb: ldb, sb: strideB, beta: beta, c: c, ldc: ldc, sc: strideC}
	g.pool.Run(batch, &g.bJ)
	g.bJ = batchJob{}
}

// batchSplitFlops is the size of product (2mnk) from which one product is worth all
// the workers; below it a fork/join per product costs more than it gains.
const batchSplitFlops = 1 << 23

type batchJob struct {
	impl           *gemmImpl
	g              *gemmCtx
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int
	sa, sb, sc     int
}

func (j *batchJob) run(worker, i int) {
	serialGemm(j.impl, &j.g.ws[worker], j.transA, j.transB, j.m, j.n, j.k, j.alpha,
		j.a[i*j.sa:], j.lda, j.b[i*j.sb:], j.ldb, j.beta, j.c[i*j.sc:], j.ldc)
}
