// Package weights reads and writes model weights: memory-mapped safetensors files and
// PyTorch checkpoints (zip and legacy torch.save formats, read without running pickle code).
// Models bind parameters through a Binder, which maps PyTorch state-dict names and reports
// every missing, unexpected or wrong-shape parameter at once.
package weights

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/plexusml/plexus/core/tensor"
)

// ErrFormat is wrapped by every error about a malformed or unrecognised weights file.
var ErrFormat = errors.New("invalid weights file")

// Store is a set of named tensors.
type Store interface {
	Names() []string // sorted
	Get(name string) (*tensor.Tensor, bool)
	Close() error
}

// Format is a weights file format recognised by its content.
type Format int

// The formats Open recognises.
const (
	FormatUnknown Format = iota
	FormatSafetensors
	FormatPyTorchZip
	FormatPyTorchLegacy
)

func (f Format) String() string {
	return [...]string{"unknown", "safetensors", "pytorch (zip)", "pytorch (legacy)"}[f]
}

// Sniff tells the format from a file's first bytes (16 are enough).
func Sniff(head []byte) Format {
	switch {
	case len(head) >= 4 && string(head[:4]) == "PK\x03\x04":
		return FormatPyTorchZip
	case len(head) >= 3 && head[0] == 0x80 && head[1] <= 5 && head[2] == 0x8a: // PROTO, LONG1 magic
		return FormatPyTorchLegacy
	case len(head) >= 9 && head[8] == '{' && head[6] == 0 && head[7] == 0:
		return FormatSafetensors
	}
	return FormatUnknown
}

// Open opens a weights file by its content: safetensors (memory-mapped) or a PyTorch
// checkpoint (read into memory); the extension does not matter. It also opens a shard
// index (*.index.json) and a Hugging Face model directory (model.safetensors,
// pytorch_model.bin or their sharded forms).
func Open(path string) (Store, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return openDir(path)
	}
	if strings.HasSuffix(path, ".index.json") {
		return OpenSharded(path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open weights: %w", err)
	}
	head := make([]byte, 16)
	n, err := io.ReadFull(f, head)
	f.Close()
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("open weights %s: %w", path, err)
	}
	switch Sniff(head[:n]) {
	case FormatSafetensors:
		return OpenSafetensors(path)
	case FormatPyTorchZip, FormatPyTorchLegacy:
		m, err := ReadPyTorch(path)
		if err != nil {
			return nil, err
		}
		return NewMapStore(path, m), nil
	}
	return nil, fmt.Errorf("open weights %s: %w: not safetensors or a PyTorch checkpoint (torch.save)", path, ErrFormat)
}

// MapStore is a Store over tensors held in memory.
type MapStore struct {
	path    string
	tensors map[string]*tensor.Tensor
	names   []string
}

// NewMapStore wraps tensors (not copied); path names their origin in errors.
func NewMapStore(path string, tensors map[string]*tensor.Tensor) *MapStore {
	names := make([]string, 0, len(tensors))
	for n := range tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	return &MapStore{path: path, tensors: tensors, names: names}
}

// Path is the file the tensors came from.
func (m *MapStore) Path() string { return m.path }

// Names returns the tensor names, sorted.
func (m *MapStore) Names() []string { return append([]string(nil), m.names...) }

// Get returns a tensor by name.
func (m *MapStore) Get(name string) (*tensor.Tensor, bool) {
	t, ok := m.tensors[name]
	return t, ok
}

// Close releases nothing; the tensors stay valid.
func (m *MapStore) Close() error { return nil }

var (
	_ Store = (*Safetensors)(nil)
	_ Store = (*MapStore)(nil)
)
