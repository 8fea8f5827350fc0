package train

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	gtensor "gorgonia.org/tensor"
)

// probe is L = Σ y·r for a fixed random r: a smooth scalar whose gradient with respect
// to y is r, so every op's backward pass can be checked against finite differences of
// L alone.
func probe(t *testing.T, y *gorgonia.Node, rng *rand.Rand) *gorgonia.Node {
	t.Helper()
	s := y.Shape().Clone()
	r := make([]float32, s.TotalSize())
	for i := range r {
		r[i] = float32(rng.NormFloat64())
	}
	op := newOp("probe", []int{s.Dims()}, nil, func(out []float32, in [][]float32) {
		var sum float64
		for i, v := range in[0] {
			sum += float64(v) * float64(r[i])
		}
		out[0] = float32(sum)
	})
	op.WRT = []bool{true}
	op.Diff = func(_ gorgonia.Nodes, _, g *gorgonia.Node) (gorgonia.Nodes, error) {
		d := newOp("probe.dx", []int{0}, s.Clone(), func(out []float32, in [][]float32) {
			for i := range out {
				out[i] = r[i] * in[0][0]
			}
		})
		n, err := d.Apply(g)
		return gorgonia.Nodes{n}, err
	}
	n, err := op.Apply(y)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

type leaf struct {
	node *gorgonia.Node
	data []float32
}

func newLeaf(g *gorgonia.ExprGraph, name string, rng *rand.Rand, shape ...int) leaf {
	data := make([]float32, prod(shape))
	for i := range data {
		data[i] = float32(rng.NormFloat64())
	}
	d := gtensor.New(gtensor.WithShape(shape...), gtensor.WithBacking(data))
	n := gorgonia.NewTensor(g, gorgonia.Float32, len(shape), gorgonia.WithShape(shape...), gorgonia.WithName(name), gorgonia.WithValue(d))
	return leaf{n, data}
}

// checkOp builds y = build(leaves), L = probe(y), and compares dL/dleaf from gorgonia's
// autodiff with central differences at a spread of elements of every leaf.
func checkOp(t *testing.T, name string, shapes [][]int, build func(in []*gorgonia.Node) (*gorgonia.Node, error)) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, uint64(len(name))))
	g := gorgonia.NewGraph()
	var leaves []leaf
	var nodes []*gorgonia.Node
	for i, s := range shapes {
		l := newLeaf(g, name+string(rune('a'+i)), rng, s...)
		leaves = append(leaves, l)
		nodes = append(nodes, l.node)
	}
	y, err := build(nodes)
	if err != nil {
		t.Fatal(err)
	}
	cost := probe(t, y, rng)
	if _, err := gorgonia.Grad(cost, nodes...); err != nil {
		t.Fatalf("%s: grad: %v", name, err)
	}
	vm := gorgonia.NewTapeMachine(g, gorgonia.BindDualValues(nodes...))
	defer vm.Close()
	run := func() float64 {
		if err := vm.RunAll(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		vm.Reset()
		return float64(*cost.Value().(*gorgonia.F32))
	}
	run()
	// Read every gradient before the finite-difference runs: gorgonia accumulates them.
	grads := make([][]float32, len(leaves))
	for li, l := range leaves {
		gv, err := l.node.Grad()
		if err != nil {
			t.Fatal(err)
		}
		g, _ := floats(gv)
		grads[li] = append([]float32(nil), g...)
	}
	for li, l := range leaves {
		grad := grads[li]
		for _, j := range []int{0, 1, len(l.data) / 3, len(l.data) / 2, len(l.data) - 1} {
			const eps = 1e-2
			orig := l.data[j]
			l.data[j] = orig + eps
			up := run()
			l.data[j] = orig - eps
			down := run()
			l.data[j] = orig
			num := (up - down) / (2 * eps)
			if d := math.Abs(num - float64(grad[j])); d > 1e-2*max(1, math.Abs(num)) {
				t.Errorf("%s: input %d element %d: autodiff %.5f, finite difference %.5f", name, li, j, grad[j], num)
			}
		}
	}
}

func TestOpGradients(t *testing.T) {
	checkOp(t, "conv3x3", [][]int{{2, 3, 5, 5}, {4, 3, 3, 3}}, func(in []*gorgonia.Node) (*gorgonia.Node, error) {
		return conv2d(in[0], in[1], 1, 1)
	})
	checkOp(t, "conv3x3s2", [][]int{{2, 3, 6, 5}, {4, 3, 3, 3}}, func(in []*gorgonia.Node) (*gorgonia.Node, error) {
		return conv2d(in[0], in[1], 2, 1)
	})
	checkOp(t, "conv1x1s2", [][]int{{2, 3, 5, 5}, {4, 3, 1, 1}}, func(in []*gorgonia.Node) (*gorgonia.Node, error) {
		return conv2d(in[0], in[1], 2, 0)
	})
	checkOp(t, "batchnorm", [][]int{{3, 2, 3, 3}, {2}, {2}}, func(in []*gorgonia.Node) (*gorgonia.Node, error) {
		return batchNorm2d(in[0], in[1], in[2], newBatchNorm(2))
	})
	checkOp(t, "relu", [][]int{{2, 3, 4}}, func(in []*gorgonia.Node) (*gorgonia.Node, error) { return relu(in[0]) })
	checkOp(t, "add", [][]int{{2, 3}, {2, 3}}, func(in []*gorgonia.Node) (*gorgonia.Node, error) { return add(in[0], in[1]) })
	checkOp(t, "avgpool", [][]int{{2, 3, 2, 2}}, func(in []*gorgonia.Node) (*gorgonia.Node, error) { return globalAvgPool(in[0]) })
	checkOp(t, "linear", [][]int{{3, 4}, {5, 4}, {5}}, func(in []*gorgonia.Node) (*gorgonia.Node, error) {
		return linear(in[0], in[1], in[2])
	})
	checkOp(t, "xent", [][]int{{4, 3}}, func(in []*gorgonia.Node) (*gorgonia.Node, error) {
		ce := &crossEntropy{}
		y, err := softmaxCrossEntropy(in[0], ce)
		copy(ce.labels, []int{0, 2, 1, 2})
		if err != nil {
			return nil, err
		}
		// A scalar probe of a scalar is the scalar times r: wrap it as a 1-element tensor.
		return y, nil
	})
	// A whole residual block, where the input fans out to the convolution and the
	// shortcut and gorgonia sums the two gradients.
	checkOp(t, "block", [][]int{{2, 2, 4, 4}, {2, 2, 3, 3}, {2}, {2}}, func(in []*gorgonia.Node) (*gorgonia.Node, error) {
		h, err := conv2d(in[0], in[1], 1, 1)
		if err != nil {
			return nil, err
		}
		if h, err = batchNorm2d(h, in[2], in[3], newBatchNorm(2)); err != nil {
			return nil, err
		}
		if h, err = add(h, in[0]); err != nil {
			return nil, err
		}
		return relu(h)
	})
}
