package wav2vec2

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/plexusml/plexus/core/tensor"
)

// ParamShapes lists every parameter of cfg's model under torchaudio's state_dict names
// (the positional convolution's weight norm as weight_g and weight_v).
func ParamShapes(cfg Config) (map[string][]int, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := map[string][]int{}
	in := 1
	for i, l := range cfg.ConvLayers() {
		p := fmt.Sprintf("feature_extractor.conv_layers.%d.", i)
		s[p+"conv.weight"] = []int{l[0], in, l[1]}
		if cfg.ExtractorConvBias {
			s[p+"conv.bias"] = []int{l[0]}
		}
		if cfg.ExtractorMode == "layer_norm" || i == 0 {
			s[p+"layer_norm.weight"] = []int{l[0]}
			s[p+"layer_norm.bias"] = []int{l[0]}
		}
		in = l[0]
	}
	e, f := cfg.EncoderEmbedDim, cfg.EncoderFFIntermFeatures
	s["encoder.feature_projection.layer_norm.weight"] = []int{in}
	s["encoder.feature_projection.layer_norm.bias"] = []int{in}
	s["encoder.feature_projection.projection.weight"] = []int{e, in}
	s["encoder.feature_projection.projection.bias"] = []int{e}
	s[posPrefix+".weight_g"] = []int{1, 1, cfg.EncoderPosConvKernel}
	s[posPrefix+".weight_v"] = []int{e, e / cfg.EncoderPosConvGroups, cfg.EncoderPosConvKernel}
	s[posPrefix+".bias"] = []int{e}
	s["encoder.transformer.layer_norm.weight"] = []int{e}
	s["encoder.transformer.layer_norm.bias"] = []int{e}
	for i := 0; i < cfg.EncoderNumLayers; i++ {
		p := fmt.Sprintf("encoder.transformer.layers.%d.", i)
		for _, proj := range []string{"q_proj", "k_proj", "v_proj", "out_proj"} {
			s[p+"attention."+proj+".weight"] = []int{e, e}
			s[p+"attention."+proj+".bias"] = []int{e}
		}
		for _, n := range []string{"layer_norm", "final_layer_norm"} {
			s[p+n+".weight"] = []int{e}
			s[p+n+".bias"] = []int{e}
		}
		s[p+"feed_forward.intermediate_dense.weight"] = []int{f, e}
		s[p+"feed_forward.intermediate_dense.bias"] = []int{f}
		s[p+"feed_forward.output_dense.weight"] = []int{e, f}
		s[p+"feed_forward.output_dense.bias"] = []int{e}
	}
	if cfg.AuxNumOut != nil {
		s["aux.weight"] = []int{*cfg.AuxNumOut, e}
		s["aux.bias"] = []int{*cfg.AuxNumOut}
	}
	return s, nil
}

// RandomWeights returns seeded random parameters for cfg, for tests and benchmarks
// without trained weights: weights N(0, 1/fan-in), norm gains near 1, small biases.
func RandomWeights(cfg Config, seed uint64) (map[string]*tensor.Tensor, error) {
	shapes, err := ParamShapes(cfg)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(shapes))
	for n := range shapes {
		names = append(names, n)
	}
	slices.Sort(names)
	rng := rand.New(rand.NewPCG(seed, 2))
	out := make(map[string]*tensor.Tensor, len(shapes))
	for _, name := range names {
		sh := shapes[name]
		n := 1
		for _, d := range sh {
			n *= d
		}
		v := make([]float32, n)
		switch {
		case strings.HasSuffix(name, "norm.weight") || strings.HasSuffix(name, "weight_g"):
			for i := range v {
				v[i] = float32(1 + 0.1*rng.NormFloat64())
			}
		case len(sh) == 1:
			for i := range v {
				v[i] = float32(0.02 * rng.NormFloat64())
			}
		default:
			std := 1 / math.Sqrt(float64(n/sh[0]))
			for i := range v {
				v[i] = float32(std * rng.NormFloat64())
			}
		}
		out[name] = tensor.FromFloat32(v, sh...)
	}
	return out, nil
}
