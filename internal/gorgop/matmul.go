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
