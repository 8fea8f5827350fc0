package train

import (
	"github.com/plexusml/plexus/internal/gorgop"
	gtensor "gorgonia.org/tensor"
)

// sliceOp is the gorgonia op every layer of this training graph is built from: a
// function over float32 slices running on core/kernels (see internal/gorgop).
type sliceOp = gorgop.Op

func newOp(name string, in []int, shape gtensor.Shape, run func(out []float32, in [][]float32)) *sliceOp {
	return gorgop.New(name, in, shape, run)
}
