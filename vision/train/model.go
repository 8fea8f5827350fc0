package train

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gorgonia.org/gorgonia"
	gtensor "gorgonia.org/tensor"

	"github.com/plexusml/plexus/vision/resnet"
)

// param is one learnable tensor under its torchvision state-dict name.
type param struct {
	name  string
	node  *gorgonia.Node
	data  []float32
	shape []int
	decay bool // weight decay applies (convolution and linear weights, not norms or biases)
}

// bnLayer ties a BatchNorm's running statistics to its state-dict prefix.
type bnLayer struct {
	prefix string
	bn     *batchNorm
}

// net is the training graph of a small-image ResNet for one batch size.
type net struct {
	cfg    resnet.Config
	g      *gorgonia.ExprGraph
	x      *gorgonia.Node
	input  *gtensor.Dense
	params []*param
	bns    []*bnLayer
	ce     *crossEntropy
	cost   *gorgonia.Node
	vm     gorgonia.VM
}

// buildNet builds the graph, its gradients and the tape machine. Weights start as
// torchvision initialises them (Kaiming-normal convolutions, unit BatchNorm, uniform
// Linear), from rng.
func buildNet(cfg resnet.Config, batch int, rng *rand.Rand) (*net, error) {
	if cfg.Block != "basic" {
		return nil, fmt.Errorf("training supports basic blocks, config has %q", cfg.Block)
	}
	nt := &net{cfg: cfg, g: gorgonia.NewGraph(), ce: &crossEntropy{}}
	size := cfg.InputSize
	nt.input = gtensor.New(gtensor.WithShape(batch, cfg.InChannels, size, size), gtensor.Of(gtensor.Float32))
	nt.x = gorgonia.NewTensor(nt.g, gorgonia.Float32, 4, gorgonia.WithShape(batch, cfg.InChannels, size, size),
		gorgonia.WithName("x"), gorgonia.WithValue(nt.input))
	h, err := nt.stem(rng)
	if err != nil {
		return nil, err
	}
	inC := cfg.StemWidth()
	for s, blocks := range cfg.Layers {
		width := cfg.Widths[s]
		for b := 0; b < blocks; b++ {
			stride := 1
			if b == 0 && s > 0 {
				stride = 2
			}
			prefix := fmt.Sprintf("layer%d.%d.", s+1, b)
			if h, err = nt.basicBlock(prefix, h, inC, width, stride, rng); err != nil {
				return nil, err
			}
			inC = width
		}
	}
	if h, err = globalAvgPool(h); err != nil {
		return nil, err
	}
	bound := 1 / math.Sqrt(float64(inC))
	fw := nt.newParam("fc.weight", true, []int{cfg.NumClasses, inC}, func() float64 { return (rng.Float64()*2 - 1) * bound })
	fb := nt.newParam("fc.bias", false, []int{cfg.NumClasses}, func() float64 { return (rng.Float64()*2 - 1) * bound })
	logits, err := linear(h, fw.node, fb.node)
	if err != nil {
		return nil, err
	}
	if nt.cost, err = softmaxCrossEntropy(logits, nt.ce); err != nil {
		return nil, err
	}
	nodes := make(gorgonia.Nodes, len(nt.params))
	for i, p := range nt.params {
		nodes[i] = p.node
	}
	if _, err := gorgonia.Grad(nt.cost, nodes...); err != nil {
		return nil, fmt.Errorf("gradients: %w", err)
	}
	nt.vm = gorgonia.NewTapeMachine(nt.g, gorgonia.BindDualValues(nodes...))
	return nt, nil
}

func (nt *net) newParam(name string, decay bool, shape []int, init func() float64) *param {
	data := make([]float32, prod(shape))
	for i := range data {
		data[i] = float32(init())
	}
	d := gtensor.New(gtensor.WithShape(shape...), gtensor.WithBacking(data))
	node := gorgonia.NewTensor(nt.g, gorgonia.Float32, len(shape), gorgonia.WithShape(shape...),
		gorgonia.WithName(name), gorgonia.WithValue(d))
	p := &param{name: name, node: node, data: data, shape: shape, decay: decay}
	nt.params = append(nt.params, p)
	return p
}

// conv adds name (a Kaiming-normal, fan-out, ReLU-gain weight, as torchvision's ResNet
// initialises it) and the convolution.
func (nt *net) conv(name string, x *gorgonia.Node, in, out, k, stride int, rng *rand.Rand) (*gorgonia.Node, error) {
	std := math.Sqrt(2 / float64(out*k*k))
	w := nt.newParam(name, true, []int{out, in, k, k}, func() float64 { return rng.NormFloat64() * std })
	return conv2d(x, w.node, stride, k/2)
}

// norm adds a BatchNorm2d under prefix; zeroGamma starts its scale at 0 (torchvision's
// zero_init_residual), so each residual branch starts as the identity.
func (nt *net) norm(prefix string, x *gorgonia.Node, c int, zeroGamma bool) (*gorgonia.Node, error) {
	g0 := 1.0
	if zeroGamma {
		g0 = 0
	}
	gamma := nt.newParam(prefix+".weight", false, []int{c}, func() float64 { return g0 })
	beta := nt.newParam(prefix+".bias", false, []int{c}, func() float64 { return 0 })
	bn := newBatchNorm(c)
	nt.bns = append(nt.bns, &bnLayer{prefix: prefix, bn: bn})
	return batchNorm2d(x, gamma.node, beta.node, bn)
}

func (nt *net) stem(rng *rand.Rand) (*gorgonia.Node, error) {
	c := nt.cfg.StemWidth()
	h, err := nt.conv("conv1.weight", nt.x, nt.cfg.InChannels, c, nt.cfg.StemKernel(), 1, rng)
	if err != nil {
		return nil, err
	}
	if h, err = nt.norm("bn1", h, c, false); err != nil {
		return nil, err
	}
	return relu(h)
}

func (nt *net) basicBlock(prefix string, x *gorgonia.Node, in, out, stride int, rng *rand.Rand) (*gorgonia.Node, error) {
	h, err := nt.conv(prefix+"conv1.weight", x, in, out, 3, stride, rng)
	if err != nil {
		return nil, err
	}
	if h, err = nt.norm(prefix+"bn1", h, out, false); err != nil {
		return nil, err
	}
	if h, err = relu(h); err != nil {
		return nil, err
	}
	if h, err = nt.conv(prefix+"conv2.weight", h, out, out, 3, 1, rng); err != nil {
		return nil, err
	}
	if h, err = nt.norm(prefix+"bn2", h, out, nt.cfg.ZeroInitResidual); err != nil {
		return nil, err
	}
	short := x
	if stride != 1 || in != out {
		if short, err = nt.conv(prefix+"downsample.0.weight", x, in, out, 1, stride, rng); err != nil {
			return nil, err
		}
		if short, err = nt.norm(prefix+"downsample.1", short, out, false); err != nil {
			return nil, err
		}
	}
	if h, err = add(h, short); err != nil {
		return nil, err
	}
	return relu(h)
}

// step runs one forward and backward pass over the batch already in nt.input and
// returns the mean loss and the number of correct predictions.
func (nt *net) step(labels []int) (float32, int, error) {
	copy(nt.ce.labels, labels)
	defer nt.vm.Reset()
	if err := nt.vm.RunAll(); err != nil {
		return 0, 0, err
	}
	v, ok := nt.cost.Value().(*gorgonia.F32)
	if !ok {
		return 0, 0, fmt.Errorf("loss value is %T", nt.cost.Value())
	}
	return float32(*v), nt.ce.correct, nil
}

func prod(s []int) int {
	n := 1
	for _, v := range s {
		n *= v
	}
	return n
}

// values returns the parameter's current data: the memory gorgonia's dual value holds,
// which the solver updates in place.
func (p *param) values() []float32 {
	if d, ok := p.node.Value().(*gtensor.Dense); ok {
		if f, ok := d.Data().([]float32); ok {
			return f
		}
	}
	return p.data
}

func (nt *net) valueGrads() []gorgonia.ValueGrad {
	out := make([]gorgonia.ValueGrad, len(nt.params))
	for i, p := range nt.params {
		out[i] = p.node
	}
	return out
}

func (nt *net) numParams() int {
	n := 0
	for _, p := range nt.params {
		n += len(p.data)
	}
	return n
}
