package tensor

import (
	"fmt"

	gtensor "gorgonia.org/tensor"
)

// ToDense converts t to a gorgonia Dense for training graphs. float32, float64, int64,
// int32, uint8 and bool map to the same gorgonia dtype; float16 and bfloat16, which
// gorgonia lacks, become float32. The Dense owns a copy of the data.
func (t *Tensor) ToDense() (*gtensor.Dense, error) {
	shape := t.Shape()
	if len(shape) == 0 {
		shape = []int{1}
	}
	c := t.Clone()
	var backing any
	switch t.dtype {
	case Float32, Float16, BFloat16:
		backing = c.ToFloat32().Float32s()
	case Float64, Int64, Int32, Uint8, Bool:
		backing = c.values()
	default:
		return nil, fmt.Errorf("tensor: no gorgonia dtype for %s", t.dtype)
	}
	return gtensor.New(gtensor.WithShape(shape...), gtensor.WithBacking(backing)), nil
}

// FromDense copies a gorgonia Dense of float32, float64, int64, int32, uint8 or bool.
func FromDense(d *gtensor.Dense) (*Tensor, error) {
	shape := []int(d.Shape().Clone())
	if d.IsScalar() {
		shape = nil
	}
	if !d.IsMaterializable() && !d.DataOrder().IsRowMajor() {
		return nil, fmt.Errorf("tensor: column-major Dense is not supported")
	}
	src := d
	if d.RequiresIterator() {
		src = d.Materialize().(*gtensor.Dense)
	}
	switch v := src.Data().(type) {
	case []float32:
		return FromFloat32(append([]float32(nil), v...), shape...), nil
	case float32:
		return FromFloat32([]float32{v}), nil
	case []float64:
		return fromSlice(Float64, shape, v)
	case []int64:
		return FromInt64(append([]int64(nil), v...), shape...), nil
	case []int32:
		return fromSlice(Int32, shape, v)
	case []uint8:
		return fromSlice(Uint8, shape, v)
	case []bool:
		return fromSlice(Bool, shape, v)
	}
	return nil, fmt.Errorf("tensor: unsupported gorgonia dtype %v", d.Dtype())
}
