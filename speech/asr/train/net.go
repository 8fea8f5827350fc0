package train

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gorgonia.org/gorgonia"
	gtensor "gorgonia.org/tensor"

	"github.com/plexusml/plexus/core/nn/weights"
	"github.com/plexusml/plexus/core/tensor"
	"github.com/plexusml/plexus/internal/gorgop"
	"github.com/plexusml/plexus/speech/asr"
)

// Parameter layouts: the training graph keeps every weight as an in × out matrix
// (a convolution's as 3·in × out, tap-major, matching im2col's columns); the
// checkpoint holds PyTorch's layouts under the reference names.
const (
	layoutVec    = iota // as is
	layoutLinear        // torch out × in  ↔  in × out
	layoutConv          // torch out × in × 3  ↔  3·in × out
)

// param is one learnable tensor in the training layout.
type param struct {
	name   string // reference name (tools/golden/asr.py)
	layout int
	shape  []int // training shape
	data   []float32
}

// params is the model's parameter set, shared by the graphs of every batch shape.
type params struct {
	cfg  asr.Config
	list []*param
	by   map[string]*param
}

func (ps *params) add(name string, layout int, shape []int, init func() float64) {
	n := 1
	for _, d := range shape {
		n *= d
	}
	p := &param{name: name, layout: layout, shape: shape, data: make([]float32, n)}
	for i := range p.data {
		p.data[i] = float32(init())
	}
	ps.list = append(ps.list, p)
	ps.by[name] = p
}

// newParams initialises the model: normal weights with std sqrt(gain/fan_in) (gain 2
// before a ReLU), zero biases, unit layer-norm scales.
func newParams(cfg asr.Config, rng *rand.Rand) *params {
	ps := &params{cfg: cfg, by: map[string]*param{}}
	D, F, M, C := cfg.DModel, cfg.FFDim, cfg.NMels, len(cfg.Labels)
	normal := func(fan int, gain float64) func() float64 {
		std := math.Sqrt(gain / float64(fan))
		return func() float64 { return rng.NormFloat64() * std }
	}
	zero := func() float64 { return 0 }
	one := func() float64 { return 1 }
	ps.add("subsample.conv1.weight", layoutConv, []int{3 * M, D}, normal(3*M, 2))
	ps.add("subsample.conv1.bias", layoutVec, []int{D}, zero)
	ps.add("subsample.conv2.weight", layoutConv, []int{3 * D, D}, normal(3*D, 2))
	ps.add("subsample.conv2.bias", layoutVec, []int{D}, zero)
	for l := 0; l < cfg.Layers; l++ {
		p := fmt.Sprintf("encoder.layers.%d.", l)
		ps.add(p+"norm1.weight", layoutVec, []int{D}, one)
		ps.add(p+"norm1.bias", layoutVec, []int{D}, zero)
		ps.add(p+"self_attn.in_proj_weight", layoutLinear, []int{D, 3 * D}, normal(D, 1))
		ps.add(p+"self_attn.in_proj_bias", layoutVec, []int{3 * D}, zero)
		ps.add(p+"self_attn.out_proj.weight", layoutLinear, []int{D, D}, normal(D, 1))
		ps.add(p+"self_attn.out_proj.bias", layoutVec, []int{D}, zero)
		ps.add(p+"norm2.weight", layoutVec, []int{D}, one)
		ps.add(p+"norm2.bias", layoutVec, []int{D}, zero)
		ps.add(p+"linear1.weight", layoutLinear, []int{D, F}, normal(D, 2))
		ps.add(p+"linear1.bias", layoutVec, []int{F}, zero)
		ps.add(p+"linear2.weight", layoutLinear, []int{F, D}, normal(F, 1))
		ps.add(p+"linear2.bias", layoutVec, []int{D}, zero)
	}
	ps.add("encoder.norm.weight", layoutVec, []int{D}, one)
	ps.add("encoder.norm.bias", layoutVec, []int{D}, zero)
	ps.add("ctc.weight", layoutLinear, []int{D, C}, normal(D, 1))
	ps.add("ctc.bias", layoutVec, []int{C}, zero)
	return ps
}

// refShape is a parameter's shape in the checkpoint.
func (p *param) refShape() []int {
	switch p.layout {
	case layoutLinear:
		return []int{p.shape[1], p.shape[0]}
	case layoutConv:
		return []int{p.shape[1], p.shape[0] / 3, 3}
	}
	return append([]int(nil), p.shape...)
}

// toRef converts training data into the checkpoint layout.
func (p *param) toRef() []float32 {
	out := make([]float32, len(p.data))
	switch p.layout {
	case layoutLinear:
		in, o := p.shape[0], p.shape[1]
		for i := 0; i < in; i++ {
			for j := 0; j < o; j++ {
				out[j*in+i] = p.data[i*o+j]
			}
		}
	case layoutConv:
		c, o := p.shape[0]/3, p.shape[1]
		for k := 0; k < 3; k++ {
			for i := 0; i < c; i++ {
				for j := 0; j < o; j++ {
					out[(j*c+i)*3+k] = p.data[(k*c+i)*o+j]
				}
			}
		}
	default:
		copy(out, p.data)
	}
	return out
}

// fromRef sets the training data from the checkpoint layout.
func (p *param) fromRef(ref []float32) {
	switch p.layout {
	case layoutLinear:
		in, o := p.shape[0], p.shape[1]
		for i := 0; i < in; i++ {
			for j := 0; j < o; j++ {
				p.data[i*o+j] = ref[j*in+i]
			}
		}
	case layoutConv:
		c, o := p.shape[0]/3, p.shape[1]
		for k := 0; k < 3; k++ {
			for i := 0; i < c; i++ {
				for j := 0; j < o; j++ {
					p.data[(k*c+i)*o+j] = ref[(j*c+i)*3+k]
				}
			}
		}
	default:
		copy(p.data, ref)
	}
}

// stateDict is the checkpoint: every parameter under its reference name and layout.
func (ps *params) stateDict() map[string]*tensor.Tensor {
	out := make(map[string]*tensor.Tensor, len(ps.list))
	for _, p := range ps.list {
		out[p.name] = tensor.FromFloat32(p.toRef(), p.refShape()...)
	}
	return out
}

// loadStateDict sets every parameter from a checkpoint in the reference layout.
func (ps *params) loadStateDict(st weights.Store) error {
	for _, p := range ps.list {
		t, ok := st.Get(p.name)
		if !ok || t.NumElems() != len(p.data) {
			return fmt.Errorf("checkpoint has no %s of shape %v", p.name, p.refShape())
		}
		p.fromRef(t.ToFloat32().Contiguous().Float32s())
	}
	return nil
}

// model builds the inference model from the current parameters.
func (ps *params) model() (*asr.Model, error) {
	return asr.New(weights.NewBinder(weights.NewMapStore("training", ps.stateDict()), weights.CopyData()), ps.cfg)
}

// net is the training graph for one batch shape: B utterances of at most F log-mel
// frames (T1 after the first convolution, T after the second).
type net struct {
	ps        *params
	B, F      int
	T1, T     int
	g         *gorgonia.ExprGraph
	nodes     []*gorgonia.Node // one per ps.list entry
	vm        gorgonia.VM
	loss      *gorgonia.Node
	logits    *gorgonia.Node
	logitsOut []float32

	// Batch data, filled in place before each step.
	cols1 []float32 // B·T1 × 3·NMels: the first convolution's columns
	keep1 []bool    // B·T1: frames inside their utterance after the first convolution
	lens  []int     // B: frames after the second convolution
	pe    []float32 // B·T × D positional encodings (constant)
	// rng draws the dropout masks; nil turns dropout off (set before each step).
	rng   *rand.Rand
	ctc   ctcBatch
	stats ctcStats
}

// buildNet makes the graph of one batch shape over the shared parameters, with
// dropout p after the attention, inside and after the feed-forward block.
func buildNet(ps *params, B, F int, p float64) (*net, error) {
	cfg := ps.cfg
	D, M := cfg.DModel, cfg.NMels
	T1 := asr.ConvLen(F, 2)
	T := asr.ConvLen(T1, cfg.Stride2())
	nt := &net{ps: ps, B: B, F: F, T1: T1, T: T, g: gorgonia.NewGraph(),
		cols1: make([]float32, B*T1*3*M), keep1: make([]bool, B*T1), lens: make([]int, B),
		pe: make([]float32, B*T*D), ctc: ctcBatch{lens: nil, targets: make([][]int, B)}}
	nt.ctc.lens = nt.lens
	pe := asr.PositionalEncoding(T, D)
	for b := 0; b < B; b++ {
		copy(nt.pe[b*T*D:], pe)
	}
	node := map[string]*gorgonia.Node{}
	for _, p := range ps.list {
		t := gtensor.New(gtensor.WithShape(p.shape...), gtensor.WithBacking(p.data))
		var n *gorgonia.Node
		if len(p.shape) == 1 {
			n = gorgonia.NewVector(nt.g, gorgonia.Float32, gorgonia.WithShape(p.shape...), gorgonia.WithName(p.name), gorgonia.WithValue(t))
		} else {
			n = gorgonia.NewMatrix(nt.g, gorgonia.Float32, gorgonia.WithShape(p.shape...), gorgonia.WithName(p.name), gorgonia.WithValue(t))
		}
		nt.nodes = append(nt.nodes, n)
		node[p.name] = n
	}
	var err error
	must := func(n *gorgonia.Node, e error) *gorgonia.Node {
		if err == nil && e != nil {
			err = e
		}
		return n
	}
	h := must(gorgop.Project(nt.cols1, B*T1, node["subsample.conv1.weight"]))
	h = must(reluMask(must(gorgop.Sum(1, node["subsample.conv1.bias"], h)), nt.keep1))
	h = must(gorgop.MatMul(must(im2col(h, B, T1, T, cfg.Stride2())), node["subsample.conv2.weight"]))
	h = must(reluMask(must(gorgop.Sum(1, node["subsample.conv2.bias"], h)), nil))
	x := must(addData(h, nt.pe))
	eps := float32(cfg.LayerNormEps)
	for l := 0; l < cfg.Layers; l++ {
		q := fmt.Sprintf("encoder.layers.%d.", l)
		a := must(layerNorm(x, node[q+"norm1.weight"], node[q+"norm1.bias"], eps))
		qkv := must(gorgop.Sum(1, node[q+"self_attn.in_proj_bias"], must(gorgop.MatMul(a, node[q+"self_attn.in_proj_weight"]))))
		c := must(attention(qkv, B, T, cfg.Heads, nt.lens))
		o := must(dropout(must(gorgop.Sum(1, node[q+"self_attn.out_proj.bias"], must(gorgop.MatMul(c, node[q+"self_attn.out_proj.weight"])))), p, &nt.rng))
		x = must(gorgop.Sum(1, nil, o, x))
		a = must(layerNorm(x, node[q+"norm2.weight"], node[q+"norm2.bias"], eps))
		f := must(dropout(must(reluMask(must(gorgop.Sum(1, node[q+"linear1.bias"], must(gorgop.MatMul(a, node[q+"linear1.weight"])))), nil)), p, &nt.rng))
		o = must(dropout(must(gorgop.Sum(1, node[q+"linear2.bias"], must(gorgop.MatMul(f, node[q+"linear2.weight"])))), p, &nt.rng))
		x = must(gorgop.Sum(1, nil, o, x))
	}
	x = must(layerNorm(x, node["encoder.norm.weight"], node["encoder.norm.bias"], eps))
	nt.logits = must(gorgop.Sum(1, node["ctc.bias"], must(gorgop.MatMul(x, node["ctc.weight"]))))
	if err != nil {
		return nil, err
	}
	nt.logitsOut = make([]float32, B*T*len(cfg.Labels))
	nt.ctc.logits = nt.logitsOut
	nt.loss, err = ctcLoss(nt.logits, B, T, &nt.ctc, &nt.stats)
	if err != nil {
		return nil, err
	}
	if _, err := gorgonia.Grad(nt.loss, nt.nodes...); err != nil {
		return nil, fmt.Errorf("gradients: %w", err)
	}
	nt.vm = gorgonia.NewTapeMachine(nt.g, gorgonia.BindDualValues(nt.nodes...))
	return nt, nil
}

// step runs forward and backward on the batch in place and returns the loss.
func (nt *net) step() (float64, error) {
	defer nt.vm.Reset()
	if err := nt.vm.RunAll(); err != nil {
		return 0, err
	}
	v, ok := nt.loss.Value().Data().(float32)
	if !ok {
		return 0, fmt.Errorf("loss is %T", nt.loss.Value().Data())
	}
	return float64(v), nil
}

// grads returns the gradients gorgonia accumulated, one per parameter.
func (nt *net) grads() ([][]float32, error) {
	out := make([][]float32, len(nt.nodes))
	for i, n := range nt.nodes {
		dv, err := n.Grad()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n.Name(), err)
		}
		g, ok := dv.Data().([]float32)
		if !ok || len(g) != len(nt.ps.list[i].data) {
			return nil, fmt.Errorf("%s: gradient %T", n.Name(), dv.Data())
		}
		out[i] = g
	}
	return out, nil
}
