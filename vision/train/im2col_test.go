package train

import (
	"math/rand/v2"
	"testing"
)

// naiveIm2col is the definition im2col and col2im are checked against.
func naiveIm2col(g convGeom, x []float32) []float32 {
	oh, ow := g.oh(), g.ow()
	cols := make([]float32, g.c*g.k*g.k*oh*ow)
	for c := 0; c < g.c; c++ {
		for ky := 0; ky < g.k; ky++ {
			for kx := 0; kx < g.k; kx++ {
				row := (c*g.k+ky)*g.k + kx
				for oy := 0; oy < oh; oy++ {
					for ox := 0; ox < ow; ox++ {
						iy, ix := oy*g.stride-g.pad+ky, ox*g.stride-g.pad+kx
						if iy >= 0 && iy < g.h && ix >= 0 && ix < g.w {
							cols[(row*oh+oy)*ow+ox] = x[(c*g.h+iy)*g.w+ix]
						}
					}
				}
			}
		}
	}
	return cols
}

func TestIm2colCol2im(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, g := range []convGeom{
		{c: 2, h: 5, w: 5, k: 3, stride: 1, pad: 1},
		{c: 2, h: 6, w: 7, k: 3, stride: 2, pad: 1},
		{c: 3, h: 7, w: 7, k: 1, stride: 2, pad: 0},
		{c: 1, h: 4, w: 4, k: 5, stride: 1, pad: 2},
		{c: 1, h: 9, w: 8, k: 7, stride: 2, pad: 3},
	} {
		x := make([]float32, g.c*g.h*g.w)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		want := naiveIm2col(g, x)
		got := make([]float32, len(want))
		for i := range got {
			got[i] = 99 // stale contents must be overwritten
		}
		g.im2col(x, got)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%+v: im2col[%d] = %v, want %v", g, i, got[i], want[i])
			}
		}
		// col2im is im2col's adjoint: <im2col(x), c> == <x, col2im(c)>.
		c := make([]float32, len(want))
		for i := range c {
			c[i] = float32(rng.NormFloat64())
		}
		back := make([]float32, len(x))
		g.col2im(c, back)
		var l, r float64
		for i := range c {
			l += float64(want[i]) * float64(c[i])
		}
		for i := range x {
			r += float64(x[i]) * float64(back[i])
		}
		if d := l - r; d > 1e-4 || d < -1e-4 {
			t.Errorf("%+v: <im2col x, c> = %v, <x, col2im c> = %v", g, l, r)
		}
	}
}
