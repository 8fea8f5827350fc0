package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"unsafe"
)

// Tensor is a strided view over little-endian element bytes. Views (Permute, Narrow,
// Reshape of a contiguous tensor) share bytes with their parent; Clone and Contiguous
// copy. A Tensor is not safe for concurrent mutation.
type Tensor struct {
	dtype   DType
	shape   []int
	strides []int // in elements
	offset  int   // in elements
	data    []byte
}

// New returns a zeroed contiguous tensor.
func New(dt DType, shape ...int) *Tensor {
	n := checkShape(shape)
	return &Tensor{dtype: dt, shape: cloneInts(shape), strides: contiguousStrides(shape), data: make([]byte, n*dt.Size())}
}

// FromFloat32 wraps data (shared, not copied) with the given shape.
func FromFloat32(data []float32, shape ...int) *Tensor {
	if len(shape) == 0 {
		shape = []int{len(data)}
	}
	if n := checkShape(shape); n != len(data) {
		panic(fmt.Sprintf("tensor: %d float32 values for shape %v", len(data), shape))
	}
	var b []byte
	if len(data) > 0 {
		b = unsafe.Slice((*byte)(unsafe.Pointer(&data[0])), 4*len(data))
	}
	return &Tensor{dtype: Float32, shape: cloneInts(shape), strides: contiguousStrides(shape), data: b}
}

// FromInt64 wraps data (shared, not copied) with the given shape.
func FromInt64(data []int64, shape ...int) *Tensor {
	if len(shape) == 0 {
		shape = []int{len(data)}
	}
	if n := checkShape(shape); n != len(data) {
		panic(fmt.Sprintf("tensor: %d int64 values for shape %v", len(data), shape))
	}
	var b []byte
	if len(data) > 0 {
		b = unsafe.Slice((*byte)(unsafe.Pointer(&data[0])), 8*len(data))
	}
	return &Tensor{dtype: Int64, shape: cloneInts(shape), strides: contiguousStrides(shape), data: b}
}

// FromBytes wraps raw little-endian bytes (shared, not copied).
func FromBytes(dt DType, shape []int, b []byte) (*Tensor, error) {
	if !dt.Valid() {
		return nil, fmt.Errorf("tensor: invalid dtype %v", dt)
	}
	n, err := shapeElems(shape)
	if err != nil {
		return nil, err
	}
	if want := n * dt.Size(); len(b) != want {
		return nil, fmt.Errorf("tensor: %s%v needs %d bytes, got %d", dt, shape, want, len(b))
	}
	return &Tensor{dtype: dt, shape: cloneInts(shape), strides: contiguousStrides(shape), data: b}, nil
}

// DType returns the element type.
func (t *Tensor) DType() DType { return t.dtype }

// Shape returns a copy of the dimensions.
func (t *Tensor) Shape() []int { return cloneInts(t.shape) }

// Strides returns a copy of the strides, in elements.
func (t *Tensor) Strides() []int { return cloneInts(t.strides) }

// Rank is the number of dimensions.
func (t *Tensor) Rank() int { return len(t.shape) }

// Dim returns dimension i; negative i counts from the end.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.shape)
	}
	return t.shape[i]
}

// NumElems is the product of the dimensions.
func (t *Tensor) NumElems() int {
	n := 1
	for _, d := range t.shape {
		n *= d
	}
	return n
}

// NumBytes is NumElems times the element size.
func (t *Tensor) NumBytes() int { return t.NumElems() * t.dtype.Size() }

// IsContiguous reports whether the elements are laid out row-major without gaps.
func (t *Tensor) IsContiguous() bool {
	want := 1
	for i := len(t.shape) - 1; i >= 0; i-- {
		if t.shape[i] != 1 && t.strides[i] != want {
			return false
		}
		want *= t.shape[i]
	}
	return true
}

// Bytes returns the raw bytes of a contiguous tensor, shared with it. It panics on a
// non-contiguous view; call Contiguous first.
func (t *Tensor) Bytes() []byte {
	if !t.IsContiguous() {
		panic("tensor: Bytes of a non-contiguous view")
	}
	es := t.dtype.Size()
	return t.data[t.offset*es : (t.offset+t.NumElems())*es]
}

// Float32s returns the elements of a contiguous float32 tensor, shared with it.
func (t *Tensor) Float32s() []float32 {
	if t.dtype != Float32 {
		panic(fmt.Sprintf("tensor: Float32s of a %s tensor", t.dtype))
	}
	b := t.Bytes()
	if len(b) == 0 {
		return []float32{}
	}
	if uintptr(unsafe.Pointer(&b[0]))%4 != 0 {
		panic("tensor: misaligned float32 data")
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
}

// Int64s returns the elements of a contiguous int64 tensor, shared with it.
func (t *Tensor) Int64s() []int64 {
	if t.dtype != Int64 {
		panic(fmt.Sprintf("tensor: Int64s of a %s tensor", t.dtype))
	}
	b := t.Bytes()
	if len(b) == 0 {
		return []int64{}
	}
	if uintptr(unsafe.Pointer(&b[0]))%8 != 0 {
		panic("tensor: misaligned int64 data")
	}
	return unsafe.Slice((*int64)(unsafe.Pointer(&b[0])), len(b)/8)
}

// Contiguous returns t when it is already contiguous, else a row-major copy.
func (t *Tensor) Contiguous() *Tensor {
	if t.IsContiguous() {
		return t
	}
	return t.Clone()
}

// Clone returns a contiguous copy that shares nothing with t.
func (t *Tensor) Clone() *Tensor {
	out := New(t.dtype, t.shape...)
	es := t.dtype.Size()
	if t.IsContiguous() {
		copy(out.data, t.data[t.offset*es:])
		return out
	}
	dst := 0
	t.each(func(off int) {
		copy(out.data[dst:dst+es], t.data[off*es:(off+1)*es])
		dst += es
	})
	return out
}

// each calls f with the element offset of every element in row-major order.
func (t *Tensor) each(f func(off int)) {
	n := t.NumElems()
	if n == 0 {
		return
	}
	idx := make([]int, len(t.shape))
	off := t.offset
	for i := 0; i < n; i++ {
		f(off)
		for d := len(t.shape) - 1; d >= 0; d-- {
			idx[d]++
			off += t.strides[d]
			if idx[d] < t.shape[d] {
				break
			}
			off -= t.strides[d] * t.shape[d]
			idx[d] = 0
		}
	}
}

// Reshape returns a view with a new shape of the same element count; one dimension may
// be -1. A non-contiguous tensor is copied first.
func (t *Tensor) Reshape(shape ...int) (*Tensor, error) {
	shape = cloneInts(shape)
	n := t.NumElems()
	infer, known := -1, 1
	for i, d := range shape {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d < 0:
			return nil, fmt.Errorf("tensor: bad reshape %v", shape)
		default:
			known *= d
		}
	}
	if infer >= 0 {
		if known == 0 || n%known != 0 {
			return nil, fmt.Errorf("tensor: cannot reshape %v to %v", t.shape, shape)
		}
		shape[infer] = n / known
	} else if known != n {
		return nil, fmt.Errorf("tensor: cannot reshape %v (%d elements) to %v", t.shape, n, shape)
	}
	c := t.Contiguous()
	return &Tensor{dtype: c.dtype, shape: shape, strides: contiguousStrides(shape), offset: c.offset, data: c.data}, nil
}

// Permute returns a view with dimensions reordered: dimension i of the result is
// dimension perm[i] of t.
func (t *Tensor) Permute(perm ...int) (*Tensor, error) {
	if len(perm) != len(t.shape) {
		return nil, fmt.Errorf("tensor: permutation %v for rank %d", perm, len(t.shape))
	}
	seen := make([]bool, len(perm))
	shape, strides := make([]int, len(perm)), make([]int, len(perm))
	for i, p := range perm {
		if p < 0 || p >= len(perm) || seen[p] {
			return nil, fmt.Errorf("tensor: invalid permutation %v", perm)
		}
		seen[p] = true
		shape[i], strides[i] = t.shape[p], t.strides[p]
	}
	return &Tensor{dtype: t.dtype, shape: shape, strides: strides, offset: t.offset, data: t.data}, nil
}

// Narrow returns the view t[..., start:start+length, ...] along dim.
func (t *Tensor) Narrow(dim, start, length int) (*Tensor, error) {
	if dim < 0 {
		dim += len(t.shape)
	}
	if dim < 0 || dim >= len(t.shape) {
		return nil, fmt.Errorf("tensor: narrow dimension %d of rank %d", dim, len(t.shape))
	}
	if start < 0 || length < 0 || start+length > t.shape[dim] {
		return nil, fmt.Errorf("tensor: narrow [%d:%d] of dimension %d with size %d", start, start+length, dim, t.shape[dim])
	}
	shape := cloneInts(t.shape)
	shape[dim] = length
	return &Tensor{dtype: t.dtype, shape: shape, strides: cloneInts(t.strides), offset: t.offset + start*t.strides[dim], data: t.data}, nil
}

// ToFloat32 converts any dtype to a new contiguous float32 tensor (or returns t's
// contiguous form when it is float32 already).
func (t *Tensor) ToFloat32() *Tensor {
	if t.dtype == Float32 {
		return t.Contiguous()
	}
	out := New(Float32, t.shape...)
	dst := out.Float32s()
	if t.IsContiguous() && (t.dtype == Float16 || t.dtype == BFloat16) {
		src := t.Bytes()
		if t.dtype == Float16 {
			for i := range dst {
				dst[i] = f16ToF32(uint16(src[2*i]) | uint16(src[2*i+1])<<8)
			}
		} else {
			for i := range dst {
				dst[i] = math.Float32frombits(uint32(src[2*i])<<16 | uint32(src[2*i+1])<<24)
			}
		}
		return out
	}
	es := t.dtype.Size()
	i := 0
	t.each(func(off int) {
		dst[i] = t.float32At(t.data[off*es : (off+1)*es])
		i++
	})
	return out
}

// ConvertTo converts t to dtype dt (a new contiguous tensor). Float to integer conversion
// truncates toward zero as a C cast does.
func (t *Tensor) ConvertTo(dt DType) *Tensor {
	if dt == t.dtype {
		return t.Clone()
	}
	f := t.ToFloat32()
	if dt == Float32 {
		return f
	}
	out := New(dt, t.shape...)
	src := f.Float32s()
	if dt == Float64 || dt == Int64 { // keep precision for 64-bit targets where t has it
		es := t.dtype.Size()
		i := 0
		t.each(func(off int) {
			v := t.float64At(t.data[off*es : (off+1)*es])
			if dt == Float64 {
				binary.LittleEndian.PutUint64(out.data[i*8:], math.Float64bits(v))
			} else {
				binary.LittleEndian.PutUint64(out.data[i*8:], uint64(int64(v)))
			}
			i++
		})
		return out
	}
	for i, v := range src {
		putFloat32As(dt, out.data[i*dt.Size():], v)
	}
	return out
}

func (t *Tensor) float32At(b []byte) float32 {
	switch t.dtype {
	case Float32:
		return math.Float32frombits(binary.LittleEndian.Uint32(b))
	case Float16:
		return f16ToF32(binary.LittleEndian.Uint16(b))
	case BFloat16:
		return bf16ToF32(binary.LittleEndian.Uint16(b))
	}
	return float32(t.float64At(b))
}

func (t *Tensor) float64At(b []byte) float64 {
	switch t.dtype {
	case Float64:
		return math.Float64frombits(binary.LittleEndian.Uint64(b))
	case Int64:
		return float64(int64(binary.LittleEndian.Uint64(b)))
	case Int32:
		return float64(int32(binary.LittleEndian.Uint32(b)))
	case Uint8:
		return float64(b[0])
	case Bool:
		if b[0] != 0 {
			return 1
		}
		return 0
	}
	return float64(t.float32At(b))
}

func putFloat32As(dt DType, b []byte, v float32) {
	switch dt {
	case Float16:
		binary.LittleEndian.PutUint16(b, f32ToF16(v))
	case BFloat16:
		binary.LittleEndian.PutUint16(b, f32ToBF16(v))
	case Int32:
		binary.LittleEndian.PutUint32(b, uint32(int32(v)))
	case Uint8:
		b[0] = uint8(v)
	case Bool:
		if v != 0 {
			b[0] = 1
		} else {
			b[0] = 0
		}
	}
}

// At returns the element at index idx as float64 (any dtype); for tests and summaries.
func (t *Tensor) At(idx ...int) float64 {
	if len(idx) != len(t.shape) {
		panic(fmt.Sprintf("tensor: index %v for shape %v", idx, t.shape))
	}
	off := t.offset
	for i, x := range idx {
		if x < 0 || x >= t.shape[i] {
			panic(fmt.Sprintf("tensor: index %v out of range for shape %v", idx, t.shape))
		}
		off += x * t.strides[i]
	}
	es := t.dtype.Size()
	return t.float64At(t.data[off*es : (off+1)*es])
}

// String summarises the tensor: dtype and shape, not its data.
func (t *Tensor) String() string {
	parts := make([]string, len(t.shape))
	for i, d := range t.shape {
		parts[i] = fmt.Sprint(d)
	}
	return fmt.Sprintf("%s[%s]", t.dtype, strings.Join(parts, ","))
}

func contiguousStrides(shape []int) []int {
	s := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= shape[i]
	}
	return s
}

// maxElems bounds every shape so that element counts and byte sizes never overflow.
const maxElems = 1 << 40

func shapeElems(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("tensor: negative dimension in shape %v", shape)
		}
		if d > 0 && n > maxElems/d {
			return 0, fmt.Errorf("tensor: shape %v is too large", shape)
		}
		n *= d
	}
	return n, nil
}

func checkShape(shape []int) int {
	n, err := shapeElems(shape)
	if err != nil {
		panic(err.Error())
	}
	return n
}

func cloneInts(s []int) []int { return append([]int(nil), s...) }
