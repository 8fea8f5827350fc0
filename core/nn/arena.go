package nn

import (
	"unsafe"

	"github.com/plexusml/plexus/core/kernels"
)

// Arena hands out activation memory for one forward pass at a time: a model takes every
// output from it, calls Reset before the next pass, and so allocates nothing once the
// arena has seen its largest pass. The first pass at the largest batch sizes it (or
// NewArena does, when the caller knows the size); a pass that outgrows it takes a new
// chunk, leaving earlier slices valid, and the next Reset replaces the chunks by one of
// the high-water size. A nil *Arena allocates every request, which keeps one-off callers
// simple. An Arena is not safe for concurrent use: one per goroutine.
type Arena struct {
	buf  []float32
	off  int
	used int // floats handed out since Reset, over every chunk
	peak int
	gen  int // bumped when a new chunk starts, so Release knows its mark is stale
	grew bool
	ws   kernels.Workspace
}

// NewArena returns an arena that holds floats floats before it has to grow.
func NewArena(floats int) *Arena {
	return &Arena{buf: alignedFloats(floats), peak: floats}
}

// Floats returns n floats of arena memory, 64-byte aligned; their contents are
// undefined (the previous pass's values). They stay valid until Reset.
func (a *Arena) Floats(n int) []float32 {
	if a == nil {
		return make([]float32, n)
	}
	// Round every block to 16 floats so the next one starts on a cache line too.
	r := (n + 15) &^ 15
	if a.off+r > len(a.buf) {
		a.buf = alignedFloats(max(r, 2*len(a.buf), 4096))
		a.off = 0
		a.gen++
		a.grew = true
	}
	s := a.buf[a.off : a.off+n : a.off+n]
	a.off += r
	a.used += r
	a.peak = max(a.peak, a.used)
	return s
}

// Zeros is Floats cleared to zero.
func (a *Arena) Zeros(n int) []float32 {
	s := a.Floats(n)
	clear(s)
	return s
}

// Act returns an activation of the given shape in arena memory (contents undefined).
func (a *Arena) Act(dims ...int) Act {
	n := 1
	for _, d := range dims {
		n *= d
	}
	return NewAct(a.Floats(n), dims...)
}

// Mark records the arena's position, for Release.
type Mark struct{ gen, off, used int }

// Mark returns the current position. Memory handed out after it can be given back with
// Release: the way a layer frees its temporaries while keeping its output.
func (a *Arena) Mark() Mark {
	if a == nil {
		return Mark{}
	}
	return Mark{gen: a.gen, off: a.off, used: a.used}
}

// Release gives back everything handed out since m. Slices taken after m must no longer
// be used. Across a chunk change it frees nothing (the next Reset consolidates).
func (a *Arena) Release(m Mark) {
	if a == nil || m.gen != a.gen {
		return
	}
	a.off, a.used = m.off, m.used
}

// Reset makes all arena memory available again; every slice handed out before is then
// reused by the next requests.
func (a *Arena) Reset() {
	if a == nil {
		return
	}
	if a.grew {
		a.buf = alignedFloats(a.peak)
		a.grew = false
		a.gen++
	}
	a.off, a.used = 0, 0
}

// Size is the number of floats one pass has needed at most so far: the figure to pass
// to NewArena next time.
func (a *Arena) Size() int { return a.peak }

// Workspace is the kernels' scratch memory that goes with this arena (nil for a nil
// arena, which makes the kernels allocate).
func (a *Arena) Workspace() *kernels.Workspace {
	if a == nil {
		return nil
	}
	return &a.ws
}

// alignedFloats returns n floats starting on a 64-byte boundary, as the GEMM packs
// prefer.
func alignedFloats(n int) []float32 {
	if n == 0 {
		return nil
	}
	s := make([]float32, n+16)
	off := int(uintptr(unsafe.Pointer(&s[0]))&63) / 4
	if off != 0 {
		off = 16 - off
	}
	return s[off : off+n : off+n]
}
