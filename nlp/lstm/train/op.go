package train

import (
	"github.com/plexusml/plexus/internal/gorgop"
	gtensor "gorgonia.org/tensor"
)

// fnOp is the gorgonia op the LSTM cell, the embedding lookup, dropout and the loss are
// built from, with hand-written gradients (see internal/gorgop); the matrix products
// stay gorgonia's own Mul, on core/kernels through gorgonia.Use.
type fnOp = gorgop.Op

// newOp returns an op with a fresh output every run: the unrolled graph reads a step's
// output again after gorgonia's tape machine may have handed its register to a later op.
func newOp(name string, in []int, shape gtensor.Shape, run func(out []float32, in [][]float32)) *fnOp {
	o := gorgop.New(name, in, shape, run)
	o.Fresh = true
	return o
}
