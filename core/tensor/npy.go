package tensor

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// ErrNpy is wrapped by every error about a malformed .npy file.
var ErrNpy = errors.New("npy")

// MaxNpyBytes bounds the data ReadNpy accepts, so a lying header cannot make it allocate
// without limit.
var MaxNpyBytes int64 = 8 << 30

var npyMagic = []byte("\x93NUMPY")

// npy descr strings by dtype; numpy has no bfloat16, so it travels as a 2-byte void
// with a field name that says what it is, as ml_dtypes does.
var npyDescr = map[DType]string{
	Float32: "<f4", Float16: "<f2", BFloat16: "<V2", Int64: "<i8", Int32: "<i4",
	Uint8: "|u1", Bool: "|b1", Float64: "<f8",
}

// WriteNpy writes t in NumPy's .npy format (version 1.0, C order).
func WriteNpy(w io.Writer, t *Tensor) error {
	descr, ok := npyDescr[t.dtype]
	if !ok {
		return fmt.Errorf("npy: cannot write dtype %s", t.dtype)
	}
	dims := make([]string, len(t.shape))
	for i, d := range t.shape {
		dims[i] = strconv.Itoa(d)
	}
	shape := strings.Join(dims, ", ")
	if len(dims) == 1 {
		shape += ","
	}
	header := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, shape)
	// Pad so that magic(6)+version(2)+len(2)+header+'\n' is a multiple of 64.
	total := 10 + len(header) + 1
	pad := (64 - total%64) % 64
	header += strings.Repeat(" ", pad) + "\n"
	if len(header) > 65535 {
		return fmt.Errorf("npy: header too long")
	}
	var pre [10]byte
	copy(pre[:], npyMagic)
	pre[6], pre[7] = 1, 0
	binary.LittleEndian.PutUint16(pre[8:], uint16(len(header)))
	if _, err := w.Write(pre[:]); err != nil {
		return err
	}
	if _, err := io.WriteString(w, header); err != nil {
		return err
	}
	_, err := w.Write(t.Contiguous().Bytes())
	return err
}

var (
	reDescr   = regexp.MustCompile(`'descr'\s*:\s*'([^']*)'`)
	reFortran = regexp.MustCompile(`'fortran_order'\s*:\s*(True|False)`)
	reShape   = regexp.MustCompile(`'shape'\s*:\s*\(([^)]*)\)`)
)

// ReadNpy reads one array in NumPy's .npy format (versions 1, 2 and 3). Fortran-ordered
// arrays are returned as a transposed view of their data.
func ReadNpy(r io.Reader) (*Tensor, error) {
	br := bufio.NewReader(r)
	var pre [8]byte
	if _, err := io.ReadFull(br, pre[:]); err != nil {
		return nil, fmt.Errorf("%w: short file: %v", ErrNpy, err)
	}
	if !bytes.Equal(pre[:6], npyMagic) {
		return nil, fmt.Errorf("%w: not a .npy file (bad magic)", ErrNpy)
	}
	var hlen int
	switch pre[6] {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return nil, fmt.Errorf("%w: short header: %v", ErrNpy, err)
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return nil, fmt.Errorf("%w: short header: %v", ErrNpy, err)
		}
		hlen = int(binary.LittleEndian.Uint32(b[:]))
		if hlen > 1<<20 {
			return nil, fmt.Errorf("%w: header of %d bytes is too long", ErrNpy, hlen)
		}
	default:
		return nil, fmt.Errorf("%w: unsupported version %d.%d", ErrNpy, pre[6], pre[7])
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return nil, fmt.Errorf("%w: short header: %v", ErrNpy, err)
	}
	dt, shape, fortran, err := parseNpyHeader(string(hdr))
	if err != nil {
		return nil, err
	}
	n, err := shapeElems(shape)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNpy, err)
	}
	size := int64(n) * int64(dt.Size())
	if size > MaxNpyBytes {
		return nil, fmt.Errorf("%w: array of %d bytes exceeds the %d-byte limit", ErrNpy, size, MaxNpyBytes)
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(br, data); err != nil {
		return nil, fmt.Errorf("%w: data is shorter than shape %v needs (%d bytes): %v", ErrNpy, shape, size, err)
	}
	if !fortran {
		return FromBytes(dt, shape, data)
	}
	rev := make([]int, len(shape))
	for i := range shape {
		rev[i] = shape[len(shape)-1-i]
	}
	t, err := FromBytes(dt, rev, data)
	if err != nil {
		return nil, err
	}
	perm := make([]int, len(shape))
	for i := range perm {
		perm[i] = len(shape) - 1 - i
	}
	return t.Permute(perm...)
}

func parseNpyHeader(h string) (DType, []int, bool, error) {
	m := reDescr.FindStringSubmatch(h)
	if m == nil {
		return 0, nil, false, fmt.Errorf("%w: header has no descr", ErrNpy)
	}
	var dt DType
	for d, s := range npyDescr {
		if s == m[1] {
			dt = d
		}
	}
	switch m[1] { // byte order markers that mean the same on little-endian data
	case "f4", "=f4":
		dt = Float32
	case "f2", "=f2":
		dt = Float16
	case "i8", "=i8":
		dt = Int64
	case "i4", "=i4":
		dt = Int32
	case "u1", "<u1", "=u1", "|i1":
		if m[1] != "|i1" {
			dt = Uint8
		}
	case "?", "|?", "b1":
		dt = Bool
	case "f8", "=f8":
		dt = Float64
	}
	if dt == Invalid {
		return 0, nil, false, fmt.Errorf("%w: unsupported dtype %q (big-endian or not one of float32/16/64, bfloat16, int64/32, uint8, bool)", ErrNpy, m[1])
	}
	f := reFortran.FindStringSubmatch(h)
	if f == nil {
		return 0, nil, false, fmt.Errorf("%w: header has no fortran_order", ErrNpy)
	}
	s := reShape.FindStringSubmatch(h)
	if s == nil {
		return 0, nil, false, fmt.Errorf("%w: header has no shape", ErrNpy)
	}
	var shape []int
	for _, p := range strings.Split(s[1], ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		p = strings.TrimSuffix(p, "L")
		d, err := strconv.Atoi(p)
		if err != nil || d < 0 {
			return 0, nil, false, fmt.Errorf("%w: bad dimension %q in shape", ErrNpy, p)
		}
		shape = append(shape, d)
	}
	return dt, shape, f[1] == "True", nil
}

// LoadNpy reads a .npy file.
func LoadNpy(path string) (*Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := ReadNpy(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// SaveNpy writes t to path atomically (a temporary file renamed into place).
func SaveNpy(path string, t *Tensor) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".npy-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	bw := bufio.NewWriter(tmp)
	if err := WriteNpy(bw, t); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
