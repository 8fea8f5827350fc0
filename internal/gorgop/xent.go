package gorgop

import (
	"math"

	"gorgonia.org/gorgonia"
	gtensor "gorgonia.org/tensor"
)

// CrossEntropy is the mean softmax cross-entropy of N × K logits. label(i) is row i's
// class, read every step so that a trainer can change its targets between steps; when
// correct is not nil, each forward pass stores there the number of rows whose argmax is
// their label (for training logs).
func CrossEntropy(logits *gorgonia.Node, label func(i int) int, correct *int) (*gorgonia.Node, error) {
	n, k := logits.Shape()[0], logits.Shape()[1]
	fwd := New("xent", []int{2}, nil, func(out []float32, in [][]float32) {
		var loss float64
		right := 0
		for i := 0; i < n; i++ {
			row := in[0][i*k : (i+1)*k]
			best := 0
			for j, v := range row {
				if v > row[best] {
					best = j
				}
			}
			y := label(i)
			if best == y {
				right++
			}
			var s float64
			for _, v := range row {
				s += math.Exp(float64(v - row[best]))
			}
			loss += math.Log(s) - float64(row[y]-row[best])
		}
		if correct != nil {
			*correct = right
		}
		out[0] = float32(loss / float64(n))
	})
	fwd.WRT = []bool{true}
	fwd.Diff = func(nodes gorgonia.Nodes, _, g *gorgonia.Node) (gorgonia.Nodes, error) {
		dx := New("xent.dx", []int{2, 0}, gtensor.Shape{n, k}, func(out []float32, in [][]float32) {
			scale := in[1][0] / float32(n)
			for i := 0; i < n; i++ {
				row, o := in[0][i*k:(i+1)*k], out[i*k:(i+1)*k]
				mx := row[0]
				for _, v := range row {
					mx = max(mx, v)
				}
				var s float32
				for j, v := range row {
					e := float32(math.Exp(float64(v - mx)))
					o[j] = e
					s += e
				}
				for j := range o {
					o[j] = o[j] / s * scale
				}
				o[label(i)] -= scale
			}
		})
		gx, err := dx.Apply(nodes[0], g)
		if err != nil {
			return nil, err
		}
		return gorgonia.Nodes{gx}, nil
	}
	return fwd.Apply(logits)
}
