package train

import (
	"fmt"
	"hash"
	"hash/fnv"
	"sync/atomic"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	gtensor "gorgonia.org/tensor"
)

// opSeq numbers every op so that gorgonia's common-subexpression elimination never
// merges two ops that only look alike (two steps' cells read alike-shaped inputs).
var opSeq atomic.Uint64

// fnOp is a gorgonia Op whose work is a function over float32 slices. The LSTM cell,
// the embedding lookup, dropout and the loss are fnOps with hand-written gradients, so
// that a step of the unrolled graph is a handful of nodes whose elementwise work is one
// tight loop, instead of a dozen generic tensor iterators; the matrix products stay
// gorgonia's own Mul (on core/kernels through gorgonia.Use), and gorgonia owns the
// graph, the chain rule (fan-in sums over the BPTT window) and the tape machine.
type fnOp struct {
	name  string
	id    uint64
	in    []int         // rank of each input; 0 is a scalar
	shape gtensor.Shape // output shape; nil is a scalar
	run   func(out []float32, in [][]float32)
	diff  func(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error)
	wrt   []bool
	// buf, when set, is returned as the output instead of a fresh tensor: for a large
	// output that only read-only consumers use and that every step fully rewrites.
	buf []float32
}

func newOp(name string, in []int, shape gtensor.Shape, run func(out []float32, in [][]float32)) *fnOp {
	return &fnOp{name: name, id: opSeq.Add(1), in: in, shape: shape, run: run}
}

func (o *fnOp) apply(inputs ...*gorgonia.Node) (*gorgonia.Node, error) {
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

func (o *fnOp) Arity() int { return len(o.in) }

func (o *fnOp) Type() hm.Type {
	ts := make([]hm.Type, 0, len(o.in)+1)
	for _, r := range o.in {
		ts = append(ts, typeOfRank(r))
	}
	ts = append(ts, typeOfRank(len(o.shape)))
	return hm.NewFnType(ts...)
}

func (o *fnOp) InferShape(...gorgonia.DimSizer) (gtensor.Shape, error) {
	if len(o.shape) == 0 {
		return gtensor.ScalarShape(), nil
	}
	return o.shape.Clone(), nil
}

// Do allocates a fresh output each run: gorgonia's tape machine may hand an op's
// output register to a later op to overwrite, so an output must not be a buffer the op
// itself keeps reading (the cell keeps its own copies of what backward needs).
func (o *fnOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
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
	if o.buf != nil {
		o.run(o.buf, in)
		return gtensor.New(gtensor.WithShape(o.shape.Clone()...), gtensor.WithBacking(o.buf)), nil
	}
	buf := gtensor.New(gtensor.WithShape(o.shape.Clone()...), gtensor.Of(gtensor.Float32))
	o.run(buf.Float32s(), in)
	return buf, nil
}

func (o *fnOp) ReturnsPtr() bool      { return false }
func (o *fnOp) CallsExtern() bool     { return false }
func (o *fnOp) OverwritesInput() int  { return -1 }
func (o *fnOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "%s#%d", o.name, o.id) }
func (o *fnOp) String() string        { return o.name }

func (o *fnOp) Hashcode() uint32 {
	h := fnv.New32a()
	o.WriteHash(h)
	return h.Sum32()
}

func (o *fnOp) DiffWRT(n int) []bool {
	if o.wrt == nil {
		return make([]bool, n)
	}
	return o.wrt
}

func (o *fnOp) SymDiff(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if o.diff == nil {
		return nil, fmt.Errorf("%s is not differentiable", o.name)
	}
	return o.diff(in, out, grad)
}

var _ gorgonia.SDOp = (*fnOp)(nil)
