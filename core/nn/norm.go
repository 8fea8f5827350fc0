package nn

import (
	"math"

	"github.com/plexusml/plexus/core/kernels"
	"github.com/plexusml/plexus/core/nn/weights"
)

// BatchNorm is an inference-mode torch.nn.BatchNorm1d/2d that could not be folded into
// a convolution (one after a pooling or an addition): a per-channel scale and shift
// precomputed from the running statistics. Prefer NewConvBN where a convolution precedes.
type BatchNorm struct {
	Name         string
	C            int
	Scale, Shift []float32
}

// NewBatchNorm binds prefix.running_mean, running_var and the optional affine weight
// and bias; eps zero means 1e-5. The channel count comes from running_mean.
func NewBatchNorm(b *weights.Binder, prefix string, eps float32) *BatchNorm {
	n := &BatchNorm{Name: prefix}
	s := shapeOf(b, join(prefix, "running_mean"), 1)
	if s == nil {
		return n
	}
	n.C = s[0]
	// A 1×1 identity "convolution" reuses the folding arithmetic: its folded weight is
	// the scale and its folded bias the shift.
	ones := make([]float32, n.C)
	for i := range ones {
		ones[i] = 1
	}
	n.Scale, n.Shift = foldBN(b, prefix, epsOr(eps), ones, nil, n.C)
	return n
}

// Forward normalises x (N×C or N×C×…) into a new activation from the arena.
func (n *BatchNorm) Forward(a *Arena, x Act) Act {
	if x.rank < 2 {
		checkRank(n.Name, x, 2, 3, 4)
	}
	checkDim(n.Name, x, 1, n.C, "channels")
	y := x
	y.Data = a.Floats(x.Len())
	inner := x.Len() / (x.dims[0] * n.C)
	for i := 0; i < x.dims[0]*n.C; i++ {
		s, t := n.Scale[i%n.C], n.Shift[i%n.C]
		src, dst := x.Data[i*inner:(i+1)*inner], y.Data[i*inner:(i+1)*inner]
		for j, v := range src {
			dst[j] = v*s + t
		}
	}
	return y
}

// LayerNorm is torch.nn.LayerNorm over the last dimension, whose size comes from the
// weight.
type LayerNorm struct {
	Name         string
	N            int
	Weight, Bias []float32
	Eps          float32
}

// NewLayerNorm binds prefix.weight and prefix.bias; eps zero means 1e-5 (BERT uses
// 1e-12: pass its layer_norm_eps).
func NewLayerNorm(b *weights.Binder, prefix string, eps float32) *LayerNorm {
	l := &LayerNorm{Name: prefix, Eps: epsOr(eps)}
	s := shapeOf(b, join(prefix, "weight"), 1)
	if s == nil {
		return l
	}
	l.N = s[0]
	l.Weight = b.Float32(join(prefix, "weight"), l.N)
	l.Bias = b.OptionalFloat32(join(prefix, "bias"), l.N)
	return l
}

// Forward normalises every row of x's last dimension into a new activation.
func (l *LayerNorm) Forward(a *Arena, x Act) Act {
	checkDim(l.Name, x, -1, l.N, "features")
	y := x
	y.Data = a.Floats(x.Len())
	l.ForwardInto(x.Data, y.Data)
	return y
}

// ForwardInto normalises x into out (which may be x).
func (l *LayerNorm) ForwardInto(x, out []float32) {
	kernels.LayerNorm(len(x)/l.N, l.N, x, l.Weight, l.Bias, l.Eps, out)
}

// GroupNorm is torch.nn.GroupNorm over N×C×… activations; C comes from the weight.
type GroupNorm struct {
	Name         string
	C, Groups    int
	Weight, Bias []float32
	Eps          float32
}

// NewGroupNorm binds prefix.weight and prefix.bias for groups groups (a constructor
// argument of torch.nn.GroupNorm that the weights do not record); eps zero means 1e-5.
func NewGroupNorm(b *weights.Binder, prefix string, groups int, eps float32) *GroupNorm {
	g := &GroupNorm{Name: prefix, Groups: groups, Eps: epsOr(eps)}
	s := shapeOf(b, join(prefix, "weight"), 1)
	if s == nil {
		return g
	}
	g.C = s[0]
	if groups <= 0 || g.C%groups != 0 {
		// Recorded as a shape problem so that it reaches the user with the others.
		b.Float32(join(prefix, "weight"), groups*int(math.Ceil(float64(g.C)/float64(max(groups, 1)))))
		return g
	}
	g.Weight = b.Float32(join(prefix, "weight"), g.C)
	g.Bias = b.OptionalFloat32(join(prefix, "bias"), g.C)
	return g
}

// Forward normalises x into a new activation from the arena.
func (g *GroupNorm) Forward(a *Arena, x Act) Act {
	if x.rank < 2 {
		checkRank(g.Name, x, 2, 3, 4)
	}
	checkDim(g.Name, x, 1, g.C, "channels")
	y := x
	y.Data = a.Floats(x.Len())
	kernels.GroupNorm(x.dims[0], g.C, x.Len()/(x.dims[0]*g.C), g.Groups, x.Data, g.Weight, g.Bias, g.Eps, y.Data)
	return y
}
