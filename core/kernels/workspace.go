package kernels

// Workspace is caller-owned scratch memory for kernels that need temporaries. It grows
// to the largest request once and is then reused, so a steady inference loop that passes
// the same Workspace does not allocate. A Workspace is not safe for concurrent use.
type Workspace struct {
	buf []float32
	// pc holds the weights Conv2d packs per call.
	pc PackedConv
}

// floats returns n scratch floats (contents undefined), valid until the next call.
// A nil Workspace allocates, which keeps one-off callers simple.
func (ws *Workspace) floats(n int) []float32 {
	if ws == nil {
		return make([]float32, n)
	}
	if cap(ws.buf) < n {
		ws.buf = alignedFloats(n)
	}
	return ws.buf[:n]
}
