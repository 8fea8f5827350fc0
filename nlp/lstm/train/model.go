package train

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gorgonia.org/gorgonia"
	gtensor "gorgonia.org/tensor"

	"github.com/plexusml/plexus/core/tensor"
)

// param is one trainable tensor. Its graph layout may be the transpose of PyTorch's
// (the LSTM and fc weights are In×Out in the graph so that x·W needs no transpose);
// stateDict converts.
type param struct {
	name      string // PyTorch name
	shape     []int  // graph shape
	transpose bool   // PyTorch's tensor is the graph tensor transposed (2-D)
	node      *gorgonia.Node
}

func (p *param) values() []float32 { return p.node.Value().Data().([]float32) }

// net is the unrolled training graph for a batch of sequences and a BPTT window.
type net struct {
	vocab, emb, hidden, layers, batch, steps int

	g      *gorgonia.ExprGraph
	vm     gorgonia.VM
	params []*param
	cost   *gorgonia.Node

	ids, targets []int // steps×batch, time-major, set before each run
	hc0          []*gorgonia.Node
	state        [][]float32 // per layer: the [h | c] carried into the next window
	dropP        float64
	lossSum      float64 // summed nats of the last run
	rng          *rand.Rand
}

// buildNet builds the graph. Parameters are initialised as PyTorch does (uniform
// ±1/√hidden for the LSTM and fc, N(0, 1) for the embedding), with the forget-gate
// bias at 1 so that early gradients flow through the cell state.
func buildNet(vocab, emb, hidden, layers, batch, steps int, dropP float64, initRNG, rng *rand.Rand) (*net, error) {
	nt := &net{vocab: vocab, emb: emb, hidden: hidden, layers: layers, batch: batch, steps: steps,
		g: gorgonia.NewGraph(), dropP: dropP, rng: rng,
		ids: make([]int, batch*steps), targets: make([]int, batch*steps)}
	H := hidden
	k := 1 / math.Sqrt(float64(H))
	uniform := func() float64 { return (initRNG.Float64()*2 - 1) * k }
	embP := nt.newParam("embedding.weight", false, []int{vocab, emb}, initRNG.NormFloat64)
	type lw struct{ wih, whh, b *param }
	lws := make([]lw, layers)
	for l := 0; l < layers; l++ {
		in := emb
		if l > 0 {
			in = H
		}
		lws[l].wih = nt.newParam(fmt.Sprintf("lstm.weight_ih_l%d", l), true, []int{in, 4 * H}, uniform)
		lws[l].whh = nt.newParam(fmt.Sprintf("lstm.weight_hh_l%d", l), true, []int{H, 4 * H}, uniform)
		bi := 0
		lws[l].b = nt.newParam(fmt.Sprintf("lstm.bias_ih_l%d", l), false, []int{4 * H}, func() float64 {
			bi++
			if bi > H && bi <= 2*H {
				return 1
			}
			return 0
		})
	}
	fcW := nt.newParam("fc.weight", true, []int{H, vocab}, uniform)
	fcB := nt.newParam("fc.bias", false, []int{vocab}, uniform)

	nt.hc0 = make([]*gorgonia.Node, layers)
	nt.state = make([][]float32, layers)
	rows := batch * steps
	x, err := embed(embP.node, &nt.ids, rows, vocab, emb)
	if err != nil {
		return nil, err
	}
	for l := 0; l < layers; l++ {
		nt.state[l] = make([]float32, batch*2*H)
		nt.hc0[l] = gorgonia.NewMatrix(nt.g, gorgonia.Float32, gorgonia.WithShape(batch, 2*H),
			gorgonia.WithName(fmt.Sprintf("hc0_%d", l)),
			gorgonia.WithValue(gtensor.New(gtensor.WithShape(batch, 2*H), gtensor.WithBacking(nt.state[l]))))
		if x, err = newLSTMLayer(x, lws[l].wih.node, lws[l].whh.node, lws[l].b.node, nt.hc0[l], batch, H, steps, nt.state[l]); err != nil {
			return nil, err
		}
		if x, err = dropout(x, rows, H, &nt.dropP, rng); err != nil {
			return nil, err
		}
	}
	logits, err := gorgonia.Mul(x, fcW.node)
	if err != nil {
		return nil, err
	}
	cost, err := crossEntropy(logits, fcB.node, &nt.targets, rows, vocab, &nt.lossSum)
	if err != nil {
		return nil, err
	}
	nt.cost = cost
	nodes := make(gorgonia.Nodes, len(nt.params))
	for i, p := range nt.params {
		nodes[i] = p.node
	}
	if _, err := gorgonia.Grad(cost, nodes...); err != nil {
		return nil, fmt.Errorf("gradient: %w", err)
	}
	nt.vm = gorgonia.NewTapeMachine(nt.g, gorgonia.BindDualValues(nodes...))
	return nt, nil
}

func (nt *net) newParam(name string, transpose bool, shape []int, init func() float64) *param {
	n := 1
	for _, d := range shape {
		n *= d
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(init())
	}
	v := gtensor.New(gtensor.WithShape(shape...), gtensor.WithBacking(data))
	var node *gorgonia.Node
	if len(shape) == 1 {
		node = gorgonia.NewVector(nt.g, gorgonia.Float32, gorgonia.WithShape(shape...), gorgonia.WithName(name), gorgonia.WithValue(v))
	} else {
		node = gorgonia.NewMatrix(nt.g, gorgonia.Float32, gorgonia.WithShape(shape...), gorgonia.WithName(name), gorgonia.WithValue(v))
	}
	p := &param{name: name, shape: shape, transpose: transpose, node: node}
	nt.params = append(nt.params, p)
	return p
}

// step runs forward and backward over the window in nt.ids/nt.targets, from and into
// nt.state, and returns the summed loss in nats.
func (nt *net) step() (float64, error) {
	nt.lossSum = 0
	err := nt.vm.RunAll()
	nt.vm.Reset()
	return nt.lossSum, err
}

func (nt *net) valueGrads() []gorgonia.ValueGrad {
	vg := make([]gorgonia.ValueGrad, len(nt.params))
	for i, p := range nt.params {
		vg[i] = p.node
	}
	return vg
}

func (nt *net) numParams() int {
	n := 0
	for _, p := range nt.params {
		n += len(p.values())
	}
	return n
}

// stateDict returns the parameters under PyTorch's names and layout (copies). The
// graph's single LSTM bias is bias_ih; bias_hh is zeros, which sums to the same.
func (nt *net) stateDict() map[string]*tensor.Tensor {
	sd := map[string]*tensor.Tensor{}
	for _, p := range nt.params {
		v := p.values()
		if p.transpose {
			r, c := p.shape[0], p.shape[1]
			t := make([]float32, len(v))
			for i := 0; i < r; i++ {
				for j := 0; j < c; j++ {
					t[j*r+i] = v[i*c+j]
				}
			}
			sd[p.name] = tensor.FromFloat32(t, c, r)
		} else {
			sd[p.name] = tensor.FromFloat32(append([]float32(nil), v...), p.shape...)
		}
	}
	for l := 0; l < nt.layers; l++ {
		sd[fmt.Sprintf("lstm.bias_hh_l%d", l)] = tensor.FromFloat32(make([]float32, 4*nt.hidden), 4*nt.hidden)
	}
	return sd
}

// loadStateDict sets the parameters from PyTorch-layout tensors (a checkpoint), adding
// bias_hh into the graph's single bias.
func (nt *net) loadStateDict(get func(name string, shape ...int) []float32) {
	for _, p := range nt.params {
		shape := p.shape
		if p.transpose {
			shape = []int{p.shape[1], p.shape[0]}
		}
		v := get(p.name, shape...)
		if v == nil {
			continue
		}
		dst := p.values()
		if p.transpose {
			r, c := p.shape[0], p.shape[1]
			for i := 0; i < r; i++ {
				for j := 0; j < c; j++ {
					dst[i*c+j] = v[j*r+i]
				}
			}
		} else {
			copy(dst, v)
		}
	}
	for l := 0; l < nt.layers; l++ {
		if v := get(fmt.Sprintf("lstm.bias_hh_l%d", l), 4*nt.hidden); v != nil {
			b := nt.param(fmt.Sprintf("lstm.bias_ih_l%d", l)).values()
			for j := range b {
				b[j] += v[j]
			}
		}
	}
}

func (nt *net) param(name string) *param {
	for _, p := range nt.params {
		if p.name == name {
			return p
		}
	}
	panic("train: no parameter " + name)
}
