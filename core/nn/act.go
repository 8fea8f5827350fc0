package nn

import (
	"fmt"

	"github.com/plexusml/plexus/core/tensor"
)

// MaxRank is the most dimensions an Act carries: batch × heads × length × features
// needs four, and two spare keep reshapes simple.
const MaxRank = 6

// Act is an activation: row-major float32 data with its shape. It is a small value, so
// passing and returning it between layers never allocates; the data usually lives in an
// Arena.
type Act struct {
	Data []float32
	dims [MaxRank]int
	rank int
}

// NewAct wraps data with the given shape. It panics when the shape does not hold
// exactly len(data) elements, since that is a bug in the calling model.
func NewAct(data []float32, dims ...int) Act {
	var a Act
	if len(dims) > MaxRank {
		panic(fmt.Sprintf("nn: rank %d above MaxRank %d", len(dims), MaxRank))
	}
	n := 1
	for i, d := range dims {
		if d < 0 {
			panic(fmt.Sprintf("nn: negative dimension in shape %v", copyInts(dims)))
		}
		a.dims[i] = d
		n *= d
	}
	if n != len(data) {
		panic(fmt.Sprintf("nn: shape %v holds %d elements, data has %d", copyInts(dims), n, len(data)))
	}
	a.Data, a.rank = data, len(dims)
	return a
}

// Rank is the number of dimensions.
func (x Act) Rank() int { return x.rank }

// Dim returns dimension i; a negative i counts from the end (−1 is the last).
func (x Act) Dim(i int) int {
	if i < 0 {
		i += x.rank
	}
	if i < 0 || i >= x.rank {
		panic(fmt.Sprintf("nn: dimension %d of a rank-%d activation", i, x.rank))
	}
	return x.dims[i]
}

// Shape returns the dimensions as a new slice (it allocates: for messages and tests).
func (x Act) Shape() []int { return append([]int(nil), x.dims[:x.rank]...) }

// Len is the number of elements.
func (x Act) Len() int { return len(x.Data) }

// Reshape returns the same data with another shape; one dimension may be −1.
func (x Act) Reshape(dims ...int) Act {
	var d [MaxRank]int
	copy(d[:], dims)
	infer, n := -1, 1
	for i, v := range dims {
		if v == -1 && infer < 0 {
			infer = i
			continue
		}
		n *= v
	}
	if infer >= 0 && n > 0 {
		d[infer] = len(x.Data) / n
	}
	return NewAct(x.Data, d[:len(dims)]...)
}

// copyInts keeps a shape that goes into a panic message from escaping, so the variadic
// shapes of the hot path stay on the stack.
func copyInts(s []int) []int { return append([]int(nil), s...) }

func (x Act) String() string { return fmt.Sprintf("act%v", x.dims[:x.rank]) }

// FromTensor views a float32 tensor as an activation, or converts any other dtype or
// layout to a new contiguous float32 copy.
func FromTensor(t *tensor.Tensor) Act {
	if t.DType() != tensor.Float32 {
		t = t.ToFloat32()
	}
	t = t.Contiguous()
	return NewAct(t.Float32s(), t.Shape()...)
}

// Tensor returns a float32 tensor sharing x's data.
func (x Act) Tensor() *tensor.Tensor {
	return tensor.FromFloat32(x.Data, x.Shape()...)
}

// Add returns x + y element-wise (same shapes) in a new activation from the arena: the
// residual connection of a transformer block.
func Add(a *Arena, x, y Act) Act {
	sameShape("add", "second operand", y, x)
	z := x
	z.Data = a.Floats(x.Len())
	for i, v := range x.Data {
		z.Data[i] = v + y.Data[i]
	}
	return z
}

// Concat joins activations along dimension dim (negative counts from the end) into a
// new activation from the arena; every other dimension must agree. Inception's branches
// join along channels this way.
func Concat(a *Arena, dim int, xs ...Act) Act {
	if len(xs) == 0 {
		panic("nn: concat of nothing")
	}
	z := xs[0]
	if dim < 0 {
		dim += z.rank
	}
	if dim < 0 || dim >= z.rank {
		panic(fmt.Sprintf("nn: concat along dimension %d of rank-%d activations", dim, z.rank))
	}
	total := 0
	for _, x := range xs {
		d := x.dims
		d[dim] = z.dims[dim]
		if x.rank != z.rank || d != z.dims {
			panic(fmt.Sprintf("nn: concat along %d: shapes %v and %v", dim, xs[0].Shape(), x.Shape()))
		}
		total += x.dims[dim]
	}
	outer, inner := 1, 1
	for i := 0; i < dim; i++ {
		outer *= z.dims[i]
	}
	for i := dim + 1; i < z.rank; i++ {
		inner *= z.dims[i]
	}
	z.dims[dim] = total
	z.Data = a.Floats(outer * total * inner)
	off := 0
	for _, x := range xs {
		n := x.dims[dim] * inner
		for o := 0; o < outer; o++ {
			copy(z.Data[o*total*inner+off:o*total*inner+off+n], x.Data[o*n:(o+1)*n])
		}
		off += n
	}
	return z
}
