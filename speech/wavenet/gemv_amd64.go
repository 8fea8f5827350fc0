//go:build !purego

package wavenet

import "golang.org/x/sys/cpu"

// useAVX512 picks the assembly GEMV once: X86.HasAVX512F already checks that the OS
// saves the ZMM state.
var useAVX512 = cpu.X86.HasAVX512F

//go:noescape
func gemv64(w, x, y *float32, in, ld int)

//go:noescape
func gemv16(w, x, y *float32, in, ld int)

// gemvVec handles the columns it can with AVX-512 and returns how many it did.
func gemvVec(w, x, y []float32, in, out int) int {
	if !useAVX512 || in == 0 {
		return 0
	}
	o := 0
	for ; o+64 <= out; o += 64 {
		gemv64(&w[o], &x[0], &y[o], in, out)
	}
	for ; o+16 <= out; o += 16 {
		gemv16(&w[o], &x[0], &y[o], in, out)
	}
	return o
}
