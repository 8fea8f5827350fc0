package resnet

import "fmt"

// Shapes returns the state-dict shapes of the ResNet cfg describes (cfg is normalized
// first): what Load expects, and what benchmarks fill with random weights.
func Shapes(cfg Config) (map[string][]int, error) {
	if err := cfg.Normalize(); err != nil {
		return nil, err
	}
	s := map[string][]int{}
	conv := func(conv, bn string, in, out, k int) {
		s[conv+".weight"] = []int{out, in, k, k}
		for _, leaf := range []string{"weight", "bias", "running_mean", "running_var"} {
			s[bn+"."+leaf] = []int{out}
		}
		s[bn+".num_batches_tracked"] = []int{}
	}
	conv("conv1", "bn1", cfg.InChannels, cfg.StemWidth(), cfg.StemKernel())
	in, exp := cfg.StemWidth(), cfg.Expansion()
	for st, n := range cfg.Layers {
		w := cfg.Widths[st]
		for i := 0; i < n; i++ {
			p := fmt.Sprintf("layer%d.%d.", st+1, i)
			if cfg.Block == "basic" {
				conv(p+"conv1", p+"bn1", in, w, 3)
				conv(p+"conv2", p+"bn2", w, w, 3)
			} else {
				conv(p+"conv1", p+"bn1", in, w, 1)
				conv(p+"conv2", p+"bn2", w, w, 3)
				conv(p+"conv3", p+"bn3", w, w*exp, 1)
			}
			if (i == 0 && st > 0) || in != w*exp {
				conv(p+"downsample.0", p+"downsample.1", in, w*exp, 1)
			}
			in = w * exp
		}
	}
	s["fc.weight"] = []int{cfg.NumClasses, in}
	s["fc.bias"] = []int{cfg.NumClasses}
	return s, nil
}
