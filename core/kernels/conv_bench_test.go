package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// resnetConvs are ResNet-50's 3×3 convolutions of each stage (stride 1) and a 1×1.
var resnetConvs = []struct {
	name string
	p    Conv2dParams
}{
	{"3x3_64_56", Conv2dParams{C: 64, H: 56, W: 56, O: 64, KH: 3, KW: 3, PadH: 1, PadW: 1}},
	{"3x3_128_28", Conv2dParams{C: 128, H: 28, W: 28, O: 128, KH: 3, KW: 3, PadH: 1, PadW: 1}},
	{"3x3_256_14", Conv2dParams{C: 256, H: 14, W: 14, O: 256, KH: 3, KW: 3, PadH: 1, PadW: 1}},
	{"3x3_512_7", Conv2dParams{C: 512, H: 7, W: 7, O: 512, KH: 3, KW: 3, PadH: 1, PadW: 1}},
	{"1x1_256to64_56", Conv2dParams{C: 256, H: 56, W: 56, O: 64, KH: 1, KW: 1}},
	{"1x1_64to256_56", Conv2dParams{C: 64, H: 56, W: 56, O: 256, KH: 1, KW: 1}},
	{"1x1_1024to256_14", Conv2dParams{C: 1024, H: 14, W: 14, O: 256, KH: 1, KW: 1}},
	// The strided ones (im2col path): the stem, a stage's first 3×3, its downsample.
	{"7x7s2_3to64_224", Conv2dParams{C: 3, H: 224, W: 224, O: 64, KH: 7, KW: 7, StrideH: 2, StrideW: 2, PadH: 3, PadW: 3}},
	{"3x3s2_128_56", Conv2dParams{C: 128, H: 56, W: 56, O: 128, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}},
	{"1x1s2_256to512_56", Conv2dParams{C: 256, H: 56, W: 56, O: 512, KH: 1, KW: 1, StrideH: 2, StrideW: 2}},
}

func convFlops(p Conv2dParams) float64 {
	return 2 * float64(p.N*p.O*p.C/one(p.Groups)*p.KH*p.KW*p.OutH()*p.OutW())
}

func BenchmarkConv2d(b *testing.B) {
	for _, batch := range []int{1, 8} {
		for _, tc := range resnetConvs {
			p := tc.p
			p.N = batch
			b.Run(fmt.Sprintf("%s_b%d", tc.name, batch), func(b *testing.B) {
				r := rand.New(rand.NewPCG(1, 1))
				x := randSlice(r, p.N*p.C*p.H*p.W)
				w := randSlice(r, p.O*p.C*p.KH*p.KW)
				bias := randSlice(r, p.O)
				out := make([]float32, p.N*p.O*p.OutH()*p.OutW())
				var ws Workspace
				Conv2d(p, x, w, bias, out, &ws)
				b.ResetTimer()
				t0 := cpuTime()
				for i := 0; i < b.N; i++ {
					Conv2d(p, x, w, bias, out, &ws)
				}
				reportFlops(b, convFlops(p)*float64(b.N), t0)
			})
		}
	}
}
