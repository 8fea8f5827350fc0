package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
)

// values returns the elements of a contiguous tensor as a freshly allocated Go slice of
// the matching type ([]float64, []int64, []int32, []uint8, []bool, []float32).
func (t *Tensor) values() any {
	b := t.Bytes()
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

func fromSlice(dt DType, shape []int, v any) (*Tensor, error) {
	var b []byte
	switch s := v.(type) {
	case []float64:
		b = make([]byte, 8*len(s))
		for i, x := range s {
			binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
		}
	case []int32:
		b = make([]byte, 4*len(s))
		for i, x := range s {
			binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
		}
	case []uint8:
		b = append([]byte(nil), s...)
	case []bool:
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
