package wavenet

import "fmt"

// gemvAcc computes y[o] += Σ_i x[i]·w[i·out+o] for an in × out row-major w: a
// matrix-vector product over pre-transposed weights, so each x[i] scales one
// contiguous row. Batch-1 generation is nothing but these small products (a 64 → 128
// or 256 → 256 layer per call), where a general SGEMM spends its time packing.
func gemvAcc(w, x, y []float32, in, out int) {
	if len(w) < in*out || len(x) < in || len(y) < out {
		panic(fmt.Sprintf("wavenet: gemv %d×%d with w %d, x %d, y %d", in, out, len(w), len(x), len(y)))
	}
	o := gemvVec(w, x, y, in, out)
	if o == out {
		return
	}
	y = y[o:out]
	for i := 0; i < in; i++ {
		xi := x[i]
		row := w[i*out+o : i*out+out]
		for j := range y {
			y[j] += xi * row[j]
		}
	}
}
