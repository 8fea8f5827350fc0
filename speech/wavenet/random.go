package wavenet

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/plexusml/plexus/core/tensor"
)

// ParamShapes lists every parameter of a model with cfg, by reference name.
func ParamShapes(cfg Config) (map[string][]int, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	in := cfg.OutChannels
	if cfg.ScalarInput {
		in = 1
	}
	R, G, S, H := cfg.ResidualChannels, cfg.GateChannels, cfg.SkipChannels, cfg.GateChannels/2
	p := map[string][]int{
		"first_conv.weight": {R, in, 1}, "first_conv.bias": {R},
		"last_conv_layers.1.weight": {S, S, 1}, "last_conv_layers.1.bias": {S},
		"last_conv_layers.3.weight": {cfg.OutChannels, S, 1}, "last_conv_layers.3.bias": {cfg.OutChannels},
	}
	for i := 0; i < cfg.Layers; i++ {
		l := fmt.Sprintf("conv_layers.%d.", i)
		p[l+"conv.weight"], p[l+"conv.bias"] = []int{G, R, cfg.KernelSize}, []int{G}
		p[l+"conv1x1_out.weight"], p[l+"conv1x1_out.bias"] = []int{R, H, 1}, []int{R}
		p[l+"conv1x1_skip.weight"], p[l+"conv1x1_skip.bias"] = []int{S, H, 1}, []int{S}
		if cfg.CinChannels > 0 {
			p[l+"conv1x1c.weight"] = []int{G, cfg.CinChannels, 1}
		}
		if cfg.GinChannels > 0 {
			p[l+"conv1x1g.weight"] = []int{G, cfg.GinChannels, 1}
		}
	}
	if cfg.GinChannels > 0 {
		p["embed_speakers.weight"] = []int{cfg.NSpeakers, cfg.GinChannels}
	}
	if cfg.CinChannels > 0 {
		for j, s := range cfg.UpsampleScales {
			p[fmt.Sprintf("upsample_net.up_layers.%d.weight", 2*j+1)] = []int{1, 1, 1, 2*s + 1}
		}
	}
	return p, nil
}

// RandomWeights initialises every parameter as the reference's randomize does
// (normal with std 1/sqrt(fan_in) for matrices, small biases, positive smoothing
// kernels that sum to about one), seeded: the starting point of training and the
// model the benchmark runs.
func RandomWeights(cfg Config, seed uint64) (map[string]*tensor.Tensor, error) {
	shapes, err := ParamShapes(cfg)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make(map[string]*tensor.Tensor, len(shapes))
	for _, name := range sortedKeys(shapes) {
		s := shapes[name]
		n := 1
		for _, d := range s {
			n *= d
		}
		v := make([]float32, n)
		switch {
		case len(s) == 4: // upsampling kernel: an averaging filter
			for i := range v {
				v[i] = 1 / float32(n)
			}
		case len(s) == 1:
			for i := range v {
				v[i] = float32(rng.NormFloat64() * 0.01)
			}
		default:
			fan := n / s[0]
			std := 1 / math.Sqrt(float64(fan))
			for i := range v {
				v[i] = float32(rng.NormFloat64() * std)
			}
		}
		out[name] = tensor.FromFloat32(v, s...)
	}
	return out, nil
}

func sortedKeys(m map[string][]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
