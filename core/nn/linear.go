package nn

import (
	"sync/atomic"

	"github.com/plexusml/plexus/core/kernels"
	"github.com/plexusml/plexus/core/nn/weights"
)

// LinearConfig holds what a Linear cannot read from its weights.
type LinearConfig struct {
	// Activation is applied to the output in place (fused: no extra buffer).
	Activation Activation
}

// Linear is torch.nn.Linear: y = x·Wᵀ + b over the last dimension, with W in PyTorch's
// Out×In layout. In and Out come from the weight's shape; the bias is optional.
//
// The first call with two or more input rows packs Weight for the micro-kernel (a
// second copy of the weights, kept for the layer's life), so later calls skip the
// per-call packing that costs as much as the arithmetic for batch-sized inputs. To
// change the weights, assign a new slice rather than writing into Weight.
type Linear struct {
	Name    string
	In, Out int
	Weight  []float32 // Out×In
	Bias    []float32 // Out, or nil
	Act     Activation

	packed packedWeight
}

// packedLinear is a weight packed as a kernels.PackedB, and the slice it came from.
type packedLinear struct {
	pb   *kernels.PackedB
	from []float32
}

// packedWeight is a weight matrix in PyTorch's Out×In layout packed on first use as the
// right-hand operand of x·Wᵀ (Linear, the attention projections, the LSTM's products).
// It is safe for concurrent use: concurrent first calls may both pack, and either result
// is right.
type packedWeight struct {
	p atomic.Pointer[packedLinear]
}

// get returns w (out×in) packed for a product with rows rows, packing it when it has not
// been or when w is another slice than the one packed, or nil where the plain product
// is the better one (a single row is a matrix-vector product that reads w once) or w is
// unusable.
func (pw *packedWeight) get(rows int, w []float32, out, in int) *kernels.PackedB {
	if rows < 2 || in == 0 || out == 0 || len(w) != out*in {
		return nil
	}
	p := pw.p.Load()
	if p == nil || len(p.from) != len(w) || &p.from[0] != &w[0] {
		p = &packedLinear{pb: kernels.PackB(true, in, out, w, in), from: w}
		pw.p.Store(p)
	}
	return p.pb
}

// NewLinear binds prefix.weight and the optional prefix.bias.
func NewLinear(b *weights.Binder, prefix string, cfg LinearConfig) *Linear {
	l := &Linear{Name: prefix, Act: cfg.Activation}
	s := shapeOf(b, join(prefix, "weight"), 2)
	if s == nil {
		return l
	}
	l.Out, l.In = s[0], s[1]
	l.Weight = b.Float32(join(prefix, "weight"), l.Out, l.In)
	l.Bias = b.OptionalFloat32(join(prefix, "bias"), l.Out)
	return l
}

// Forward maps x (…×In) to a new …×Out activation from the arena.
func (l *Linear) Forward(a *Arena, x Act) Act {
	checkDim(l.Name, x, -1, l.In, "input features")
	y := a.Floats(x.Len() / l.In * l.Out)
	l.ForwardInto(x.Data, y)
	return x.withLast(y, l.Out)
}

// ForwardInto computes rows = len(x)/In rows of output into out (rows×Out).
func (l *Linear) ForwardInto(x, out []float32) {
	rows := len(x) / l.In
	if pb := l.packed.get(rows, l.Weight, l.Out, l.In); pb != nil {
		kernels.SgemmPacked(false, rows, 1, x, l.In, pb, 0, out, l.Out)
	} else {
		// One row is a matrix-vector product that reads Weight once: nothing to pack.
		kernels.Sgemm(false, true, rows, l.Out, l.In, 1, x, l.In, l.Weight, l.In, 0, out, l.Out)
	}
	switch {
	case l.Bias != nil && l.Act == ReLU:
		addRowBiasReLU(out[:rows*l.Out], l.Bias) // one pass over the output, not two
	case l.Bias != nil:
		addRowBias(out[:rows*l.Out], l.Bias)
		l.Act.Apply(out[:rows*l.Out])
	default:
		l.Act.Apply(out[:rows*l.Out])
	}
}

// addRowBiasReLU is addRowBias then max(·, 0), in one pass; NaN stays NaN as with
// kernels.ReLU.
func addRowBiasReLU(x, bias []float32) {
	n := len(bias)
	for r := 0; r+n <= len(x); r += n {
		row := x[r : r+n]
		for j, b := range bias {
			row[j] = max(row[j]+b, 0)
		}
	}
}

// addRowBias adds bias to every len(bias)-wide row of x.
func addRowBias(x, bias []float32) {
	n := len(bias)
	for r := 0; r+n <= len(x); r += n {
		row := x[r : r+n]
		for j, v := range bias {
			row[j] += v
		}
	}
}

// withLast returns an activation over data shaped like x except for its last
// dimension, which becomes d; data must already hold that many elements.
func (x Act) withLast(data []float32, d int) Act {
	x.Data = data
	x.dims[x.rank-1] = d
	return x
}
