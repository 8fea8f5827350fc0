package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkPackedConv runs ResNet-50's convolutions on pre-packed weights, as
// nn.Conv2d does; BenchmarkConv2d packs them on every call.
func BenchmarkPackedConv(b *testing.B) {
	for _, batch := range []int{1, 8} {
		for _, tc := range resnetConvs {
			{
				p := tc.p
				p.N = batch
				b.Run(fmt.Sprintf("%s_b%d", tc.name, batch), func(b *testing.B) {
					r := rand.New(rand.NewPCG(1, 1))
					x := randSlice(r, p.N*p.C*p.H*p.W)
					w := randSlice(r, p.O*p.C*p.KH*p.KW)
					bias := randSlice(r, p.O)
					out := make([]float32, p.N*p.O*p.OutH()*p.OutW())
					var ws Workspace
					pc := PackConv2d(p, w)
					pc.Run(p, x, bias, out, &ws)
					b.ResetTimer()
					t0 := cpuTime()
					for i := 0; i < b.N; i++ {
						pc.Run(p, x, bias, out, &ws)
					}
					reportFlops(b, convFlops(p)*float64(b.N), t0)
				})
			}
		}
	}
}

// naiveConv2d is the definition of conv2d with the epilogue, in float64.
func naiveConv2d(p Conv2dParams, x, w, bias []float32) []float32 {
	p = p.norm()
	oh, ow := p.OutH(), p.OutW()
	cg, og := p.C/p.Groups, p.O/p.Groups
	out := make([]float32, p.N*p.O*oh*ow)
	for n := 0; n < p.N; n++ {
		for o := 0; o < p.O; o++ {
			grp := o / og
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					var s float64
					if bias != nil {
						s = float64(bias[o])
					}
					for c := 0; c < cg; c++ {
						for ky := 0; ky < p.KH; ky++ {
							iy := oy*p.StrideH - p.PadH + ky*p.DilH
							if iy < 0 || iy >= p.H {
								continue
							}
							for kx := 0; kx < p.KW; kx++ {
								ix := ox*p.StrideW - p.PadW + kx*p.DilW
								if ix < 0 || ix >= p.W {
									continue
								}
								s += float64(x[((n*p.C+grp*cg+c)*p.H+iy)*p.W+ix]) * float64(w[((o*cg+c)*p.KH+ky)*p.KW+kx])
							}
						}
					}
					i := ((n*p.O+o)*oh+oy)*ow + ox
					if p.Residual != nil {
						s += float64(p.Residual[i])
					}
					if p.ReLU && s < 0 {
						s = 0
					}
					out[i] = float32(s)
				}
			}
		}
	}
	return out
}

// TestPackedConvPaths checks the implicit GEMM on pre-packed weights (PackedConv.Run)
// and on weights packed per call (Conv2d), on every micro-kernel, against the definition: odd sizes, strides, padding,
// dilation, groups, batches whose panels straddle images, and more channels than one
// K block.
func TestPackedConvPaths(t *testing.T) {
	cases := []Conv2dParams{
		{N: 1, C: 7, H: 9, W: 9, O: 33, KH: 3, KW: 3, PadH: 1, PadW: 1},
		{N: 3, C: 16, H: 7, W: 7, O: 29, KH: 3, KW: 3, PadH: 1, PadW: 1, ReLU: true},
		{N: 2, C: 70, H: 14, W: 14, O: 64, KH: 3, KW: 3, PadH: 1, PadW: 1},
		{N: 2, C: 8, H: 13, W: 11, O: 16, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1, ReLU: true},
		{N: 1, C: 8, H: 10, W: 10, O: 8, KH: 3, KW: 3, PadH: 2, PadW: 2, DilH: 2, DilW: 2, Groups: 4},
		{N: 2, C: 3, H: 17, W: 17, O: 8, KH: 7, KW: 7, StrideH: 2, StrideW: 2, PadH: 3, PadW: 3},
		{N: 3, C: 300, H: 5, W: 6, O: 15, KH: 1, KW: 1},
		{N: 2, C: 16, H: 8, W: 8, O: 32, KH: 1, KW: 1, StrideH: 2, StrideW: 2},
		{N: 1, C: 1, H: 1, W: 1, O: 1, KH: 1, KW: 1},
		{N: 1, C: 4, H: 33, W: 33, O: 4, KH: 3, KW: 5, StrideW: 2, PadH: 2, PadW: 1, DilH: 2, Groups: 2},
		{N: 2, C: 33, H: 40, W: 37, O: 20, KH: 3, KW: 3, PadH: 1, PadW: 1},
		{N: 5, C: 9, H: 4, W: 3, O: 17, KH: 3, KW: 3, PadH: 1, PadW: 1, ReLU: true},
		{N: 2, C: 12, H: 20, W: 20, O: 12, KH: 1, KW: 3, PadW: 1, DilW: 3, StrideH: 3},
		// Stride 3 across (phases read with a generic step), padding wider than a phase.
		{N: 2, C: 5, H: 11, W: 13, O: 6, KH: 3, KW: 4, StrideH: 2, StrideW: 3, PadH: 1, PadW: 2},
		{N: 1, C: 2, H: 5, W: 4, O: 3, KH: 2, KW: 2, StrideH: 3, StrideW: 3, PadH: 3, PadW: 3},
		// Row tails of 10 and 12 (and 4, 6, 8 above), with ReLU and a residual.
		{N: 2, C: 5, H: 9, W: 9, O: 24, KH: 3, KW: 3, PadH: 1, PadW: 1, ReLU: true},
		{N: 1, C: 5, H: 9, W: 9, O: 26, KH: 3, KW: 3, PadH: 1, PadW: 1, ReLU: true},
	}
	r := rand.New(rand.NewPCG(4, 4))
	savedCM, savedIP := chanMajorChannels, inPlaceWeights
	defer func() { chanMajorChannels, inPlaceWeights = savedCM, savedIP }()
	for _, force := range []bool{false, true} {
		// Forced: packed weights in (channel, tap) order, Conv2d reading them in place.
		chanMajorChannels, inPlaceWeights = savedCM, savedIP
		if force {
			chanMajorChannels, inPlaceWeights = 0, 0
		}
		t.Run(fmt.Sprintf("forced=%v", force), func(t *testing.T) { packedConvCases(t, r, cases) })
	}
}

func packedConvCases(t *testing.T, r *rand.Rand, cases []Conv2dParams) {
	withImpls(t, func(t *testing.T) {
		var ws Workspace
		for i, p := range cases {
			x := randSlice(r, p.N*p.C*p.H*p.W)
			w := randSlice(r, p.O*p.C/one(p.Groups)*p.KH*p.KW)
			bias := randSlice(r, p.O)
			if i%3 == 1 {
				p.Residual = randSlice(r, p.N*p.O*p.OutH()*p.OutW())
			}
			want := naiveConv2d(p, x, w, bias)
			out := make([]float32, len(want))
			PackConv2d(p, w).Run(p, x, bias, out, &ws)
			if e := relErr(out, want); e > 1e-5 {
				t.Errorf("case %d %+v: relative error %.3g", i, p, e)
			}
			out = make([]float32, len(want))
			Conv2d(p, x, w, bias, out, &ws)
			if e := relErr(out, want); e > 1e-5 {
				t.Errorf("case %d Conv2d: relative error %.3g", i, e)
			}
		}
	})
}

// BenchmarkPackConv2d is the cost Conv2d pays per call for packing the weights of
// ResNet-50's largest 3×3 layer (floats packed per second).
func BenchmarkPackConv2d(b *testing.B) {
	p := Conv2dParams{C: 512, O: 512, KH: 3, KW: 3, PadH: 1, PadW: 1}
	w := randSlice(rand.New(rand.NewPCG(1, 1)), 512*512*9)
	var pc PackedConv
	pc.pack(bestImpl, geomOf(p), w)
	b.ResetTimer()
	t0 := cpuTime()
	for i := 0; i < b.N; i++ {
		pc.pack(bestImpl, geomOf(p), w)
	}
	if d := cpuTime() - t0; d > 0 && t0 > 0 {
		b.ReportMetric(float64(len(w))*float64(b.N)/d.Seconds()/1e9, "Gfloat/cpu-s")
	}
}

// TestPool2dSeparable checks pooling as two one-dimensional passes, split over the
// workers for large inputs, against the direct definition: windows cut by padding on
// every side, strides 1 to 3, count_include_pad both ways, odd sizes.
func TestPool2dSeparable(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for i, p := range []Pool2dParams{
		{N: 3, C: 37, H: 57, W: 55, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1},
		{N: 2, C: 5, H: 17, W: 17, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, CountIncludePad: true},
		{N: 2, C: 5, H: 17, W: 17, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},
		{N: 1, C: 3, H: 9, W: 8, KH: 2, KW: 2},
		{N: 1, C: 2, H: 7, W: 11, KH: 5, KW: 3, StrideH: 3, StrideW: 2, PadH: 2, PadW: 1, CountIncludePad: true},
		{N: 1, C: 1, H: 1, W: 1, KH: 1, KW: 1},
		{N: 2, C: 4, H: 4, W: 3, KH: 3, KW: 3, StrideH: 2, StrideW: 1, PadH: 1, PadW: 1},
	} {
		x := randSlice(r, p.N*p.C*p.H*p.W)
		n := p.N * p.C * p.OutH() * p.OutW()
		for _, isMax := range []bool{true, false} {
			got, want := make([]float32, n), make([]float32, n)
			pool2d(p, x, got, isMax)
			poolPlanes(p, x, want, isMax, 0, p.N*p.C)
			if e := relErr(got, want); e > 1e-6 {
				t.Errorf("case %d max %v: pooling differs from the definition by %.3g", i, isMax, e)
			}
		}
	}
}

// TestSgemmPacked checks products on a pre-packed B against the naive product, on every
// micro-kernel: odd sizes, several K blocks, transposes, beta 0, 1 and 0.5, and leading
// dimensions wider than the matrices.
func TestSgemmPacked(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	shapes := [][3]int{{1, 1, 1}, {2, 7, 33}, {7, 33, 257}, {33, 257, 7}, {5, 100, 600}, {400, 70, 300}, {16, 1000, 64}, {3, 31, 1}}
	for _, impl := range availableImpls() {
		for i, s := range shapes {
			m, n, k := s[0], s[1], s[2]
			for _, tc := range []struct {
				ta, tb bool
				beta   float32
			}{{false, true, 0}, {false, false, 1}, {true, true, 0.5}, {true, false, 0}} {
				lda, ldb, ldc := k+3, n+1, n+2
				if tc.ta {
					lda = m + 3
				}
				if tc.tb {
					ldb = k + 1
				}
				arows, brows := m, k
				if tc.ta {
					arows = k
				}
				if tc.tb {
					brows = n
				}
				a, b := randSlice(r, arows*lda), randSlice(r, brows*ldb)
				c := randSlice(r, m*ldc)
				want := append([]float32(nil), c...)
				naiveGemm(tc.ta, tc.tb, m, n, k, 0.75, a, lda, b, ldb, tc.beta, want, ldc)
				SgemmPacked(tc.ta, m, 0.75, a, lda, packB(impl, tc.tb, k, n, b, ldb), tc.beta, c, ldc)
				if e := relErr(c, want); e > 1e-5 {
					t.Errorf("%s shape %d %v %+v: relative error %.3g", impl.name, i, s, tc, e)
				}
			}
		}
	}
}

// BenchmarkSgemmPacked compares batch-sized Linear products (x·Wᵀ, BERT-base FFN
// weight) with B packed per call (Sgemm) and once (SgemmPacked).
func BenchmarkSgemmPacked(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	const in, out = 768, 3072
	w := randSlice(r, out*in)
	pb := PackB(true, in, out, w, in)
	for _, rows := range []int{2, 8, 128} {
		x := randSlice(r, rows*in)
		c := make([]float32, rows*out)
		flops := 2 * float64(rows*in*out)
		b.Run(fmt.Sprintf("rows%d/sgemm", rows), func(b *testing.B) {
			t0 := cpuTime()
			for i := 0; i < b.N; i++ {
				Sgemm(false, true, rows, out, in, 1, x, in, w, in, 0, c, out)
			}
			reportFlops(b, flops*float64(b.N), t0)
		})
		b.Run(fmt.Sprintf("rows%d/packed", rows), func(b *testing.B) {
			t0 := cpuTime()
			for i := 0; i < b.N; i++ {
				SgemmPacked(false, rows, 1, x, in, pb, 0, c, out)
			}
			reportFlops(b, flops*float64(b.N), t0)
		})
	}
}
