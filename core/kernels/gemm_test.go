package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// naiveGemm is the float64-accumulated definition of Sgemm, the reference for all paths.
func naiveGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			v := float64(alpha) * s
			if beta != 0 {
				v += float64(beta) * float64(c[i*ldc+j])
			}
			c[i*ldc+j] = float32(v)
		}
	}
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32()*2 - 1
	}
	return s
}

// relErr is the project's agreement measure: max|got-want| / max|want|.
func relErr(got, want []float32) float64 {
	var d, m float64
	for i := range want {
		d = math.Max(d, math.Abs(float64(got[i])-float64(want[i])))
		m = math.Max(m, math.Abs(float64(want[i])))
	}
	if m == 0 {
		return d
	}
	return d / m
}

type gemmCase struct {
	ta, tb      bool
	m, n, k     int
	pad         int
	alpha, beta float32
}

func runGemmCase(t *testing.T, impl *gemmImpl, r *rand.Rand, tc gemmCase) {
	t.Helper()
	lda := tc.k + tc.pad
	arows := tc.m
	if tc.ta {
		lda, arows = tc.m+tc.pad, tc.k
	}
	ldb := tc.n + tc.pad
	brows := tc.k
	if tc.tb {
		ldb, brows = tc.k+tc.pad, tc.n
	}
	ldc := tc.n + tc.pad
	a := randSlice(r, arows*lda)
	b := randSlice(r, brows*ldb)
	c := randSlice(r, tc.m*ldc)
	want := append([]float32(nil), c...)
	naiveGemm(tc.ta, tc.tb, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
	sgemmImpl(impl, tc.ta, tc.tb, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
	if e := relErr(c, want); e > 1e-5 {
		t.Fatalf("%s %+v: relative error %.3g", impl.name, tc, e)
	}
	// Padding columns of C must be untouched.
	for i := 0; i < tc.m; i++ {
		for j := tc.n; j < ldc; j++ {
			if c[i*ldc+j] != want[i*ldc+j] {
				t.Fatalf("%s %+v: wrote C[%d,%d] outside n", impl.name, tc, i, j)
			}
		}
	}
}

func TestSgemmOddSizes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	sizes := []int{1, 7, 33, 257}
	for _, impl := range availableImpls() {
		for _, m := range sizes {
			for _, n := range sizes {
				for _, k := range sizes {
					for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
						tc := gemmCase{ta: tr[0], tb: tr[1], m: m, n: n, k: k, pad: 3, alpha: 1.5, beta: 0.5}
						runGemmCase(t, impl, r, tc)
					}
				}
			}
		}
	}
}

func TestSgemmRandomShapes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	impls := availableImpls()
	for it := 0; it < 60; it++ {
		tc := gemmCase{
			ta: r.IntN(2) == 1, tb: r.IntN(2) == 1,
			m: 1 + r.IntN(300), n: 1 + r.IntN(300), k: 1 + r.IntN(600),
			pad: r.IntN(5), alpha: []float32{1, -0.5, 2}[r.IntN(3)], beta: []float32{0, 1, 0.25}[r.IntN(3)],
		}
		for _, impl := range impls {
			runGemmCase(t, impl, r, tc)
		}
	}
}

// TestSgemmBlockEdges crosses the KC, MC and NC block boundaries of every kernel.
func TestSgemmBlockEdges(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, impl := range availableImpls() {
		for _, tc := range []gemmCase{
			{m: impl.mc + 1, n: 65, k: impl.kc + 1, alpha: 1, beta: 0},
			{m: 2*impl.mc + impl.mr + 3, n: 2*impl.nr + 1, k: 2*impl.kc + 7, alpha: 1, beta: 1},
			{m: 9, n: impl.nc + 40, k: 19, alpha: 1, beta: 0},
		} {
			runGemmCase(t, impl, r, tc)
		}
	}
}

// TestSgemmBetaZeroIgnoresNaN checks that beta 0 overwrites C, as BLAS defines.
func TestSgemmBetaZeroIgnoresNaN(t *testing.T) {
	for _, impl := range availableImpls() {
		a := []float32{1, 2, 3, 4}
		b := []float32{1, 0, 0, 1}
		c := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.NaN()), 7}
		sgemmImpl(impl, false, false, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2)
		if fmt.Sprint(c) != "[1 2 3 4]" {
			t.Fatalf("%s: got %v", impl.name, c)
		}
	}
}

// TestSgemmVectorShapes covers the public Sgemm's matrix-vector routes (m or n = 1)
// with every transpose and padded leading dimensions.
func TestSgemmVectorShapes(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, s := range [][3]int{{1, 33, 7}, {1, 257, 33}, {33, 1, 7}, {257, 1, 257}} {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			m, n, k := s[0], s[1], s[2]
			lda, arows := k+2, m
			if tr[0] {
				lda, arows = m+2, k
			}
			ldb, brows := n+2, k
			if tr[1] {
				ldb, brows = k+2, n
			}
			ldc := n + 3
			a, b, c := randSlice(r, arows*lda), randSlice(r, brows*ldb), randSlice(r, m*ldc)
			want := append([]float32(nil), c...)
			naiveGemm(tr[0], tr[1], m, n, k, 0.5, a, lda, b, ldb, 2, want, ldc)
			Sgemm(tr[0], tr[1], m, n, k, 0.5, a, lda, b, ldb, 2, c, ldc)
			if e := relErr(c, want); e > 1e-5 {
				t.Fatalf("%v %v: relative error %.3g", s, tr, e)
			}
		}
	}
}

func TestSgemmPanicsOnShortSlice(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a short slice")
		}
	}()
	Sgemm(false, false, 4, 4, 4, 1, make([]float32, 15), 4, make([]float32, 16), 4, 0, make([]float32, 16), 4)
}

func benchGemm(b *testing.B, impl *gemmImpl, m, n, k int) {
	r := rand.New(rand.NewPCG(1, 1))
	a, bb, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
	sgemmImpl(impl, false, false, m, n, k, 1, a, k, bb, n, 0, c, n)
	b.ResetTimer()
	t0 := cpuTime()
	for i := 0; i < b.N; i++ {
		sgemmImpl(impl, false, false, m, n, k, 1, a, k, bb, n, 0, c, n)
	}
	reportFlops(b, 2*float64(m)*float64(n)*float64(k)*float64(b.N), t0)
}

func BenchmarkSgemm(b *testing.B) {
	shapes := [][3]int{
		{64, 64, 64}, {256, 256, 256}, {512, 512, 512}, {1024, 1024, 1024}, {2048, 2048, 2048}, {4096, 4096, 4096},
		// Skinny: BERT-base (128 tokens) QKV/FFN and ResNet-50 stage convs as GEMM (O × HW × C·k·k).
		{128, 768, 768}, {128, 3072, 768}, {128, 768, 3072}, {64, 3136, 576}, {512, 49, 4608}, {1, 1000, 2048},
	}
	for _, s := range shapes {
		b.Run(fmt.Sprintf("%dx%dx%d", s[0], s[1], s[2]), func(b *testing.B) { benchGemm(b, bestImpl, s[0], s[1], s[2]) })
	}
}

func BenchmarkSgemmImpl(b *testing.B) {
	for _, impl := range availableImpls() {
		b.Run(impl.name+"/1024", func(b *testing.B) { benchGemm(b, impl, 1024, 1024, 1024) })
	}
}

func TestSgemv(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, tc := range []struct {
		trans      bool
		m, n       int
		incX, incY int
	}{{false, 7, 33, 1, 1}, {true, 33, 7, 1, 1}, {false, 257, 1, 2, -3}, {true, 1, 257, -1, 2}, {false, 33, 33, -2, 1}} {
		lda := tc.n + 2
		a := randSlice(r, tc.m*lda)
		lx, ly := tc.n, tc.m
		if tc.trans {
			lx, ly = tc.m, tc.n
		}
		x := randSlice(r, (lx-1)*abs(tc.incX)+1)
		y := randSlice(r, (ly-1)*abs(tc.incY)+1)
		// Reference through Sgemm on gathered vectors.
		xv, yv := make([]float32, lx), make([]float32, ly)
		for i := range xv {
			if tc.incX > 0 {
				xv[i] = x[i*tc.incX]
			} else {
				xv[i] = x[(lx-1-i)*-tc.incX]
			}
		}
		yidx := func(i int) int {
			if tc.incY > 0 {
				return i * tc.incY
			}
			return (ly - 1 - i) * -tc.incY
		}
		for i := range yv {
			yv[i] = y[yidx(i)]
		}
		naiveGemm(tc.trans, false, ly, 1, lx, 0.75, a, lda, xv, 1, -1.5, yv, 1)
		Sgemv(tc.trans, tc.m, tc.n, 0.75, a, lda, x, tc.incX, -1.5, y, tc.incY)
		got := make([]float32, ly)
		for i := range got {
			got[i] = y[yidx(i)]
		}
		if e := relErr(got, yv); e > 1e-5 {
			t.Fatalf("%+v: relative error %.3g", tc, e)
		}
	}
}

// reportFlops reports wall-clock GFLOP/s and, where CPU time is known, GFLOP per CPU
// second (the per-core efficiency, robust to other processes on the machine).
func reportFlops(b *testing.B, flops float64, t0 time.Duration) {
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	if d := cpuTime() - t0; d > 0 && t0 > 0 {
		b.ReportMetric(flops/d.Seconds()/1e9, "GFLOP/cpu-s")
	}
}

// TestSerialGemm checks the single-worker product used by batches and attention heads,
// on every micro-kernel and across its block edges.
func TestSerialGemm(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	var wb workerBuf
	for _, impl := range availableImpls() {
		for _, tc := range []gemmCase{
			{m: 7, n: 33, k: 257, alpha: 1, beta: 0, pad: 1},
			{ta: true, tb: true, m: impl.mc + 5, n: 2*impl.nr + 3, k: impl.kc + 9, alpha: -2, beta: 0.5},
			{tb: true, m: 3, n: impl.nc + 7, k: 5, alpha: 1, beta: 1},
		} {
			lda, arows := tc.k+tc.pad, tc.m
			if tc.ta {
				lda, arows = tc.m+tc.pad, tc.k
			}
			ldb, brows := tc.n+tc.pad, tc.k
			if tc.tb {
				ldb, brows = tc.k+tc.pad, tc.n
			}
			ldc := tc.n + tc.pad
			a, b, c := randSlice(r, arows*lda), randSlice(r, brows*ldb), randSlice(r, tc.m*ldc)
			want := append([]float32(nil), c...)
			naiveGemm(tc.ta, tc.tb, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
			serialGemm(impl, &wb, tc.ta, tc.tb, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
			if e := relErr(c, want); e > 1e-5 {
				t.Fatalf("%s %+v: relative error %.3g", impl.name, tc, e)
			}
		}
	}
}
