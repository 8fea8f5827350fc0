package nn

import (
	"fmt"
	"math"

	"github.com/plexusml/plexus/core/kernels"
	"github.com/plexusml/plexus/core/nn/weights"
)

// defaultEps is PyTorch's eps for BatchNorm, LayerNorm and GroupNorm; a zero Eps in a
// config means it.
const defaultEps = 1e-5

func epsOr(e float32) float32 {
	if e == 0 {
		return defaultEps
	}
	return e
}

// Conv2dConfig holds what a Conv2d cannot read from its weights. Pairs are (height,
// width); zero strides, dilations and groups mean 1.
type Conv2dConfig struct {
	Stride, Padding, Dilation [2]int
	Groups                    int
	// ReLU applies max(·, 0) to the output, fused into the convolution's epilogue.
	ReLU bool
	// Eps is the folded BatchNorm's eps (NewConvBN only); zero means 1e-5.
	Eps float32
}

// Sq is the pair (n, n), for square strides and paddings: Conv2dConfig{Stride: nn.Sq(2)}.
func Sq(n int) [2]int { return [2]int{n, n} }

// Conv2d is torch.nn.Conv2d over NCHW activations, optionally with a BatchNorm folded
// in and a ReLU fused. Channels and kernel size come from the weight (Out×In/Groups×KH×KW).
// The constructors pack Weight for the micro-kernel once: to change the weights, assign
// a new slice (Forward then packs per call) rather than writing into Weight.
type Conv2d struct {
	Name            string
	In, Out, KH, KW int
	Weight          []float32
	Bias            []float32 // nil when the convolution has none and no BatchNorm was folded
	Config          Conv2dConfig

	// packed is Weight in the micro-kernel's layout, packed once at construction;
	// packedFrom is the Weight it was packed from. Forward falls back to packing per
	// call when Weight has been replaced since.
	packed     *kernels.PackedConv
	packedFrom []float32
}

// NewConv2d binds prefix.weight and the optional prefix.bias.
func NewConv2d(b *weights.Binder, prefix string, cfg Conv2dConfig) *Conv2d {
	c := bindConv2d(b, prefix, cfg)
	c.pack()
	return c
}

func bindConv2d(b *weights.Binder, prefix string, cfg Conv2dConfig) *Conv2d {
	c := &Conv2d{Name: prefix, Config: cfg}
	s := shapeOf(b, join(prefix, "weight"), 4)
	if s == nil {
		return c
	}
	c.Out, c.In, c.KH, c.KW = s[0], s[1]*max(cfg.Groups, 1), s[2], s[3]
	c.Weight = b.Float32(join(prefix, "weight"), s...)
	c.Bias = b.OptionalFloat32(join(prefix, "bias"), c.Out)
	return c
}

// NewConvBN binds the convolution at conv and the BatchNorm at bn (weight, bias,
// running_mean, running_var; num_batches_tracked is accepted and unused) and folds the
// normalisation into the convolution's weight and bias once, so inference runs one
// convolution. The folded parameters are new memory; the file's are left untouched.
func NewConvBN(b *weights.Binder, conv, bn string, cfg Conv2dConfig) *Conv2d {
	c := bindConv2d(b, conv, cfg)
	c.Weight, c.Bias = foldBN(b, bn, epsOr(cfg.Eps), c.Weight, c.Bias, c.Out)
	c.pack()
	return c
}

// pack lays the weights out for the micro-kernel once, so that Forward does not
// re-pack them on every call (for 512-channel layers at batch 1 that took longer than
// the arithmetic). It leaves packed nil when binding failed.
func (c *Conv2d) pack() {
	groups := max(c.Config.Groups, 1)
	if c.Weight == nil || c.In%groups != 0 || c.Out%groups != 0 || len(c.Weight) != c.Out*c.In/groups*c.KH*c.KW {
		return
	}
	c.packed = kernels.PackConv2d(c.params0(), c.Weight)
	c.packedFrom = c.Weight
}

// foldBN returns w·γ/√(var+ε) per output channel and (bias − mean)·γ/√(var+ε) + β,
// computed in float64. When anything is missing it returns w and bias unchanged; the
// Binder already holds the error.
func foldBN(b *weights.Binder, bn string, eps float32, w, bias []float32, out int) ([]float32, []float32) {
	if w == nil {
		// Without the convolution there is no channel count to check the BatchNorm by.
		for _, leaf := range []string{"weight", "bias", "running_mean", "running_var"} {
			if s, ok := b.Shape(join(bn, leaf)); ok {
				b.Float32(join(bn, leaf), s...)
			}
		}
		useCounter(b, bn)
		return w, bias
	}
	gamma := b.OptionalFloat32(join(bn, "weight"), out)
	beta := b.OptionalFloat32(join(bn, "bias"), out)
	mean := b.Float32(join(bn, "running_mean"), out)
	variance := b.Float32(join(bn, "running_var"), out)
	useCounter(b, bn)
	if mean == nil || variance == nil {
		return w, bias
	}
	per := len(w) / out
	nw := make([]float32, len(w))
	nb := make([]float32, out)
	for o := 0; o < out; o++ {
		s := 1 / math.Sqrt(float64(variance[o])+float64(eps))
		if gamma != nil {
			s *= float64(gamma[o])
		}
		for i, v := range w[o*per : (o+1)*per] {
			nw[o*per+i] = float32(float64(v) * s)
		}
		var b0, sh float64
		if bias != nil {
			b0 = float64(bias[o])
		}
		if beta != nil {
			sh = float64(beta[o])
		}
		nb[o] = float32((b0-float64(mean[o]))*s + sh)
	}
	return nw, nb
}

func (c *Conv2d) params(x Act) kernels.Conv2dParams {
	checkRank(c.Name, x, 4)
	checkDim(c.Name, x, 1, c.In, "channels")
	p := c.params0()
	p.N, p.H, p.W = x.dims[0], x.dims[2], x.dims[3]
	return p
}

// params0 is the filter's parameters without an input.
func (c *Conv2d) params0() kernels.Conv2dParams {
	return kernels.Conv2dParams{
		C: c.In, O: c.Out, KH: c.KH, KW: c.KW,
		StrideH: c.Config.Stride[0], StrideW: c.Config.Stride[1],
		PadH: c.Config.Padding[0], PadW: c.Config.Padding[1],
		DilH: c.Config.Dilation[0], DilW: c.Config.Dilation[1],
		Groups: c.Config.Groups, ReLU: c.Config.ReLU,
	}
}

// OutSize is the output's height and width for an h×w input.
func (c *Conv2d) OutSize(h, w int) (int, int) {
	p := kernels.Conv2dParams{H: h, W: w, KH: c.KH, KW: c.KW,
		StrideH: c.Config.Stride[0], StrideW: c.Config.Stride[1],
		PadH: c.Config.Padding[0], PadW: c.Config.Padding[1],
		DilH: c.Config.Dilation[0], DilW: c.Config.Dilation[1]}
	return p.OutH(), p.OutW()
}

// Forward convolves x (N×In×H×W) into a new N×Out×OH×OW activation from the arena.
func (c *Conv2d) Forward(a *Arena, x Act) Act {
	return c.forward(a, x, nil)
}

// ForwardAdd is Forward with residual (shaped like the output) added before the ReLU,
// in the same pass: the tail of a ResNet block.
func (c *Conv2d) ForwardAdd(a *Arena, x, residual Act) Act {
	return c.forward(a, x, &residual)
}

func (c *Conv2d) forward(a *Arena, x Act, residual *Act) Act {
	p := c.params(x)
	oh, ow := p.OutH(), p.OutW()
	y := NewAct(a.Floats(p.N*c.Out*oh*ow), p.N, c.Out, oh, ow)
	if residual != nil {
		sameShape(c.Name, "residual", *residual, y)
		p.Residual = residual.Data
	}
	if c.packed != nil && len(c.Weight) == len(c.packedFrom) && len(c.Weight) > 0 && &c.Weight[0] == &c.packedFrom[0] {
		c.packed.Run(p, x.Data, c.Bias, y.Data, a.Workspace())
	} else {
		kernels.Conv2d(p, x.Data, c.Weight, c.Bias, y.Data, a.Workspace())
	}
	return y
}

// sameShape panics unless got has want's shape.
func sameShape(layer, what string, got, want Act) {
	if got.dims != want.dims || got.rank != want.rank {
		panic(fmt.Sprintf("nn: %s: %s %v, want %v", layer, what, got.Shape(), want.Shape()))
	}
}

// Conv1dConfig holds what a Conv1d cannot read from its weights. Zero stride, dilation
// and groups mean 1.
type Conv1dConfig struct {
	Stride, Padding, Dilation, Groups int
	// Causal pads Dilation·(K−1) on the left only (Padding is then ignored), so output
	// t sees inputs up to t: WaveNet's convolution.
	Causal bool
	ReLU   bool
	// Eps is the folded BatchNorm's eps (NewConv1dBN only); zero means 1e-5.
	Eps float32
}

// Conv1d is torch.nn.Conv1d over N×C×L activations (weight Out×In/Groups×K).
type Conv1d struct {
	Name         string
	In, Out, K   int
	Weight, Bias []float32
	Config       Conv1dConfig
}

// NewConv1d binds prefix.weight and the optional prefix.bias.
func NewConv1d(b *weights.Binder, prefix string, cfg Conv1dConfig) *Conv1d {
	c := &Conv1d{Name: prefix, Config: cfg}
	s := shapeOf(b, join(prefix, "weight"), 3)
	if s == nil {
		return c
	}
	c.Out, c.In, c.K = s[0], s[1]*max(cfg.Groups, 1), s[2]
	c.Weight = b.Float32(join(prefix, "weight"), s...)
	c.Bias = b.OptionalFloat32(join(prefix, "bias"), c.Out)
	return c
}

// NewConv1dBN is NewConvBN for a 1-D convolution followed by BatchNorm1d.
func NewConv1dBN(b *weights.Binder, conv, bn string, cfg Conv1dConfig) *Conv1d {
	c := NewConv1d(b, conv, cfg)
	c.Weight, c.Bias = foldBN(b, bn, epsOr(cfg.Eps), c.Weight, c.Bias, c.Out)
	return c
}

func (c *Conv1d) params(x Act) kernels.Conv1dParams {
	checkRank(c.Name, x, 3)
	checkDim(c.Name, x, 1, c.In, "channels")
	return kernels.Conv1dParams{N: x.dims[0], C: c.In, L: x.dims[2], O: c.Out, K: c.K,
		Stride: c.Config.Stride, Padding: c.Config.Padding, Dilation: c.Config.Dilation,
		Groups: c.Config.Groups, Causal: c.Config.Causal, ReLU: c.Config.ReLU}
}

// OutLen is the output length for an input of length l.
func (c *Conv1d) OutLen(l int) int {
	return kernels.Conv1dParams{L: l, K: c.K, Stride: c.Config.Stride, Padding: c.Config.Padding,
		Dilation: c.Config.Dilation, Causal: c.Config.Causal}.OutL()
}

// Forward convolves x (N×In×L) into a new N×Out×OL activation from the arena.
func (c *Conv1d) Forward(a *Arena, x Act) Act { return c.forward(a, x, nil) }

// ForwardAdd is Forward with residual added before the ReLU.
func (c *Conv1d) ForwardAdd(a *Arena, x, residual Act) Act { return c.forward(a, x, &residual) }

func (c *Conv1d) forward(a *Arena, x Act, residual *Act) Act {
	p := c.params(x)
	ol := p.OutL()
	y := NewAct(a.Floats(p.N*c.Out*ol), p.N, c.Out, ol)
	if residual != nil {
		sameShape(c.Name, "residual", *residual, y)
		p.Residual = residual.Data
	}
	kernels.Conv1d(p, x.Data, c.Weight, c.Bias, y.Data, a.Workspace())
	return y
}
