//go:build amd64 && !purego

package kernels

import (
	"math"

	"golang.org/x/sys/cpu"
)

//go:noescape
func kern14x32avx512(k int, a, b, c *float32, ldc int, mode int)

//go:noescape
func kern6x16avx2(k int, a, b, c *float32, ldc int, mode int)

// Row tails of the 14-row kernel: the first r rows of 14-row A panels.
//
//go:noescape
func kern2x32avx512(k int, a, b, c *float32, ldc int, mode int)

//go:noescape
func kern4x32avx512(k int, a, b, c *float32, ldc int, mode int)

//go:noescape
func kern6x32avx512(k int, a, b, c *float32, ldc int, mode int)

//go:noescape
func kern8x32avx512(k int, a, b, c *float32, ldc int, mode int)

//go:noescape
func kern10x32avx512(k int, a, b, c *float32, ldc int, mode int)

//go:noescape
func kern12x32avx512(k int, a, b, c *float32, ldc int, mode int)

// avx512Tails[r] computes at least the first r rows of a 14-row tile, and writes no
// more rows than it computes.
var avx512Tails = []microKernel{nil, kern2x32avx512, kern2x32avx512, kern4x32avx512, kern4x32avx512,
	kern6x32avx512, kern6x32avx512, kern8x32avx512, kern8x32avx512, kern10x32avx512, kern10x32avx512,
	kern12x32avx512, kern12x32avx512, kern14x32avx512, kern14x32avx512}

var (
	avx512Impl = &gemmImpl{name: "avx512", mr: 14, nr: 32, kc: 256, mc: 336, nc: 4096, kern: kern14x32avx512, direct: kern14x32avx512direct, taps: kern14x32avx512taps, perm: true, tails: avx512Tails, kernLda: kern14x32avx512lda}
	avx2Impl   = &gemmImpl{name: "avx2", mr: 6, nr: 16, kc: 256, mc: 192, nc: 4096, kern: kern6x16avx2}
)

// availableImpls lists the micro-kernels this CPU runs, fastest first; tests compare
// each with the pure-Go reference.
func availableImpls() []*gemmImpl {
	var s []*gemmImpl
	// HasAVX512F already checks that the OS saves the ZMM state.
	if cpu.X86.HasAVX512F {
		s = append(s, avx512Impl)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		s = append(s, avx2Impl)
	}
	return append(s, goImpl)
}

var bestImpl = availableImpls()[0]

// kern14x32avx512direct is the 14×32 kernel reading B in place (row p at b+p·ldb)
// with lane masks m0, m1 for the two 16-float halves of each row.
//
//go:noescape
func kern14x32avx512direct(k int, a, b *float32, ldb int, c *float32, ldc int, mode int, m0, m1 int)

// Vectorised transcendental kernels (AVX-512F), 16 lanes with a masked tail.

//go:noescape
func vexpSubAVX512(dst, src *float32, n int, m float32, sums *float32)

//go:noescape
func vsigmoidAVX512(dst, src *float32, n int)

//go:noescape
func vtanhAVX512(dst, src *float32, n int)

//go:noescape
func vgeluAVX512(dst, src *float32, n int)

var hasVecMath = cpu.X86.HasAVX512F

func vecAct(kind actKind, x, out []float32) bool {
	if !hasVecMath || len(x) == 0 {
		return false
	}
	switch kind {
	case actGELU:
		vgeluAVX512(&out[0], &x[0], len(x))
	case actTanh:
		vtanhAVX512(&out[0], &x[0], len(x))
	case actSigmoid:
		vsigmoidAVX512(&out[0], &x[0], len(x))
	default:
		return false
	}
	return true
}

// vecExpSub writes exp(x−m) to out and returns the sum, or false without AVX-512.
func vecExpSub(x, out []float32, m float32) (float32, bool) {
	if !hasVecMath || len(x) == 0 {
		return 0, false
	}
	var sums [16]float32
	vexpSubAVX512(&out[0], &x[0], len(x), m, &sums[0])
	var s float32
	for _, v := range sums {
		s += v
	}
	return s, true
}

//go:noescape
func vmaxAVX512(x *float32, n int) float32

//go:noescape
func vscaleAVX512(x *float32, n int, s float32)

// rowMax returns the largest element of a non-empty row.
func rowMax(x []float32) float32 {
	if !hasVecMath {
		return rowMaxScalar(x)
	}
	m := float32(math.Inf(-1))
	for lo := 0; lo < len(x); lo += vecChunk {
		m = max(m, vmaxAVX512(&x[lo], min(vecChunk, len(x)-lo)))
	}
	return m
}

// scaleRow multiplies x by s in place.
func scaleRow(x []float32, s float32) {
	if !hasVecMath {
		scaleRowScalar(x, s)
		return
	}
	for lo := 0; lo < len(x); lo += vecChunk {
		vscaleAVX512(&x[lo], min(vecChunk, len(x)-lo), s)
	}
}

// kern14x32avx512taps is the direct kernel looping over convolution taps: tap t reads
// k rows of B from b+offs[t], with A's k×14 panels of all taps consecutive.
//
//go:noescape
func kern14x32avx512taps(k int, a, b *float32, ldb int, c *float32, ldc int, mode int, m0, m1 int, offs *int, taps int)

// packPermAVX512 writes rows rows of a 32-wide packed B panel (128 bytes apart), row r
// from the input at src + offs[r] floats, as d describes.
//
//go:noescape
func packPermAVX512(dst, src *float32, offs *int, rows int, d *permPanel)

func packPerm(dst, src *float32, offs []int, d *permPanel) {
	packPermAVX512(dst, src, &offs[0], len(offs), d)
}

//go:noescape
func epilogueAVX512(dst, src, res *float32, n int, b float32, flags int)

// epilogueVec writes dst = relu?(src + b + res) with AVX-512, or reports false.
func epilogueVec(dst, src []float32, b float32, res []float32, relu bool) bool {
	if !hasVecMath || len(dst) == 0 {
		return false
	}
	src = src[:len(dst)]
	flags := 0
	if relu {
		flags |= 1
	}
	rp := &src[0] // any valid pointer when there is no residual
	if res != nil {
		rp = &res[:len(dst)][0]
		flags |= 2
	}
	epilogueAVX512(&dst[0], &src[0], rp, len(dst), b, flags)
	return true
}

// kern14x32avx512lda is the 14×32 kernel reading A in place, row i at a + i·lda.
//
//go:noescape
func kern14x32avx512lda(k int, a *float32, lda int, b, c *float32, ldc int, mode int)
