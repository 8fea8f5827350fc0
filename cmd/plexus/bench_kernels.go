package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/plexusml/plexus/core/bench"
	"github.com/plexusml/plexus/core/kernels"
	benchpy "github.com/plexusml/plexus/tools/bench"
)

func randFloats(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32()
	}
	return s
}

func benchKernels(ctx context.Context, o bench.Options) ([]bench.Row, error) {
	py, err := bench.PyTorch(ctx, o, benchpy.Script("kernels"))
	if err != nil && !errors.Is(err, bench.ErrNoPyTorch) {
		return nil, err
	}
	ref := func(key string) float64 {
		if v, ok := py[key]; ok {
			return v
		}
		return math.NaN()
	}
	r := rand.New(rand.NewPCG(1, 2))
	var rows []bench.Row
	gemms := [][3]int{{256, 256, 256}, {512, 512, 512}, {1024, 1024, 1024}, {2048, 2048, 2048}, {4096, 4096, 4096},
		{128, 768, 768}, {128, 3072, 768}, {64, 3136, 576}}
	if o.Quick {
		gemms = [][3]int{{256, 256, 256}, {1024, 1024, 1024}, {128, 768, 768}}
	}
	for _, s := range gemms {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		m, n, k := s[0], s[1], s[2]
		a, b, c := randFloats(r, m*k), randFloats(r, k*n), make([]float32, m*n)
		d := bench.Median(o, func() { kernels.Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n) })
		key := fmt.Sprintf("%dx%dx%d", m, n, k)
		gf := 2 * float64(m*n*k) / d.Seconds() / 1e9
		rows = append(rows,
			bench.Row{Bench: "sgemm", Config: key + " " + kernels.Implementation() + " vs torch.mm",
				Plexus: gf, PyTorch: ref("sgemm " + key), Unit: "GFLOP/s"},
			bench.Row{Bench: "sgemm", Config: key + " " + kernels.Implementation() + " vs oneDNN",
				Plexus: gf, PyTorch: ref("onednn " + key), Unit: "GFLOP/s"})
	}
	{
		// The portable fallback against the same torch.mm: what a CPU without AVX2 gets.
		const n = 1024
		a, b, c := randFloats(r, n*n), randFloats(r, n*n), make([]float32, n*n)
		d := bench.Median(bench.Options{Runs: 1, Warmup: 0}, func() { kernels.SgemmPureGo(false, false, n, n, n, 1, a, n, b, n, 0, c, n) })
		rows = append(rows, bench.Row{Bench: "sgemm", Config: "1024x1024x1024 pure-go", Plexus: 2 * n * n * n / d.Seconds() / 1e9,
			PyTorch: ref("sgemm 1024x1024x1024"), Unit: "GFLOP/s"})
	}
	batches := []int{1, 8}
	if o.Quick {
		batches = batches[:1]
	}
	convs := [][3]int{{64, 56, 3}, {128, 28, 3}, {256, 14, 3}, {512, 7, 3}, {256, 56, 1}}
	var ws kernels.Workspace
	for _, bt := range batches {
		for _, cv := range convs {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			c, hw, k := cv[0], cv[1], cv[2]
			o2 := c
			if k == 1 {
				o2 = 64
			}
			p := kernels.Conv2dParams{N: bt, C: c, H: hw, W: hw, O: o2, KH: k, KW: k, PadH: k / 2, PadW: k / 2}
			x, w, bias := randFloats(r, bt*c*hw*hw), randFloats(r, o2*c*k*k), randFloats(r, o2)
			out := make([]float32, bt*o2*hw*hw)
			d := bench.Median(o, func() { kernels.Conv2d(p, x, w, bias, out, &ws) })
			key := fmt.Sprintf("conv %dx%d %d->%d %dx%d b%d", k, k, c, o2, hw, hw, bt)
			flop := 2 * float64(bt*o2*c*k*k*hw*hw)
			rows = append(rows, bench.Row{Bench: "conv2d", Config: key[5:],
				Plexus: flop / d.Seconds() / 1e9, PyTorch: ref(key), Unit: "GFLOP/s"})
			// The path the models take: core/nn.Conv2d packs its weights once at load.
			pc := kernels.PackConv2d(p, w)
			d = bench.Median(o, func() { pc.Run(p, x, bias, out, &ws) })
			rows = append(rows, bench.Row{Bench: "conv2d", Config: key[5:] + " pre-packed (as in nn)",
				Plexus: flop / d.Seconds() / 1e9, PyTorch: ref(key), Unit: "GFLOP/s"})
		}
	}
	return rows, nil
}

func init() {
	bench.Register(bench.Suite{Name: "kernels",
		Doc: "SGEMM and ResNet-50 convolutions of core/kernels against torch.mm, the same GEMM through oneDNN (mkldnn_linear), and oneDNN conv2d",
		Run: benchKernels})
}
