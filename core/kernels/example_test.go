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

func ExamplePackConv2d() {
	// Pack a layer's weights once at load time, then run it on inputs of any size.
	p := kernels.Conv2dParams{C: 1, O: 1, KH: 2, KW: 2, StrideH: 2, StrideW: 2}
	pc := kernels.PackConv2d(p, []float32{1, 1, 1, 1})
	var ws kernels.Workspace
	for _, hw := range []int{2, 4} {
		p.N, p.H, p.W = 1, hw, hw
		x := make([]float32, hw*hw)
		for i := range x {
			x[i] = float32(i)
		}
		out := make([]float32, p.OutH()*p.OutW())
		pc.Run(p, x, nil, out, &ws)
		fmt.Println(out)
	}
	// Output:
	// [6]
	// [10 18 42 50]
}

func ExampleSgemmPacked() {
	// y = x·Wᵀ for a batch of two rows, with W (3×2, PyTorch's Out×In) packed once.
	w := []float32{1, 0, 0, 1, 1, 1}
	pb := kernels.PackB(true, 2, 3, w, 2)
	x := []float32{1, 2, 3, 4}
	y := make([]float32, 6)
	kernels.SgemmPacked(false, 2, 1, x, 2, pb, 0, y, 3)
	fmt.Println(y)
	// Output: [1 2 3 3 4 7]
}
