package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/plexusml/plexus/core/bench"
	"github.com/plexusml/plexus/core/tensor"
	benchpy "github.com/plexusml/plexus/tools/bench"
)

func benchTensor(ctx context.Context, o bench.Options) ([]bench.Row, error) {
	py, err := bench.PyTorch(ctx, o, benchpy.Script("tensor"))
	if err != nil && !errors.Is(err, bench.ErrNoPyTorch) {
		return nil, err
	}
	sizes := []int{1 << 20, 1 << 24}
	if o.Quick {
		sizes = sizes[:1]
	}
	var rows []bench.Row
	for _, n := range sizes {
		src := make([]float32, n)
		for i := range src {
			src[i] = rand.Float32()
		}
		f := tensor.FromFloat32(src, n)
		for _, dt := range []tensor.DType{tensor.Float16, tensor.BFloat16} {
			x := f.ConvertTo(dt)
			d := bench.Median(o, func() { x.ToFloat32() })
			key := fmt.Sprintf("%s->float32 %d", dt, n)
			ref, ok := py[key]
			if !ok {
				ref = math.NaN()
			}
			rows = append(rows, bench.Row{Bench: "tensor", Config: fmt.Sprintf("%s->float32 %dM", dt, n>>20),
				Plexus: float64(n*4) / d.Seconds() / 1e9, PyTorch: ref, Unit: "GB/s"})
		}
	}
	return rows, nil
}

func init() {
	bench.Register(bench.Suite{Name: "tensor", Doc: "dtype conversion throughput of core/tensor", Run: benchTensor})
}
