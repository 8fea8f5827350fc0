// Package tensor is the common n-dimensional array of plexus: a dtype, a shape and strides
// over little-endian bytes, with views, contiguous copies and .npy files. Every other
// package exchanges data through it; gorgonia's Dense is reached by conversion.
package tensor

import (
	"fmt"
	"math"

	"github.com/x448/float16"
)

// DType is the element type of a Tensor.
type DType uint8

// The element types plexus moves between stages and processes.
const (
	Invalid DType = iota
	Float32
	Float16
	BFloat16
	Int64
	Int32
	Uint8
	Bool
	Float64
)

var dtypeNames = [...]string{"invalid", "float32", "float16", "bfloat16", "int64", "int32", "uint8", "bool", "float64"}
var dtypeSizes = [...]int{0, 4, 2, 2, 8, 4, 1, 1, 8}

// Size is the number of bytes of one element.
func (d DType) Size() int {
	if int(d) >= len(dtypeSizes) {
		return 0
	}
	return dtypeSizes[d]
}

func (d DType) String() string {
	if int(d) >= len(dtypeNames) {
		return fmt.Sprintf("dtype(%d)", uint8(d))
	}
	return dtypeNames[d]
}

// Valid reports whether d is one of the known element types.
func (d DType) Valid() bool { return d > Invalid && int(d) < len(dtypeNames) }

// IsFloat reports whether d is a floating-point type.
func (d DType) IsFloat() bool {
	return d == Float32 || d == Float16 || d == BFloat16 || d == Float64
}

// ParseDType accepts the names String returns, plus the common aliases of PyTorch
// ("float", "half", "long", "int") and safetensors ("F32", "F16", "BF16", "I64", …).
func ParseDType(s string) (DType, error) {
	switch s {
	case "float32", "float", "F32", "f32":
		return Float32, nil
	case "float16", "half", "F16", "f16":
		return Float16, nil
	case "bfloat16", "BF16", "bf16":
		return BFloat16, nil
	case "int64", "long", "I64", "i64":
		return Int64, nil
	case "int32", "int", "I32", "i32":
		return Int32, nil
	case "uint8", "U8", "u8":
		return Uint8, nil
	case "bool", "BOOL":
		return Bool, nil
	case "float64", "double", "F64", "f64":
		return Float64, nil
	}
	return Invalid, fmt.Errorf("unknown dtype %q", s)
}

// f16 and bf16 conversions; bfloat16 is the top half of a float32 with round-to-nearest-even.

func f16ToF32(h uint16) float32 { return float16.Frombits(h).Float32() }
func f32ToF16(f float32) uint16 { return float16.Fromfloat32(f).Bits() }

func bf16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

func f32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if f != f { // NaN stays a quiet NaN
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}
