package kernels

import "fmt"

// Sgemv computes y = alpha·op(A)·x + beta·y for a row-major m×n matrix A, where op(A)
// is A (x has n elements, y has m) or Aᵀ (x has m, y has n). incX and incY are the
// element strides of x and y and may be negative, as in BLAS.
func Sgemv(trans bool, m, n int, alpha float32, a []float32, lda int, x []float32, incX int,
	beta float32, y []float32, incY int) {
	checkMat("a", false, m, n, a, lda)
	if incX == 0 || incY == 0 {
		panic("kernels: sgemv: zero increment")
	}
	lx, ly := n, m
	if trans {
		lx, ly = m, n
	}
	if lx > 0 && len(x) < (lx-1)*abs(incX)+1 || ly > 0 && len(y) < (ly-1)*abs(incY)+1 {
		panic(fmt.Sprintf("kernels: sgemv: x has %d or y has %d elements, short for %d and %d", len(x), len(y), lx, ly))
	}
	if ly == 0 {
		return
	}
	// Index helpers for negative increments, BLAS style: element i lives at
	// (len-1-i)·|inc| when inc < 0.
	xi := func(i int) int {
		if incX > 0 {
			return i * incX
		}
		return (lx - 1 - i) * -incX
	}
	yi := func(i int) int {
		if incY > 0 {
			return i * incY
		}
		return (ly - 1 - i) * -incY
	}
	for i := 0; i < ly; i++ {
		if beta == 0 {
			y[yi(i)] = 0
		} else if beta != 1 {
			y[yi(i)] *= beta
		}
	}
	if alpha == 0 || lx == 0 {
		return
	}
	if !trans {
		for i := 0; i < m; i++ {
			row := a[i*lda : i*lda+n]
			var s0, s1, s2, s3 float32
			j := 0
			if incX == 1 {
				xs := x[:n]
				for ; j+4 <= n; j += 4 {
					s0 += row[j] * xs[j]
					s1 += row[j+1] * xs[j+1]
					s2 += row[j+2] * xs[j+2]
					s3 += row[j+3] * xs[j+3]
				}
			}
			for ; j < n; j++ {
				s0 += row[j] * x[xi(j)]
			}
			y[yi(i)] += alpha * (s0 + s1 + s2 + s3)
		}
		return
	}
	// y += alpha·Aᵀx: one axpy per row of A keeps the reads of A sequential.
	for i := 0; i < m; i++ {
		s := alpha * x[xi(i)]
		if s == 0 {
			continue
		}
		row := a[i*lda : i*lda+n]
		if incY == 1 {
			ys := y[:n]
			for j, v := range row {
				ys[j] += s * v
			}
			continue
		}
		for j, v := range row {
			y[yi(j)] += s * v
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
