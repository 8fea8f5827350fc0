// Package gorgop adapts functions over float32 slices into gorgonia ops, so that the
// training graphs of every model family run their heavy layers on core/kernels while
// gorgonia keeps the graph, the symbolic differentiation and the tape machine.
package gorgop

import (
	"fmt"
	"hash"
	"hash/fnv"
	"sync/atomic"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	gtensor "gorgonia.org/tensor"
)

// opSeq numbers every op so that gorgonia's common-subexpression elimination, which
// merges nodes whose ops hash alike and whose children are the same, never merges two
// ops that only look alike (a BatchNorm's dγ and dβ both read only dy).
var opSeq atomic.Uint64

// Op is a gorgonia Op whose work is a function over float32 slices. The heavy
// layers of the training graph are Ops so that their forward and backward passes
// run on core/kernels (blocked SGEMM) instead of gorgonia's generic tensor iterators;
// gorgonia still owns the graph, the symbolic differentiation (chain rule, fan-in sums)
// and the tape machine that runs it.
type Op struct {
	name  string
	id    uint64
	in    []int         // rank of each input; 0 is a scalar
	shape gtensor.Shape // output shape, fixed when the graph is built; nil is a scalar
	run   func(out []float32, in [][]float32)
	// Diff builds the gradient graph of the inputs marked in WRT from the output's
	// gradient; an Op without Diff is not differentiable.
	Diff func(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error)
	WRT  []bool

	// Out, when set, is the output's backing, filled by run every step: for a large
	// output that only read-only consumers use and that every step fully rewrites.
	Out []float32
	// Fresh makes Do allocate a new output every run. gorgonia's tape machine may hand
	// an op's output register to a later op to overwrite; an op whose output is read
	// again after that (an unrolled recurrent cell) needs a fresh one each time.
	Fresh bool

	// buf is the output when neither Out nor Fresh is set, allocated once so that a
	// training step allocates nothing big. gorgonia may later write into it from an op
	// that reuses a dead register, which is harmless when every step recomputes it
	// before it is read.
	buf *gtensor.Dense
}

// New returns an op named name over inputs of the given ranks (0 is a scalar) whose
// output has the given shape, computed by run.
func New(name string, in []int, shape gtensor.Shape, run func(out []float32, in [][]float32)) *Op {
	return &Op{name: name, id: opSeq.Add(1), in: in, shape: shape, run: run}
}

// Apply adds the op to the graph of its inputs.
func (o *Op) Apply(inputs ...*gorgonia.Node) (*gorgonia.Node, error) {
	n, err := gorgonia.ApplyOp(o, inputs...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.name, err)
	}
	return n, nil
}

func typeOfRank(r int) hm.Type {
	if r == 0 {
		return gorgonia.Float32
	}
	return gorgonia.TensorType{Dims: r, Of: gorgonia.Float32}
}

func (o *Op) Arity() int { return len(o.in) }

func (o *Op) Type() hm.Type {
	ts := make([]hm.Type, 0, len(o.in)+1)
	for _, r := range o.in {
		ts = append(ts, typeOfRank(r))
	}
	ts = append(ts, typeOfRank(len(o.shape)))
	return hm.NewFnType(ts...)
}

func (o *Op) InferShape(...gorgonia.DimSizer) (gtensor.Shape, error) {
	if len(o.shape) == 0 {
		return gtensor.ScalarShape(), nil
	}
	return o.shape.Clone(), nil
}

func (o *Op) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	if len(vs) != len(o.in) {
		return nil, fmt.Errorf("%s: %d inputs, want %d", o.name, len(vs), len(o.in))
	}
	in := make([][]float32, len(vs))
	for i, v := range vs {
		switch v := v.(type) {
		case *gtensor.Dense:
			f, ok := v.Data().([]float32)
			if !ok {
				return nil, fmt.Errorf("%s: input %d is %v, want float32", o.name, i, v.Dtype())
			}
			in[i] = f
		case *gorgonia.F32:
			in[i] = []float32{float32(*v)}
		default:
			return nil, fmt.Errorf("%s: input %d is %T", o.name, i, v)
		}
	}
	if len(o.shape) == 0 {
		out := []float32{0}
		o.run(out, in)
		return gorgonia.NewF32(out[0]), nil
	}
	switch {
	case o.Out != nil:
		o.run(o.Out, in)
		return gtensor.New(gtensor.WithShape(o.shape.Clone()...), gtensor.WithBacking(o.Out)), nil
	case o.Fresh:
		out := gtensor.New(gtensor.WithShape(o.shape.Clone()...), gtensor.Of(gtensor.Float32))
		o.run(out.Float32s(), in)
		return out, nil
	}
	if o.buf == nil {
		o.buf = gtensor.New(gtensor.WithShape(o.shape.Clone()...), gtensor.Of(gtensor.Float32))
	}
	o.run(o.buf.Float32s(), in)
	return o.buf, nil
}

func (o *Op) ReturnsPtr() bool      { return false }
func (o *Op) CallsExtern() bool     { return false }
func (o *Op) OverwritesInput() int  { return -1 }
func (o *Op) WriteHash(h hash.Hash) { fmt.Fprintf(h, "%s#%d", o.name, o.id) }
func (o *Op) String() string        { return o.name }

func (o *Op) Hashcode() uint32 {
	h := fnv.New32a()
	o.WriteHash(h)
	return h.Sum32()
}

func (o *Op) DiffWRT(n int) []bool {
	if o.WRT == nil {
		return make([]bool, n)
	}
	return o.WRT
}

func (o *Op) SymDiff(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if o.Diff == nil {
		return nil, fmt.Errorf("%s is not differentiable", o.name)
	}
	return o.Diff(in, out, grad)
}

var _ gorgonia.SDOp = (*Op)(nil)
