package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Values copies the elements into a new Go slice of the matching type: []float32,
// []float64, []int64, []int32, []uint8 or []bool. float16 and bfloat16 become []float32.
func (t *Tensor) Values() any {
	if t.dtype == Float16 || t.dtype == BFloat16 {
		return append([]float32(nil), t.ToFloat32().Float32s()...)
	}
	b := t.Contiguous().Bytes()
	n := t.NumElems()
	switch t.dtype {
	case Float32:
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return out
	case Float64:
		out := make([]float64, n)
		for i := range out {
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
		}
		return out
	case Int64:
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
		}
		return out
	case Int32:
		out := make([]int32, n)
		for i := range out {
			out[i] = int32(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return out
	case Uint8:
		return append([]uint8(nil), b...)
	case Bool:
		out := make([]bool, n)
		for i := range out {
			out[i] = b[i] != 0
		}
		return out
	}
	return nil
}

// FromValues copies a Go slice ([]float32, []float64, []int64, []int32, []uint8 or
// []bool) into a new tensor of the matching dtype and the given shape.
func FromValues(shape []int, v any) (*Tensor, error) {
	var b []byte
	var dt DType
	switch s := v.(type) {
	case []float32:
		dt = Float32
		b = make([]byte, 4*len(s))
		for i, x := range s {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
		}
	case []int64:
		dt = Int64
		b = make([]byte, 8*len(s))
		for i, x := range s {
			binary.LittleEndian.PutUint64(b[8*i:], uint64(x))
		}
	case []float64:
		dt = Float64
		b = make([]byte, 8*len(s))
		for i, x := range s {
			binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
		}
	case []int32:
		dt = Int32
		b = make([]byte, 4*len(s))
		for i, x := range s {
			binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
		}
	case []uint8:
		dt = Uint8
		b = append([]byte(nil), s...)
	case []bool:
		dt = Bool
		b = make([]byte, len(s))
		for i, x := range s {
			if x {
				b[i] = 1
			}
		}
	default:
		return nil, fmt.Errorf("tensor: unsupported slice %T", v)
	}
	if shape == nil {
		shape = []int{}
	}
	return FromBytes(dt, shape, b)
}
