package nn

import (
	"fmt"

	"github.com/plexusml/plexus/core/kernels"
	"github.com/plexusml/plexus/core/nn/weights"
)

// Embedding is torch.nn.Embedding: a lookup table of Num rows of Dim floats, sized from
// prefix.weight.
type Embedding struct {
	Name     string
	Num, Dim int
	Weight   []float32 // Num×Dim
}

// NewEmbedding binds prefix.weight.
func NewEmbedding(b *weights.Binder, prefix string) *Embedding {
	e := &Embedding{Name: prefix}
	s := shapeOf(b, join(prefix, "weight"), 2)
	if s == nil {
		return e
	}
	e.Num, e.Dim = s[0], s[1]
	e.Weight = b.Float32(join(prefix, "weight"), s...)
	return e
}

// Forward looks up ids, laid out with the given shape (len(ids) alone when none is
// given), into a new shape×Dim activation. An id outside the table is an error naming
// its position, since ids come from user data.
func (e *Embedding) Forward(a *Arena, ids []int64, shape ...int) (Act, error) {
	n := 1
	for _, d := range shape {
		n *= d
	}
	if len(shape) == 0 {
		n = len(ids)
	}
	if n != len(ids) || len(shape) >= MaxRank {
		return Act{}, fmt.Errorf("%s: %d ids do not fit shape %v", e.Name, len(ids), copyInts(shape))
	}
	m := a.Mark()
	y := a.Floats(len(ids) * e.Dim)
	x := Act{Data: y, rank: len(shape) + 1}
	copy(x.dims[:], shape)
	if len(shape) == 0 {
		x.dims[0] = len(ids)
	}
	x.dims[x.rank-1] = e.Dim
	if err := kernels.Embedding(e.Weight, e.Dim, ids, y); err != nil {
		a.Release(m)
		return Act{}, fmt.Errorf("%s: %w", e.Name, err)
	}
	return x, nil
}
