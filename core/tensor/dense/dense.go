// Package dense converts between plexus tensors and gorgonia's Dense for training
// graphs. It lives apart from core/tensor so that the decoders and plugins that only need
// tensors do not link gorgonia.
package dense

import (
	"fmt"

	"github.com/plexusml/plexus/core/tensor"
	gtensor "gorgonia.org/tensor"
)

// ToDense copies t into a gorgonia Dense. float32, float64, int64, int32, uint8 and bool
// keep their type; float16 and bfloat16, which gorgonia lacks, become float32.
func ToDense(t *tensor.Tensor) (*gtensor.Dense, error) {
	if !t.DType().Valid() {
		return nil, fmt.Errorf("dense: no gorgonia dtype for %s", t.DType())
	}
	shape := t.Shape()
	if len(shape) == 0 {
		shape = []int{1}
	}
	return gtensor.New(gtensor.WithShape(shape...), gtensor.WithBacking(t.Values())), nil
}

// FromDense copies a gorgonia Dense of float32, float64, int64, int32, uint8 or bool.
func FromDense(d *gtensor.Dense) (*tensor.Tensor, error) {
	shape := []int(d.Shape().Clone())
	if d.IsScalar() {
		shape = []int{}
	}
	src := d
	if d.RequiresIterator() {
		src = d.Materialize().(*gtensor.Dense)
	}
	switch v := src.Data().(type) {
	case float32:
		return tensor.FromValues(shape, []float32{v})
	case float64:
		return tensor.FromValues(shape, []float64{v})
	case []float32, []float64, []int64, []int32, []uint8, []bool:
		return tensor.FromValues(shape, v)
	}
	return nil, fmt.Errorf("dense: unsupported gorgonia dtype %v", d.Dtype())
}
