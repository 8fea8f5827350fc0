package nn

import (
	"fmt"
	"strings"

	"github.com/plexusml/plexus/core/kernels"
	"github.com/plexusml/plexus/core/nn/weights"
)

// join builds a parameter name from a module prefix ("layer1.0.conv1") and a leaf
// ("weight"); an empty prefix is a top-level module.
func join(prefix, leaf string) string {
	if prefix == "" {
		return leaf
	}
	return prefix + "." + leaf
}

// shapeOf reads a parameter's shape from the file so a layer can size itself from its
// weights, as PyTorch's state dict implies. When the parameter is absent or has another
// rank it records the problem on the Binder (through a Float32 request with any-size
// dimensions) and returns nil; the model reports Binder.Err after construction.
func shapeOf(b *weights.Binder, name string, rank int) []int {
	s, ok := b.Shape(name)
	if ok && len(s) == rank {
		return s
	}
	anyDims := make([]int, rank)
	for i := range anyDims {
		anyDims[i] = -1
	}
	b.Float32(name, anyDims...)
	return nil
}

// useCounter marks a BatchNorm's num_batches_tracked as used: a training counter that
// torchvision checkpoints carry and inference does not need.
func useCounter(b *weights.Binder, prefix string) {
	name := join(prefix, "num_batches_tracked")
	if s, ok := b.Shape(name); ok {
		b.Tensor(weights.Spec{Name: name, Shape: s})
	}
}

// Activation is an element-wise function a layer can apply to its output in place,
// saving the model a pass and a buffer.
type Activation uint8

// The activations layers fuse.
const (
	Identity Activation = iota
	ReLU
	GELU // the exact erf form, PyTorch's default
	Tanh
	Sigmoid
)

var activationNames = [...]string{"identity", "relu", "gelu", "tanh", "sigmoid"}

func (f Activation) String() string {
	if int(f) < len(activationNames) {
		return activationNames[f]
	}
	return fmt.Sprintf("activation(%d)", int(f))
}

// ParseActivation reads an activation by its PyTorch / Hugging Face name ("relu",
// "gelu", "tanh", "sigmoid"; "" and "linear" are Identity).
func ParseActivation(s string) (Activation, error) {
	switch strings.ToLower(s) {
	case "", "identity", "linear", "none":
		return Identity, nil
	case "relu":
		return ReLU, nil
	case "gelu":
		return GELU, nil
	case "tanh":
		return Tanh, nil
	case "sigmoid":
		return Sigmoid, nil
	}
	return Identity, fmt.Errorf("unknown activation %q (want relu, gelu, tanh, sigmoid or identity)", s)
}

// Apply replaces x by f(x).
func (f Activation) Apply(x []float32) {
	switch f {
	case Identity:
	case ReLU:
		kernels.ReLU(x, x)
	case GELU:
		kernels.GELU(x, x)
	case Tanh:
		kernels.Tanh(x, x)
	case Sigmoid:
		kernels.Sigmoid(x, x)
	default:
		panic(fmt.Sprintf("nn: unknown activation %d", int(f)))
	}
}

// Forward applies f to x in place and returns it, so an activation is a Layer too.
func (f Activation) Forward(_ *Arena, x Act) Act {
	f.Apply(x.Data)
	return x
}

// Layer is a module with one input and one output; most layers are, and Sequential
// chains them.
type Layer interface {
	Forward(a *Arena, x Act) Act
}

// Sequential runs layers in order, like torch.nn.Sequential.
type Sequential []Layer

// Forward runs every layer on the previous one's output.
func (s Sequential) Forward(a *Arena, x Act) Act {
	for _, l := range s {
		x = l.Forward(a, x)
	}
	return x
}

// checkRank panics with the layer's name when x has the wrong rank: a model bug, not a
// data error, since models shape their inputs before the first layer.
func checkRank(layer string, x Act, ranks ...int) {
	for _, r := range ranks {
		if x.rank == r {
			return
		}
	}
	panic(fmt.Sprintf("nn: %s: input %v has rank %d, want %v", layer, x.Shape(), x.rank, copyInts(ranks)))
}

func checkDim(layer string, x Act, i, want int, what string) {
	if got := x.Dim(i); got != want {
		panic(fmt.Sprintf("nn: %s: input %v has %d %s, the weights want %d", layer, x.Shape(), got, what, want))
	}
}
