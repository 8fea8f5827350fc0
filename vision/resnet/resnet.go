// Package resnet runs torchvision's ResNet family (18 to 152, and a small-image variant
// with a 3×3 stem and no max-pool) on core/nn, with BatchNorm folded into the
// convolutions. Weights load by torchvision's state-dict names from safetensors or
// PyTorch checkpoints, so a user's existing ResNet weights work as they are.
package resnet

import (
	"fmt"

	"github.com/plexusml/plexus/core/nn"
	"github.com/plexusml/plexus/core/nn/weights"
)

type block struct {
	convs      []*nn.Conv2d // 2 (basic) or 3 (bottleneck); the last takes the residual
	downsample *nn.Conv2d
}

// Model is a loaded ResNet. It is read-only after Load: one Model serves many
// goroutines, each with its own nn.Arena.
type Model struct {
	cfg     Config
	stem    *nn.Conv2d
	maxpool bool
	blocks  []block
	fc      *nn.Linear
}

// Config returns the model's normalized configuration.
func (m *Model) Config() *Config { return &m.cfg }

// convBN binds conv and its BatchNorm, first checking the weight against the shape the
// config implies, so a file of the wrong width is reported tensor by tensor rather than
// failing later inside a layer.
func convBN(b *weights.Binder, conv, bn string, in, out, k, stride int, relu bool) *nn.Conv2d {
	b.Tensor(weights.Spec{Name: conv + ".weight", Shape: []int{out, in, k, k}})
	for _, leaf := range []string{".weight", ".bias", ".running_mean", ".running_var"} {
		b.Tensor(weights.Spec{Name: bn + leaf, Shape: []int{out}})
	}
	return nn.NewConvBN(b, conv, bn, nn.Conv2dConfig{Stride: nn.Sq(stride), Padding: nn.Sq(k / 2), ReLU: relu})
}

// Load builds the model of cfg from a weights store. Every missing, unexpected or
// wrong-shape tensor is reported together in one *weights.MismatchError.
func Load(store weights.Store, cfg Config) (*Model, error) {
	if err := cfg.Normalize(); err != nil {
		return nil, err
	}
	b := weights.NewBinder(store, weights.StripPrefix("module."))
	m := &Model{cfg: cfg, maxpool: cfg.Stem == "imagenet"}
	stemStride := 2
	if cfg.Stem == "small" {
		stemStride = 1
	}
	m.stem = convBN(b, "conv1", "bn1", cfg.InChannels, cfg.StemWidth(), cfg.StemKernel(), stemStride, true)
	inC := cfg.StemWidth()
	exp := cfg.Expansion()
	for s, n := range cfg.Layers {
		width := cfg.Widths[s]
		for i := 0; i < n; i++ {
			stride := 1
			if i == 0 && s > 0 {
				stride = 2
			}
			p := fmt.Sprintf("layer%d.%d.", s+1, i)
			var blk block
			if cfg.Block == "basic" {
				blk.convs = []*nn.Conv2d{
					convBN(b, p+"conv1", p+"bn1", inC, width, 3, stride, true),
					convBN(b, p+"conv2", p+"bn2", width, width, 3, 1, true),
				}
			} else {
				// torchvision (v1.5) puts the stride on the 3×3 convolution.
				blk.convs = []*nn.Conv2d{
					convBN(b, p+"conv1", p+"bn1", inC, width, 1, 1, true),
					convBN(b, p+"conv2", p+"bn2", width, width, 3, stride, true),
					convBN(b, p+"conv3", p+"bn3", width, width*exp, 1, 1, true),
				}
			}
			if stride != 1 || inC != width*exp {
				blk.downsample = convBN(b, p+"downsample.0", p+"downsample.1", inC, width*exp, 1, stride, false)
			}
			m.blocks = append(m.blocks, blk)
			inC = width * exp
		}
	}
	b.Tensor(weights.Spec{Name: "fc.weight", Shape: []int{cfg.NumClasses, inC}})
	m.fc = nn.NewLinear(b, "fc", nn.LinearConfig{})
	if err := b.Err(); err != nil {
		return nil, err
	}
	return m, nil
}

// Features runs x (N×InChannels×H×W, normalized) up to the global average pool and
// returns the N×Features() embeddings, in arena memory.
func (m *Model) Features(a *nn.Arena, x nn.Act) (nn.Act, error) {
	if x.Rank() != 4 || x.Dim(1) != m.cfg.InChannels {
		return nn.Act{}, fmt.Errorf("resnet: input shape %v, want N×%d×H×W", x.Shape(), m.cfg.InChannels)
	}
	y := m.stem.Forward(a, x)
	if m.maxpool {
		y = nn.MaxPool2d{Kernel: nn.Sq(3), Stride: nn.Sq(2), Padding: nn.Sq(1)}.Forward(a, y)
	}
	for _, blk := range m.blocks {
		short := y
		if blk.downsample != nil {
			short = blk.downsample.Forward(a, y)
		}
		t := y
		last := len(blk.convs) - 1
		for _, c := range blk.convs[:last] {
			t = c.Forward(a, t)
		}
		y = blk.convs[last].ForwardAdd(a, t, short)
	}
	y = nn.AdaptiveAvgPool2d{Out: nn.Sq(1)}.Forward(a, y)
	return y.Reshape(y.Dim(0), -1), nil
}

// Forward returns the N×NumClasses logits of x (N×InChannels×H×W, normalized).
func (m *Model) Forward(a *nn.Arena, x nn.Act) (nn.Act, error) {
	f, err := m.Features(a, x)
	if err != nil {
		return nn.Act{}, err
	}
	return m.fc.Forward(a, f), nil
}

// Head applies the classifier (fc) to pooled features, so a caller that wants both
// the embedding and the logits runs the network once.
func (m *Model) Head(a *nn.Arena, features nn.Act) nn.Act { return m.fc.Forward(a, features) }
