// Package blas adapts core/kernels to gonum's BLAS interface, so that gorgonia's
// training graphs (gorgonia.Use) run their float32 products on plexus's SGEMM. Every
// other routine and precision falls through to gonum's pure-Go implementation.
package blas

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/plexusml/plexus/core/kernels"
)

// Implementation is gonum's BLAS with Sgemm and Sgemv replaced by core/kernels.
// Both are row-major, as gonum's interface (and so gorgonia) defines it.
type Implementation struct {
	gonum.Implementation
}

// Sgemm computes C = alpha·op(A)·op(B) + beta·C.
func (Implementation) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkTrans(tA)
	checkTrans(tB)
	kernels.Sgemm(tA != blas.NoTrans, tB != blas.NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Sgemv computes y = alpha·op(A)·x + beta·y.
func (Implementation) Sgemv(tA blas.Transpose, m, n int, alpha float32, a []float32, lda int,
	x []float32, incX int, beta float32, y []float32, incY int) {
	checkTrans(tA)
	kernels.Sgemv(tA != blas.NoTrans, m, n, alpha, a, lda, x, incX, beta, y, incY)
}

// checkTrans panics on an invalid Transpose with gonum's own message, which callers
// that recover from BLAS panics compare against.
func checkTrans(t blas.Transpose) {
	switch t {
	case blas.NoTrans, blas.Trans, blas.ConjTrans:
	default:
		panic("blas: illegal transpose")
	}
}

var _ blas.Float32 = Implementation{}
