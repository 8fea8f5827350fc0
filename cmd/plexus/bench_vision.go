package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/plexusml/plexus/core/bench"
	"github.com/plexusml/plexus/core/nn"
	"github.com/plexusml/plexus/core/nn/weights"
	"github.com/plexusml/plexus/core/tensor"
	benchpy "github.com/plexusml/plexus/tools/bench"
	"github.com/plexusml/plexus/vision/inception"
	"github.com/plexusml/plexus/vision/resnet"
)

// randomStore fills torchvision state-dict shapes with random weights of a sensible
// scale (He-normal convolutions, positive BatchNorm variances), so activations stay
// finite through the whole network as they would with trained weights.
func randomStore(shapes map[string][]int, seed uint64) weights.Store {
	rng := rand.New(rand.NewPCG(seed, 1))
	m := make(map[string]*tensor.Tensor, len(shapes))
	for name, s := range shapes {
		if len(s) == 0 {
			m[name] = tensor.New(tensor.Int64)
			continue
		}
		n := 1
		for _, d := range s {
			n *= d
		}
		v := make([]float32, n)
		switch {
		case len(s) >= 2:
			std := math.Sqrt(2 / float64(n/s[0]))
			for i := range v {
				v[i] = float32(rng.NormFloat64() * std)
			}
		case hasSuffix(name, "running_var"), hasSuffix(name, ".weight"):
			for i := range v {
				v[i] = 0.5 + rng.Float32()
			}
		default:
			for i := range v {
				v[i] = float32(rng.NormFloat64() * 0.1)
			}
		}
		m[name] = tensor.FromFloat32(v, s...)
	}
	return weights.NewMapStore("", m)
}

func hasSuffix(s, suf string) bool { return len(s) >= len(suf) && s[len(s)-len(suf):] == suf }

type visionNet interface {
	Forward(a *nn.Arena, x nn.Act) (nn.Act, error)
}

func benchVision(ctx context.Context, o bench.Options) ([]bench.Row, error) {
	py, err := bench.PyTorch(ctx, o, benchpy.Script("vision"))
	if err != nil && !errors.Is(err, bench.ErrNoPyTorch) {
		return nil, err
	}
	type netCase struct {
		name string
		size int
		load func() (visionNet, error)
	}
	loadResNet := func(arch string) func() (visionNet, error) {
		return func() (visionNet, error) {
			cfg := resnet.Config{Architecture: arch, NumClasses: 1000}
			shapes, err := resnet.Shapes(cfg)
			if err != nil {
				return nil, err
			}
			return resnet.Load(randomStore(shapes, 1), cfg)
		}
	}
	nets := []netCase{
		{"resnet18", 224, loadResNet("resnet18")},
		{"resnet50", 224, loadResNet("resnet50")},
		{"inception_v3", 299, func() (visionNet, error) {
			return inception.Load(randomStore(inception.Shapes(1000), 1), inception.Config{NumClasses: 1000})
		}},
	}
	batches := []int{1, 8}
	if o.Quick {
		batches = batches[:1]
	}
	var rows []bench.Row
	for _, nc := range nets {
		net, err := nc.load()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", nc.name, err)
		}
		a := nn.NewArena(0)
		for _, b := range batches {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			x := make([]float32, b*3*nc.size*nc.size)
			rng := rand.New(rand.NewPCG(2, 3))
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			var runErr error
			d := bench.Median(o, func() {
				a.Reset()
				if _, err := net.Forward(a, nn.NewAct(x, b, 3, nc.size, nc.size)); err != nil {
					runErr = err
				}
			})
			if runErr != nil {
				return nil, fmt.Errorf("%s: %w", nc.name, runErr)
			}
			key := fmt.Sprintf("%s b%d", nc.name, b)
			ref, ok := py[key]
			if !ok {
				ref = math.NaN()
			}
			rows = append(rows, bench.Row{Bench: "vision", Config: fmt.Sprintf("%s batch %d %dpx", nc.name, b, nc.size),
				Plexus: float64(b) / d.Seconds(), PyTorch: ref, Unit: "images/s"})
		}
	}
	return rows, nil
}

func init() {
	bench.Register(bench.Suite{Name: "vision", Doc: "ResNet-18/50 and Inception-v3 inference throughput (random weights)", Run: benchVision})
}
