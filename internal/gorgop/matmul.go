package gorgop

import (
	"fmt"

	"gorgonia.org/gorgonia"
	gtensor "gorgonia.org/tensor"

	"github.com/plexusml/plexus/core/kernels"
)

// Project multiplies data (N × I, a constant input refilled before each step) by the
// weight W (I × O); only W gets a gradient.
func Project(data []float32, n int, w *gorgonia.Node) (*gorgonia.Node, error) {
	i, o := w.Shape()[0], w.Shape()[1]
	fwd := New("project", []int{2}, gtensor.Shape{n, o}, func(out []float32, in [][]float32) {
		kernels.Sgemm(false, false, n, o, i, 1, data, i, in[0], o, 0, out, o)
	})
	fwd.WRT = []bool{true}
	fwd.Diff = func(_ gorgonia.Nodes, _, dy *gorgonia.Node) (gorgonia.Nodes, error) {
		dw := New("project.dw", []int{2}, gtensor.Shape{i, o}, func(out []float32, in [][]float32) {
			kernels.Sgemm(true, false, i, o, n, 1, data, i, in[0], o, 0, out, o)
		})
		g, err := dw.Apply(dy)
		return gorgonia.Nodes{g}, err
	}
	return fwd.Apply(w)
}

// MatMul is x (N × I) · W (I × O), both differentiable, on core/kernels SGEMM.
func MatMul(x, w *gorgonia.Node) (*gorgonia.Node, error) {
	n, i, o := x.Shape()[0], w.Shape()[0], w.Shape()[1]
	if x.Shape()[1] != i {
		return nil, fmt.Errorf("gorgop: matmul: %v · %v", x.Shape(), w.Shape())
	}
	fwd := New("matmul", []int{2, 2}, gtensor.Shape{n, o}, func(out []float32, in [][]float32) {
		kernels.Sgemm(false, false, n, o, i, 1, in[0], i, in[1], o, 0, out, o)
	})
	fwd.WRT = []bool{true, true}
	fwd.Diff = func(nodes gorgonia.Nodes, _, dy *gorgonia.Node) (gorgonia.Nodes, error) {
		dx := New("matmul.dx", []int{2, 2}, gtensor.Shape{n, i}, func(out []float32, in [][]float32) {
			kernels.Sgemm(false, true, n, i, o, 1, in[1], o, in[0], o, 0, out, i) // dy · Wᵀ
		})
		dw := New("matmul.dw", []int{2, 2}, gtensor.Shape{i, o}, func(out []float32, in [][]float32) {
			kernels.Sgemm(true, false, i, o, n, 1, in[0], i, in[1], o, 0, out, o) // xᵀ · dy
		})
		gx, err := dx.Apply(nodes[1], dy)
		if err != nil {
			return nil, err
		}
		gw, err := dw.Apply(nodes[0], dy)
		return gorgonia.Nodes{gx, gw}, err
	}
	return fwd.Apply(x, w)
}

// Sum returns scale·(Σ xs + bias) over N × C nodes of one shape, bias (one value per
// column) optional; every input gets a gradient.
func Sum(scale float32, bias *gorgonia.Node, xs ...*gorgonia.Node) (*gorgonia.Node, error) {
	s := xs[0].Shape().Clone()
	c := s[1]
	ranks := make([]int, len(xs))
	for i, x := range xs {
		if !x.Shape().Eq(s) {
			return nil, fmt.Errorf("gorgop: sum: shapes %v and %v", s, x.Shape())
		}
		ranks[i] = 2
	}
	inputs := append([]*gorgonia.Node(nil), xs...)
	if bias != nil {
		ranks = append(ranks, 1)
		inputs = append(inputs, bias)
	}
	nx := len(xs)
	fwd := New("sum", ranks, s, func(out []float32, in [][]float32) {
		copy(out, in[0])
		for _, x := range in[1:nx] {
			for j, v := range x {
				out[j] += v
			}
		}
		if bias != nil {
			b := in[nx]
			for r := 0; r < len(out); r += c {
				row := out[r : r+c]
				for j := range row {
					row[j] += b[j]
				}
			}
		}
		if scale != 1 {
			for j := range out {
				out[j] *= scale
			}
		}
	})
	fwd.WRT = make([]bool, len(inputs))
	for i := range fwd.WRT {
		fwd.WRT[i] = true
	}
	fwd.Diff = func(_ gorgonia.Nodes, _, dy *gorgonia.Node) (gorgonia.Nodes, error) {
		g := dy
		if scale != 1 {
			sc := New("sum.scale", []int{2}, s.Clone(), func(out []float32, in [][]float32) {
				for j, v := range in[0] {
					out[j] = v * scale
				}
			})
			var err error
			if g, err = sc.Apply(dy); err != nil {
				return nil, err
			}
		}
		grads := make(gorgonia.Nodes, 0, len(inputs))
		for range xs {
			grads = append(grads, g)
		}
		if bias != nil {
			db := New("sum.db", []int{2}, gtensor.Shape{c}, func(out []float32, in [][]float32) {
				clear(out)
				for r := 0; r < len(in[0]); r += c {
					for j, v := range in[0][r : r+c] {
						out[j] += v
					}
				}
			})
			gb, err := db.Apply(g)
			if err != nil {
				return nil, err
			}
			grads = append(grads, gb)
		}
		return grads, nil
	}
	return fwd.Apply(inputs...)
}
