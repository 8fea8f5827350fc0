package tensor

import (
	"fmt"
	"unsafe"
)

// MaxWireBytes bounds the payload of one tensor received from another process, so a
// corrupt or hostile header cannot make the receiver allocate without limit.
const MaxWireBytes = 1 << 36 // 64 GiB

// WireLayout is the only layout on the wire: contiguous, row-major, little-endian.
const WireLayout = "row_major"

// WireHeader is the part of a tensor's wire form that describes its bytes.
type WireHeader struct {
	DType string
	Shape []int64
	// Layout is "" or WireLayout.
	Layout string
}

// Header returns the wire header of t. The tensor's bytes go with it as they are when
// t is contiguous; callers send t.Contiguous().Bytes().
func (t *Tensor) Header() WireHeader {
	shape := make([]int64, len(t.shape))
	for i, d := range t.shape {
		shape[i] = int64(d)
	}
	return WireHeader{DType: t.dtype.String(), Shape: shape, Layout: WireLayout}
}

// Check validates a received header and returns the dtype, the shape and the number
// of payload bytes it describes.
func (h WireHeader) Check() (DType, []int, int, error) {
	dt, err := ParseDType(h.DType)
	if err != nil {
		return Invalid, nil, 0, fmt.Errorf("wire tensor: %w", err)
	}
	if h.Layout != "" && h.Layout != WireLayout {
		return Invalid, nil, 0, fmt.Errorf("wire tensor: unsupported layout %q (want %q)", h.Layout, WireLayout)
	}
	if len(h.Shape) > 32 {
		return Invalid, nil, 0, fmt.Errorf("wire tensor: rank %d exceeds 32", len(h.Shape))
	}
	shape := make([]int, len(h.Shape))
	n := int64(1)
	for i, d := range h.Shape {
		if d < 0 {
			return Invalid, nil, 0, fmt.Errorf("wire tensor: negative dimension %d in shape %v", d, h.Shape)
		}
		if d > 0 && n > MaxWireBytes/d {
			return Invalid, nil, 0, fmt.Errorf("wire tensor: shape %v exceeds %d bytes", h.Shape, int64(MaxWireBytes))
		}
		n *= d
		shape[i] = int(d)
	}
	nbytes := n * int64(dt.Size())
	if nbytes > MaxWireBytes {
		return Invalid, nil, 0, fmt.Errorf("wire tensor: %s%v is %d bytes, over the %d limit", dt, h.Shape, nbytes, int64(MaxWireBytes))
	}
	return dt, shape, int(nbytes), nil
}

// FromWire builds a tensor from a header and its payload, sharing data when it is
// suitably aligned for the dtype and copying it otherwise.
func FromWire(h WireHeader, data []byte) (*Tensor, error) {
	dt, shape, nbytes, err := h.Check()
	if err != nil {
		return nil, err
	}
	if len(data) != nbytes {
		return nil, fmt.Errorf("wire tensor: %s%v needs %d bytes, got %d", dt, h.Shape, nbytes, len(data))
	}
	if len(data) > 0 && uintptr(unsafe.Pointer(&data[0]))%uintptr(dt.Size()) != 0 {
		// Typed accessors (Float32s, Int64s) need aligned elements.
		data = append(make([]byte, 0, len(data)), data...)
	}
	return FromBytes(dt, shape, data)
}
