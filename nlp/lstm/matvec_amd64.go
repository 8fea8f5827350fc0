//go:build amd64 && !purego

package lstm

import "golang.org/x/sys/cpu"

//go:noescape
func matvecAVX2(m, n int, w *float32, ldw int, x *float32, y *float32)

var hasAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// matvec adds w·x to y for the m×n row-major w (leading dimension ldw).
func matvec(m, n int, w []float32, ldw int, x, y []float32) {
	if m == 0 {
		return
	}
	_ = w[(m-1)*ldw+n-1]
	_ = x[n-1]
	_ = y[m-1]
	if hasAVX2 && n > 0 {
		matvecAVX2(m, n, &w[0], ldw, &x[0], &y[0])
		return
	}
	matvecGo(m, n, w, ldw, x, y)
}
