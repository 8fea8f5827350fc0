//go:build !amd64 || purego

package lstm

// matvec adds w·x to y for the m×n row-major w (leading dimension ldw).
func matvec(m, n int, w []float32, ldw int, x, y []float32) { matvecGo(m, n, w, ldw, x, y) }
