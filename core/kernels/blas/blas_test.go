package blas

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func randDense(r *rand.Rand, shape ...int) *tensor.Dense {
	n := 1
	for _, d := range shape {
		n *= d
	}
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32()*2 - 1
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(s))
}

type graphResult struct {
	out, gx, gw, gv []float32
}

// runGraph builds y = sum(((xᵀ)ᵀ·w)² ) + sum(w·v) style graph with a matmul, a
// transposed matmul and a matrix-vector product, runs forward and backward with the
// BLAS currently in use, and returns the value and gradients.
func runGraph(t *testing.T, seed uint64) graphResult {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, seed))
	g := gorgonia.NewGraph()
	x := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(37, 65), gorgonia.WithName("x"), gorgonia.WithValue(randDense(r, 37, 65)))
	w := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(65, 33), gorgonia.WithName("w"), gorgonia.WithValue(randDense(r, 65, 33)))
	v := gorgonia.NewVector(g, tensor.Float32, gorgonia.WithShape(33), gorgonia.WithName("v"), gorgonia.WithValue(randDense(r, 33)))
	xw := gorgonia.Must(gorgonia.Mul(x, w))                                     // 37×33, Sgemm
	xtx := gorgonia.Must(gorgonia.Mul(gorgonia.Must(gorgonia.Transpose(x)), x)) // 65×65, Aᵀ·A
	wv := gorgonia.Must(gorgonia.Mul(xw, v))                                    // 37, Sgemv
	c1 := gorgonia.Must(gorgonia.Sum(gorgonia.Must(gorgonia.Square(xw))))
	c2 := gorgonia.Must(gorgonia.Sum(gorgonia.Must(gorgonia.Square(wv))))
	c3 := gorgonia.Must(gorgonia.Sum(xtx))
	cost := gorgonia.Must(gorgonia.Add(gorgonia.Must(gorgonia.Add(c1, c2)), c3))
	if _, err := gorgonia.Grad(cost, x, w, v); err != nil {
		t.Fatal(err)
	}
	m := gorgonia.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	grad := func(n *gorgonia.Node) []float32 {
		gv, err := n.Grad()
		if err != nil {
			t.Fatal(err)
		}
		return append([]float32(nil), gv.Data().([]float32)...)
	}
	return graphResult{
		out: []float32{cost.Value().Data().(float32)},
		gx:  grad(x), gw: grad(w), gv: grad(v),
	}
}

func relErr(got, want []float32) float64 {
	var d, m float64
	for i := range want {
		d = math.Max(d, math.Abs(float64(got[i])-float64(want[i])))
		m = math.Max(m, math.Abs(float64(want[i])))
	}
	return d / m
}

func TestGorgoniaGraphMatchesDefaultBLAS(t *testing.T) {
	defer gorgonia.Use(gonum.Implementation{})
	gorgonia.Use(gonum.Implementation{})
	want := runGraph(t, 3)
	calls := &counting{}
	gorgonia.Use(calls)
	got := runGraph(t, 3)
	if calls.gemm == 0 || calls.gemv == 0 {
		t.Fatalf("the graph made %d Sgemm and %d Sgemv calls; it must reach both", calls.gemm, calls.gemv)
	}
	for _, c := range []struct {
		name      string
		got, want []float32
	}{{"cost", got.out, want.out}, {"dx", got.gx, want.gx}, {"dw", got.gw, want.gw}, {"dv", got.gv, want.gv}} {
		if len(c.got) != len(c.want) {
			t.Fatalf("%s: %d values, want %d", c.name, len(c.got), len(c.want))
		}
		if e := relErr(c.got, c.want); e > 1e-4 {
			t.Errorf("%s: max|ours-gonum|/max|gonum| = %.3g", c.name, e)
		}
	}
}

func TestSgemmTransposesMatchGonum(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, tr := range [][2]blas.Transpose{{blas.NoTrans, blas.NoTrans}, {blas.Trans, blas.NoTrans}, {blas.NoTrans, blas.ConjTrans}, {blas.Trans, blas.Trans}} {
		m, n, k := 19, 45, 33
		a, b := randDense(r, 64*64).Data().([]float32), randDense(r, 64*64).Data().([]float32)
		c1 := randDense(r, m*50).Data().([]float32)
		c2 := append([]float32(nil), c1...)
		lda, ldb := k+3, n+1
		if tr[0] != blas.NoTrans {
			lda = m + 2
		}
		if tr[1] != blas.NoTrans {
			ldb = k
		}
		gonum.Implementation{}.Sgemm(tr[0], tr[1], m, n, k, 0.5, a, lda, b, ldb, 2, c1, 50)
		Implementation{}.Sgemm(tr[0], tr[1], m, n, k, 0.5, a, lda, b, ldb, 2, c2, 50)
		if e := relErr(c2, c1); e > 1e-5 {
			t.Errorf("%v: relative error %.3g", tr, e)
		}
	}
}

// counting is Implementation that records that gorgonia reached it.
type counting struct {
	Implementation
	gemm, gemv int
}

func (c *counting) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, cc []float32, ldc int) {
	c.gemm++
	c.Implementation.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, cc, ldc)
}

func (c *counting) Sgemv(tA blas.Transpose, m, n int, alpha float32, a []float32, lda int,
	x []float32, incX int, beta float32, y []float32, incY int) {
	c.gemv++
	c.Implementation.Sgemv(tA, m, n, alpha, a, lda, x, incX, beta, y, incY)
}
