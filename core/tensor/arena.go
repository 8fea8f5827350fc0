package tensor

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"unsafe"
)

// ErrArenaUnsupported is returned where shared memory is not available (non-Unix
// systems); callers fall back to inline transfer.
var ErrArenaUnsupported = errors.New("tensor: shared-memory arena not supported on this system")

// ArenaKind selects how an arena's backing file is created.
type ArenaKind int

const (
	// ArenaAuto uses a memfd where the kernel has one and an unlinked /dev/shm file
	// otherwise.
	ArenaAuto ArenaKind = iota
	// ArenaMemfd is an anonymous memory file: it has no name, so nothing can be left
	// behind, even after SIGKILL.
	ArenaMemfd
	// ArenaShmFile is a file in /dev/shm (the temp dir where there is none), unlinked
	// as soon as it is open: only an inherited descriptor reaches it.
	ArenaShmFile
)

// ArenaAlign is the alignment of every region placed in an arena: a cache line, which
// also satisfies every dtype.
const ArenaAlign = 64

// Arena is a shared-memory file mapped into this process. Host and plugin map the
// same file (the plugin inherits its descriptor), so a tensor placed in it crosses
// the process boundary as an offset. The file only grows; growing maps it afresh
// with pages pre-faulted, and keeps the previous mappings alive until Release so
// slices handed out before the growth stay valid. An Arena is not safe for
// concurrent use.
type Arena struct {
	f    *os.File
	mem  []byte
	old  [][]byte
	mu   sync.Mutex // Close may race with a supervisor tearing the arena down
	done bool
}

// NewArena creates an arena of at least size bytes.
func NewArena(kind ArenaKind, size int64) (*Arena, error) {
	f, err := createArenaFile(kind)
	if err != nil {
		return nil, err
	}
	a := &Arena{f: f}
	if err := a.Grow(size); err != nil {
		f.Close()
		return nil, err
	}
	return a, nil
}

// OpenArena maps an arena file created by another process, at its current size.
func OpenArena(f *os.File) (*Arena, error) {
	a := &Arena{f: f}
	if err := a.Refresh(); err != nil {
		return nil, err
	}
	return a, nil
}

// File is the arena's backing file, to be inherited by a child process.
func (a *Arena) File() *os.File { return a.f }

// Size is the length of the current mapping.
func (a *Arena) Size() int64 { return int64(len(a.mem)) }

// Bytes is the current mapping.
func (a *Arena) Bytes() []byte { return a.mem }

// Grow makes the file and the mapping at least size bytes long, rounded up to whole
// pages; a smaller size is a no-op.
func (a *Arena) Grow(size int64) error {
	if size <= int64(len(a.mem)) {
		return nil
	}
	size = alignUp(size, int64(os.Getpagesize()))
	st, err := a.f.Stat()
	if err != nil {
		return fmt.Errorf("arena: %w", err)
	}
	if st.Size() < size {
		if err := a.f.Truncate(size); err != nil {
			return fmt.Errorf("arena: grow to %d bytes: %w", size, err)
		}
	}
	return a.remap(size)
}

// Refresh maps the file at its current size, which a peer may have grown.
func (a *Arena) Refresh() error {
	st, err := a.f.Stat()
	if err != nil {
		return fmt.Errorf("arena: %w", err)
	}
	if st.Size() <= int64(len(a.mem)) {
		return nil
	}
	return a.remap(st.Size())
}

func (a *Arena) remap(size int64) error {
	mem, err := mapArena(a.f, size)
	if err != nil {
		return fmt.Errorf("arena: map %d bytes: %w", size, err)
	}
	if a.mem != nil {
		a.old = append(a.old, a.mem)
	}
	a.mem = mem
	return nil
}

// Slice returns the region [off, off+n) of the mapping, refreshing it first when the
// region lies beyond it (the peer grew the file).
func (a *Arena) Slice(off, n uint64) ([]byte, error) {
	end := off + n
	if end < off || end > MaxWireBytes {
		return nil, fmt.Errorf("arena: region %d+%d out of range", off, n)
	}
	if end > uint64(len(a.mem)) {
		if err := a.Refresh(); err != nil {
			return nil, err
		}
		if end > uint64(len(a.mem)) {
			return nil, fmt.Errorf("arena: region %d+%d beyond the %d-byte arena", off, n, len(a.mem))
		}
	}
	return a.mem[off:end:end], nil
}

// Offset reports where b lies in the arena file, if it lies wholly inside the current
// mapping or one that growth superseded (each maps the file from its start).
func (a *Arena) Offset(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	p := uintptr(unsafe.Pointer(&b[0]))
	for k := -1; k < len(a.old); k++ {
		m := a.mem
		if k >= 0 {
			m = a.old[k]
		}
		if len(m) == 0 {
			continue
		}
		base := uintptr(unsafe.Pointer(&m[0]))
		if p >= base && p+uintptr(len(b)) <= base+uintptr(len(m)) {
			return uint64(p - base), true
		}
	}
	return 0, false
}

// Release unmaps the mappings that growth superseded. Slices into them must no longer
// be used.
func (a *Arena) Release() {
	for _, m := range a.old {
		_ = unmapArena(m)
	}
	a.old = nil
}

// Close unmaps the arena and closes its file.
func (a *Arena) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.done {
		return nil
	}
	a.done = true
	a.Release()
	if a.mem != nil {
		_ = unmapArena(a.mem)
		a.mem = nil
	}
	return a.f.Close()
}

// AlignArena rounds an offset up to ArenaAlign.
func AlignArena(n uint64) uint64 { return (n + ArenaAlign - 1) &^ (ArenaAlign - 1) }

func alignUp(n, a int64) int64 { return (n + a - 1) / a * a }
