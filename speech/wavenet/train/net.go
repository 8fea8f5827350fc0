package train

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"gorgonia.org/gorgonia"
	gtensor "gorgonia.org/tensor"

	"github.com/plexusml/plexus/core/nn/weights"
	"github.com/plexusml/plexus/core/tensor"
	"github.com/plexusml/plexus/internal/gorgop"
	"github.com/plexusml/plexus/speech/wavenet"
)

// param is one learnable matrix or vector in the training layout (every 1×1 or tap
// weight as in × out, the gate's two halves apart); export maps it back to the
// reference names.
type param struct {
	name string
	node *gorgonia.Node
	data []float32
}

// net is the training graph over one batch shape: B crops of T samples.
type net struct {
	cfg    wavenet.Config
	B, T   int
	g      *gorgonia.ExprGraph
	params []*param
	byName map[string]*param
	vm     gorgonia.VM
	loss   *gorgonia.Node

	// Batch data, filled in place before each step (ops read these slices).
	ids, targets []int32
	cond         []float32 // N × cin, time-major
}

func (nt *net) newParam(name string, shape []int, init func() float64) *param {
	n := 1
	for _, d := range shape {
		n *= d
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(init())
	}
	t := gtensor.New(gtensor.WithShape(shape...), gtensor.WithBacking(data))
	var node *gorgonia.Node
	if len(shape) == 1 {
		node = gorgonia.NewVector(nt.g, gorgonia.Float32, gorgonia.WithShape(shape...), gorgonia.WithName(name), gorgonia.WithValue(t))
	} else {
		node = gorgonia.NewMatrix(nt.g, gorgonia.Float32, gorgonia.WithShape(shape...), gorgonia.WithName(name), gorgonia.WithValue(t))
	}
	p := &param{name: name, node: node, data: data}
	nt.params = append(nt.params, p)
	nt.byName[name] = p
	return p
}

// fixedParam is a parameter outside the graph: exported and loaded, never updated.
func (nt *net) fixedParam(name string, n int, init func() float64) {
	p := &param{name: name, data: make([]float32, n)}
	for i := range p.data {
		p.data[i] = float32(init())
	}
	nt.byName[name] = p
}

// buildNet makes the graph and initialises the parameters from rng (normal with std
// 1/sqrt(fan_in), zero biases).
func buildNet(cfg wavenet.Config, B, T int, rng *rand.Rand) (*net, error) {
	if cfg.KernelSize != 2 || cfg.ScalarInput || cfg.Output != wavenet.OutputMuLaw || cfg.CinChannels <= 0 || cfg.GinChannels > 0 {
		return nil, fmt.Errorf("training supports the mu-law vocoder with kernel_size 2 and log-mel conditioning, without speakers")
	}
	N := B * T
	nt := &net{cfg: cfg, B: B, T: T, g: gorgonia.NewGraph(), byName: map[string]*param{},
		ids: make([]int32, N), targets: make([]int32, N), cond: make([]float32, N*cfg.CinChannels)}
	R, H, S, K, cin := cfg.ResidualChannels, cfg.GateChannels/2, cfg.SkipChannels, cfg.OutChannels, cfg.CinChannels
	normal := func(fan int) func() float64 {
		std := 1 / math.Sqrt(float64(fan))
		return func() float64 { return rng.NormFloat64() * std }
	}
	zero := func() float64 { return 0 }
	first := nt.newParam("first.w", []int{K, R}, normal(1))
	firstB := nt.newParam("first.b", []int{R}, zero)
	h0, err := embed(first.node, nt.ids)
	if err != nil {
		return nil, err
	}
	h, err := gorgop.Sum(1, firstB.node, h0)
	if err != nil {
		return nil, err
	}
	per := cfg.Layers / cfg.Stacks
	var skips []*gorgonia.Node
	must := func(n *gorgonia.Node, e error) *gorgonia.Node {
		if err == nil && e != nil {
			err = e
		}
		return n
	}
	for l := 0; l < cfg.Layers; l++ {
		d := 1 << (l % per)
		p := fmt.Sprintf("l%d.", l)
		delayed := must(shift(h, d, T))
		half := func(x string) *gorgonia.Node {
			w0 := nt.newParam(p+x+"0", []int{R, H}, normal(2*R))
			w1 := nt.newParam(p+x+"1", []int{R, H}, normal(2*R))
			c := nt.newParam(p+"c"+x, []int{cin, H}, normal(cin))
			b := nt.newParam(p+"b"+x, []int{H}, zero)
			return must(gorgop.Sum(1, b.node, must(gorgop.MatMul(delayed, w0.node)), must(gorgop.MatMul(h, w1.node)), must(gorgop.Project(nt.cond, N, c.node))))
		}
		a, b := half("a"), half("b")
		z := must(gate(a, b))
		ws := nt.newParam(p+"ws", []int{H, S}, normal(H))
		bs := nt.newParam(p+"bs", []int{S}, zero)
		skips = append(skips, must(gorgop.Sum(1, bs.node, must(gorgop.MatMul(z, ws.node)))))
		if l == cfg.Layers-1 {
			// The last layer's residual output feeds nothing (only its skip does), as
			// in the reference; its weights are kept, untrained, for the file.
			nt.fixedParam(p+"wo", H*R, normal(H))
			nt.fixedParam(p+"bo", R, zero)
			break
		}
		wo := nt.newParam(p+"wo", []int{H, R}, normal(H))
		bo := nt.newParam(p+"bo", []int{R}, zero)
		h = must(gorgop.Sum(float32(math.Sqrt(0.5)), bo.node, must(gorgop.MatMul(z, wo.node)), h))
	}
	if err != nil {
		return nil, err
	}
	s := must(relu(must(gorgop.Sum(float32(math.Sqrt(1/float64(cfg.Layers))), nil, skips...))))
	l1 := nt.newParam("last1.w", []int{S, S}, normal(S))
	l1b := nt.newParam("last1.b", []int{S}, zero)
	l2 := nt.newParam("last2.w", []int{S, K}, normal(S))
	l2b := nt.newParam("last2.b", []int{K}, zero)
	y := must(relu(must(gorgop.Sum(1, l1b.node, must(gorgop.MatMul(s, l1.node))))))
	logits := must(gorgop.Sum(1, l2b.node, must(gorgop.MatMul(y, l2.node))))
	nt.loss = must(crossEntropy(logits, nt.targets))
	if err != nil {
		return nil, err
	}
	nodes := make(gorgonia.Nodes, len(nt.params))
	for i, p := range nt.params {
		nodes[i] = p.node
	}
	if _, err := gorgonia.Grad(nt.loss, nodes...); err != nil {
		return nil, fmt.Errorf("gradients: %w", err)
	}
	nt.vm = gorgonia.NewTapeMachine(nt.g, gorgonia.BindDualValues(nodes...))
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

// stateDict maps the training layout onto the reference implementation's names
// (tools/golden/wavenet.py), with the fixed upsampling kernels.
func (nt *net) stateDict() map[string]*tensor.Tensor {
	c := nt.cfg
	R, G, H, S, K, cin := c.ResidualChannels, c.GateChannels, c.GateChannels/2, c.SkipChannels, c.OutChannels, c.CinChannels
	out := map[string]*tensor.Tensor{}
	// tr turns an in × out training matrix into PyTorch's out × in (× 1).
	tr := func(w []float32, in, o int) []float32 {
		t := make([]float32, in*o)
		for i := 0; i < in; i++ {
			for j := 0; j < o; j++ {
				t[j*in+i] = w[i*o+j]
			}
		}
		return t
	}
	get := func(n string) []float32 { return nt.byName[n].data }
	clone := func(x []float32) []float32 { return append([]float32(nil), x...) }
	out["first_conv.weight"] = tensor.FromFloat32(tr(get("first.w"), K, R), R, K, 1)
	out["first_conv.bias"] = tensor.FromFloat32(clone(get("first.b")), R)
	for l := 0; l < c.Layers; l++ {
		p := fmt.Sprintf("l%d.", l)
		q := fmt.Sprintf("conv_layers.%d.", l)
		w := make([]float32, G*R*2)
		for half, x := range []string{"a", "b"} {
			for tap := 0; tap < 2; tap++ {
				m := get(p + x + fmt.Sprint(tap)) // R × H
				for r := 0; r < R; r++ {
					for o := 0; o < H; o++ {
						w[((half*H+o)*R+r)*2+tap] = m[r*H+o]
					}
				}
			}
		}
		out[q+"conv.weight"] = tensor.FromFloat32(w, G, R, 2)
		out[q+"conv.bias"] = tensor.FromFloat32(append(clone(get(p+"ba")), get(p+"bb")...), G)
		out[q+"conv1x1c.weight"] = tensor.FromFloat32(append(tr(get(p+"ca"), cin, H), tr(get(p+"cb"), cin, H)...), G, cin, 1)
		out[q+"conv1x1_out.weight"] = tensor.FromFloat32(tr(get(p+"wo"), H, R), R, H, 1)
		out[q+"conv1x1_out.bias"] = tensor.FromFloat32(clone(get(p+"bo")), R)
		out[q+"conv1x1_skip.weight"] = tensor.FromFloat32(tr(get(p+"ws"), H, S), S, H, 1)
		out[q+"conv1x1_skip.bias"] = tensor.FromFloat32(clone(get(p+"bs")), S)
	}
	out["last_conv_layers.1.weight"] = tensor.FromFloat32(tr(get("last1.w"), S, S), S, S, 1)
	out["last_conv_layers.1.bias"] = tensor.FromFloat32(clone(get("last1.b")), S)
	out["last_conv_layers.3.weight"] = tensor.FromFloat32(tr(get("last2.w"), S, K), K, S, 1)
	out["last_conv_layers.3.bias"] = tensor.FromFloat32(clone(get("last2.b")), K)
	for j, s := range c.UpsampleScales {
		k := make([]float32, 2*s+1)
		for i := range k {
			k[i] = 1 / float32(len(k))
		}
		out[fmt.Sprintf("upsample_net.up_layers.%d.weight", 2*j+1)] = tensor.FromFloat32(k, 1, 1, 1, 2*s+1)
	}
	return out
}

// loadStateDict sets the parameters from a checkpoint in the reference layout (the
// inverse of stateDict).
func (nt *net) loadStateDict(st weights.Store) error {
	c := nt.cfg
	R, H, S, K, cin := c.ResidualChannels, c.GateChannels/2, c.SkipChannels, c.OutChannels, c.CinChannels
	get := func(name string, n int) ([]float32, error) {
		t, ok := st.Get(name)
		if !ok || t.NumElems() != n {
			return nil, fmt.Errorf("checkpoint has no %s of %d values", name, n)
		}
		return t.ToFloat32().Contiguous().Float32s(), nil
	}
	// untr turns PyTorch's out × in back into the training in × out.
	untr := func(dst []float32, w []float32, in, o int) {
		for i := 0; i < in; i++ {
			for j := 0; j < o; j++ {
				dst[i*o+j] = w[j*in+i]
			}
		}
	}
	set := func(p string, ref string, in, o int) error {
		w, err := get(ref, in*o)
		if err != nil {
			return err
		}
		untr(nt.byName[p].data, w, in, o)
		return nil
	}
	var errs []error
	errs = append(errs, set("first.w", "first_conv.weight", K, R), set("last1.w", "last_conv_layers.1.weight", S, S),
		set("last2.w", "last_conv_layers.3.weight", S, K))
	copyVec := func(p, ref string, off, n, total int) error {
		w, err := get(ref, total)
		if err != nil {
			return err
		}
		copy(nt.byName[p].data, w[off:off+n])
		return nil
	}
	errs = append(errs, copyVec("first.b", "first_conv.bias", 0, R, R), copyVec("last1.b", "last_conv_layers.1.bias", 0, S, S),
		copyVec("last2.b", "last_conv_layers.3.bias", 0, K, K))
	for l := 0; l < c.Layers; l++ {
		p := fmt.Sprintf("l%d.", l)
		q := fmt.Sprintf("conv_layers.%d.", l)
		w, err := get(q+"conv.weight", 2*H*R*2)
		if err != nil {
			return err
		}
		for half, x := range []string{"a", "b"} {
			for tap := 0; tap < 2; tap++ {
				m := nt.byName[p+x+fmt.Sprint(tap)].data
				for r := 0; r < R; r++ {
					for o := 0; o < H; o++ {
						m[r*H+o] = w[((half*H+o)*R+r)*2+tap]
					}
				}
			}
		}
		cw, err := get(q+"conv1x1c.weight", 2*H*cin)
		if err != nil {
			return err
		}
		untr(nt.byName[p+"ca"].data, cw[:H*cin], cin, H)
		untr(nt.byName[p+"cb"].data, cw[H*cin:], cin, H)
		errs = append(errs, copyVec(p+"ba", q+"conv.bias", 0, H, 2*H), copyVec(p+"bb", q+"conv.bias", H, H, 2*H),
			set(p+"wo", q+"conv1x1_out.weight", H, R), copyVec(p+"bo", q+"conv1x1_out.bias", 0, R, R),
			set(p+"ws", q+"conv1x1_skip.weight", H, S), copyVec(p+"bs", q+"conv1x1_skip.bias", 0, S, S))
	}
	return errors.Join(errs...)
}
