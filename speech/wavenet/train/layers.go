package train

import (
	"fmt"
	"math"

	"gorgonia.org/gorgonia"
	gtensor "gorgonia.org/tensor"

	"github.com/plexusml/plexus/internal/gorgop"
)

// Activations are time-major matrices: N = B·T rows (B crops of T samples), one column
// per channel. Data (input classes, conditioning, targets) never enters the graph as a
// node: ops read it from Go memory set before each step, so no gradient is computed
// for it.

// embed is the first 1×1 convolution over one-hot input: row n of the output is row
// ids[n] of W (classes × R).
func embed(w *gorgonia.Node, ids []int32) (*gorgonia.Node, error) {
	k, r := w.Shape()[0], w.Shape()[1]
	n := len(ids)
	fwd := newOp("embed", []int{2}, gtensor.Shape{n, r}, func(out []float32, in [][]float32) {
		for i, id := range ids {
			copy(out[i*r:(i+1)*r], in[0][int(id)*r:(int(id)+1)*r])
		}
	})
	fwd.WRT = []bool{true}
	fwd.Diff = func(_ gorgonia.Nodes, _, dy *gorgonia.Node) (gorgonia.Nodes, error) {
		dw := newOp("embed.dw", []int{2}, gtensor.Shape{k, r}, func(out []float32, in [][]float32) {
			clear(out)
			for i, id := range ids {
				row := out[int(id)*r : (int(id)+1)*r]
				for j, v := range in[0][i*r : (i+1)*r] {
					row[j] += v
				}
			}
		})
		g, err := dw.Apply(dy)
		return gorgonia.Nodes{g}, err
	}
	return fwd.Apply(w)
}

// shift delays every crop by d steps (zeros enter at each crop's start): the dilated
// tap of a causal convolution. Its gradient is the opposite shift.
func shift(x *gorgonia.Node, d, T int) (*gorgonia.Node, error) {
	s := x.Shape().Clone()
	n, c := s[0], s[1]
	mk := func(name string, lag int) *sliceOp {
		return newOp(name, []int{2}, s.Clone(), func(out []float32, in [][]float32) {
			for b := 0; b < n/T; b++ {
				for t := 0; t < T; t++ {
					u := t - lag
					o := out[(b*T+t)*c : (b*T+t+1)*c]
					if u < 0 || u >= T {
						clear(o)
						continue
					}
					copy(o, in[0][(b*T+u)*c:(b*T+u+1)*c])
				}
			}
		})
	}
	fwd := mk(fmt.Sprintf("shift%d", d), d)
	fwd.WRT = []bool{true}
	fwd.Diff = func(_ gorgonia.Nodes, _, dy *gorgonia.Node) (gorgonia.Nodes, error) {
		g, err := mk(fmt.Sprintf("unshift%d", d), -d).Apply(dy)
		return gorgonia.Nodes{g}, err
	}
	return fwd.Apply(x)
}

// gate is WaveNet's gated unit, tanh(a)·sigmoid(b).
func gate(a, b *gorgonia.Node) (*gorgonia.Node, error) {
	s := a.Shape().Clone()
	fwd := newOp("gate", []int{2, 2}, s, func(out []float32, in [][]float32) {
		for j := range out {
			out[j] = tanh(in[0][j]) * sigmoid(in[1][j])
		}
	})
	fwd.WRT = []bool{true, true}
	fwd.Diff = func(nodes gorgonia.Nodes, _, dy *gorgonia.Node) (gorgonia.Nodes, error) {
		da := newOp("gate.da", []int{2, 2, 2}, s.Clone(), func(out []float32, in [][]float32) {
			for j := range out {
				t := tanh(in[0][j])
				out[j] = in[2][j] * sigmoid(in[1][j]) * (1 - t*t)
			}
		})
		db := newOp("gate.db", []int{2, 2, 2}, s.Clone(), func(out []float32, in [][]float32) {
			for j := range out {
				g := sigmoid(in[1][j])
				out[j] = in[2][j] * tanh(in[0][j]) * g * (1 - g)
			}
		})
		ga, err := da.Apply(nodes[0], nodes[1], dy)
		if err != nil {
			return nil, err
		}
		gb, err := db.Apply(nodes[0], nodes[1], dy)
		return gorgonia.Nodes{ga, gb}, err
	}
	return fwd.Apply(a, b)
}

func tanh(x float32) float32    { return float32(math.Tanh(float64(x))) }
func sigmoid(x float32) float32 { return float32(1 / (1 + math.Exp(-float64(x)))) }

func relu(x *gorgonia.Node) (*gorgonia.Node, error) {
	s := x.Shape().Clone()
	fwd := newOp("relu", []int{2}, s, func(out []float32, in [][]float32) {
		for i, v := range in[0] {
			out[i] = max(v, 0)
		}
	})
	fwd.WRT = []bool{true}
	fwd.Diff = func(_ gorgonia.Nodes, y, dy *gorgonia.Node) (gorgonia.Nodes, error) {
		dx := newOp("relu.dx", []int{2, 2}, s.Clone(), func(out []float32, in [][]float32) {
			for i, v := range in[0] {
				if v > 0 {
					out[i] = in[1][i]
				} else {
					out[i] = 0
				}
			}
		})
		g, err := dx.Apply(y, dy)
		return gorgonia.Nodes{g}, err
	}
	return fwd.Apply(x)
}

// crossEntropy is the mean softmax cross-entropy of N × K logits against the targets
// set before each step (mu-law classes).
func crossEntropy(logits *gorgonia.Node, targets []int32) (*gorgonia.Node, error) {
	return gorgop.CrossEntropy(logits, func(i int) int { return int(targets[i]) }, nil)
}
