package ctc

import (
	"fmt"
	"math"
)

// LogSoftmax returns the per-frame log-softmax of frames×classes scores (row-major). The
// arithmetic is float64 so that a frame with one dominant logit keeps the small log
// probabilities of the others, which the beam search adds up over many frames.
func LogSoftmax(scores []float32, classes int) ([]float64, error) {
	if classes < 1 || len(scores)%classes != 0 {
		return nil, fmt.Errorf("ctc: %d scores are not frames × %d classes", len(scores), classes)
	}
	out := make([]float64, len(scores))
	for off := 0; off < len(scores); off += classes {
		row := scores[off : off+classes]
		m := math.Inf(-1)
		for _, v := range row {
			if f := float64(v); f > m {
				m = f
			}
		}
		if math.IsInf(m, 0) || math.IsNaN(m) {
			return nil, fmt.Errorf("ctc: frame %d has no finite score", off/classes)
		}
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v) - m)
		}
		if math.IsNaN(s) {
			return nil, fmt.Errorf("ctc: frame %d has a NaN score", off/classes)
		}
		lse := m + math.Log(s)
		for j, v := range row {
			out[off+j] = float64(v) - lse
		}
	}
	return out, nil
}

// logAdd returns log(exp(a)+exp(b)) without overflow.
func logAdd(a, b float64) float64 {
	if a < b {
		a, b = b, a
	}
	// Terms 40 nats apart change the sum by under 1e-17 relative: not worth an exp.
	if b-a < -40 || math.IsInf(b, -1) {
		return a
	}
	return a + math.Log1p(math.Exp(b-a))
}
