package kernels_test

import (
	"fmt"

	"github.com/plexusml/plexus/core/kernels"
)

func ExampleSgemm() {
	// C (2×2) = A (2×3) · B (3×2), all row-major.
	a := []float32{1, 2, 3, 4, 5, 6}
	b := []float32{1, 0, 0, 1, 1, 1}
	c := make([]float32, 4)
	kernels.Sgemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2)
	fmt.Println(c)
	// Output: [4 5 10 11]
}

func ExampleConv2d() {
	// A 3×3 box filter over a 1×1×3×3 image with zero padding 1, then ReLU.
	p := kernels.Conv2dParams{N: 1, C: 1, H: 3, W: 3, O: 1, KH: 3, KW: 3, PadH: 1, PadW: 1, ReLU: true}
	x := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}
	w := []float32{1, 1, 1, 1, 1, 1, 1, 1, 1}
	out := make([]float32, p.OutH()*p.OutW())
	var ws kernels.Workspace // reuse it across calls: the steady state allocates nothing
	kernels.Conv2d(p, x, w, []float32{-20}, out, &ws)
	fmt.Println(out)
	// Output: [0 1 0 7 25 13 4 19 8]
}
