package dataset

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/plexusml/plexus/core/tensor"
)

// maxIDXBytes bounds what ReadIDX allocates, whatever the header claims.
const maxIDXBytes = 1 << 31

// ReadIDX reads an IDX file (the MNIST / Fashion-MNIST format: a magic number whose third
// byte is the element type and fourth the rank, big-endian dimensions, then the data),
// gzip-compressed when the name ends in .gz. Only unsigned-byte data (type 0x08) is
// accepted, which is what both datasets use.
func ReadIDX(path string) (*tensor.Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = bufio.NewReader(f)
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		defer gz.Close()
		r = gz
	}
	t, err := DecodeIDX(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// DecodeIDX decodes an uncompressed IDX stream into a uint8 tensor.
func DecodeIDX(r io.Reader) (*tensor.Tensor, error) {
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return nil, fmt.Errorf("idx: short header: %w", err)
	}
	if magic[0] != 0 || magic[1] != 0 {
		return nil, fmt.Errorf("idx: bad magic % x", magic)
	}
	if magic[2] != 0x08 {
		return nil, fmt.Errorf("idx: element type 0x%02x is not unsigned byte (0x08)", magic[2])
	}
	rank := int(magic[3])
	if rank == 0 || rank > 8 {
		return nil, fmt.Errorf("idx: rank %d out of range", rank)
	}
	shape := make([]int, rank)
	n := int64(1)
	for i := range shape {
		var d uint32
		if err := binary.Read(r, binary.BigEndian, &d); err != nil {
			return nil, fmt.Errorf("idx: short dimensions: %w", err)
		}
		shape[i] = int(d)
		n *= int64(d)
		if n > maxIDXBytes {
			return nil, fmt.Errorf("idx: shape %v is too large", shape[:i+1])
		}
	}
	// Read as the data arrives rather than allocating what the header claims up front.
	data, err := io.ReadAll(io.LimitReader(r, n))
	if err != nil {
		return nil, fmt.Errorf("idx: %w", err)
	}
	if int64(len(data)) != n {
		return nil, fmt.Errorf("idx: data has %d bytes, shape %v needs %d", len(data), shape, n)
	}
	return tensor.FromBytes(tensor.Uint8, shape, data)
}
