// Package inception runs torchvision's Inception-v3 on core/nn for inference, with
// BatchNorm folded and transform_input honoured. Channel counts are read from the
// weights, so torchvision checkpoints load by their state-dict names as they are.
package inception

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/plexusml/plexus/core/nn"
	"github.com/plexusml/plexus/core/nn/weights"
)

// Config is Inception-v3's config.json: torchvision's constructor arguments
// (num_classes, transform_input) and the preprocessing that goes with the weights.
type Config struct {
	Architecture   string    `json:"architecture"`
	NumClasses     int       `json:"num_classes"`
	TransformInput bool      `json:"transform_input,omitempty"`
	InputSize      int       `json:"input_size,omitempty"`  // default 299
	ResizeSize     int       `json:"resize_size,omitempty"` // default 342
	Mean           []float32 `json:"mean,omitempty"`
	Std            []float32 `json:"std,omitempty"`
	Labels         []string  `json:"labels,omitempty"`
}

// Normalize fills defaults and checks the configuration.
func (c *Config) Normalize() error {
	if c.Architecture == "" {
		c.Architecture = "inception_v3"
	}
	if c.Architecture != "inception_v3" {
		return fmt.Errorf("architecture %q is not inception_v3", c.Architecture)
	}
	if c.NumClasses == 0 {
		c.NumClasses = len(c.Labels)
	}
	if c.NumClasses < 1 || c.NumClasses > 1<<24 {
		return fmt.Errorf("num_classes is %d", c.NumClasses)
	}
	if len(c.Labels) > 0 && len(c.Labels) != c.NumClasses {
		return fmt.Errorf("%d labels for num_classes %d", len(c.Labels), c.NumClasses)
	}
	if c.InputSize == 0 {
		c.InputSize = 299
	}
	if c.ResizeSize == 0 {
		c.ResizeSize = 342
	}
	if c.InputSize < MinSize || c.InputSize > 8192 || c.ResizeSize < 1 || c.ResizeSize > 8192 {
		return fmt.Errorf("input_size %d (at least %d) or resize_size %d out of range", c.InputSize, MinSize, c.ResizeSize)
	}
	if c.Mean == nil {
		c.Mean, c.Std = []float32{0.485, 0.456, 0.406}, []float32{0.229, 0.224, 0.225}
	}
	if len(c.Mean) != 3 || len(c.Std) != 3 {
		return fmt.Errorf("mean %v and std %v need 3 values", c.Mean, c.Std)
	}
	return nil
}

// ReadConfig reads and normalizes a config.json.
func ReadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseConfig decodes and normalizes config.json data; unknown keys are accepted.
func ParseConfig(data []byte) (*Config, error) {
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, err
	}
	if err := c.Normalize(); err != nil {
		return nil, err
	}
	return &c, nil
}

// torchvision's BasicConv2d uses BatchNorm2d(eps=0.001).
const bnEps = 0.001

// builder binds BasicConv2d modules, tracking channel counts; -1 is a count the file
// could not tell (a missing tensor, already reported), which matches any.
type builder struct{ b *weights.Binder }

func (bl builder) conv(name string, in, kh, kw, stride, ph, pw int) (*nn.Conv2d, int) {
	b := bl.b
	b.Tensor(weights.Spec{Name: name + ".conv.weight", Shape: []int{-1, in, kh, kw}})
	c := nn.NewConvBN(b, name+".conv", name+".bn", nn.Conv2dConfig{
		Stride: nn.Sq(stride), Padding: [2]int{ph, pw}, ReLU: true, Eps: bnEps})
	out := c.Out
	if c.Weight == nil {
		out = -1
	}
	return c, out
}

func sum(cs ...int) int {
	s := 0
	for _, c := range cs {
		if c < 0 {
			return -1
		}
		s += c
	}
	return s
}

// A branch is a chain of convolutions, optionally after a pooling.
type branch struct {
	pool  nn.Layer
	convs []*nn.Conv2d
}

func (br branch) forward(a *nn.Arena, x nn.Act) nn.Act {
	if br.pool != nil {
		x = br.pool.Forward(a, x)
	}
	for _, c := range br.convs {
		x = c.Forward(a, x)
	}
	return x
}

// mixed is one Inception module: branches concatenated along channels. A split branch
// (InceptionE's 3×3 pairs) runs its stem, then both heads, each head a branch output.
type mixed struct {
	branches []branch
	splits   []split
	order    []int // output order: ≥ 0 a branch, < 0 split −1−i (both heads)
}

type split struct {
	stem   branch
	heads  [2]*nn.Conv2d
	stemAt int
}

var (
	avg3  = nn.AvgPool2d{Kernel: nn.Sq(3), Stride: nn.Sq(1), Padding: nn.Sq(1)}
	max3s = nn.MaxPool2d{Kernel: nn.Sq(3), Stride: nn.Sq(2)}
)

func (m *mixed) forward(a *nn.Arena, x nn.Act) nn.Act {
	outs := make([]nn.Act, 0, 6)
	for _, o := range m.order {
		if o >= 0 {
			outs = append(outs, m.branches[o].forward(a, x))
			continue
		}
		s := m.splits[-1-o]
		h := s.stem.forward(a, x)
		outs = append(outs, s.heads[0].Forward(a, h), s.heads[1].Forward(a, h))
	}
	return concat(a, outs)
}

// concat joins N×Ci×H×W activations along channels.
func concat(a *nn.Arena, xs []nn.Act) nn.Act {
	n, h, w := xs[0].Dim(0), xs[0].Dim(2), xs[0].Dim(3)
	c := 0
	for _, x := range xs {
		c += x.Dim(1)
	}
	y := a.Act(n, c, h, w)
	hw := h * w
	for i := 0; i < n; i++ {
		off := i * c * hw
		for _, x := range xs {
			ci := x.Dim(1)
			copy(y.Data[off:off+ci*hw], x.Data[i*ci*hw:(i+1)*ci*hw])
			off += ci * hw
		}
	}
	return y
}

func (bl builder) inceptionA(p string, in int) (*mixed, int) {
	c1, o1 := bl.conv(p+".branch1x1", in, 1, 1, 1, 0, 0)
	c51, o := bl.conv(p+".branch5x5_1", in, 1, 1, 1, 0, 0)
	c52, o5 := bl.conv(p+".branch5x5_2", o, 5, 5, 1, 2, 2)
	d1, o := bl.conv(p+".branch3x3dbl_1", in, 1, 1, 1, 0, 0)
	d2, o := bl.conv(p+".branch3x3dbl_2", o, 3, 3, 1, 1, 1)
	d3, o3 := bl.conv(p+".branch3x3dbl_3", o, 3, 3, 1, 1, 1)
	cp, op := bl.conv(p+".branch_pool", in, 1, 1, 1, 0, 0)
	return &mixed{branches: []branch{{convs: []*nn.Conv2d{c1}}, {convs: []*nn.Conv2d{c51, c52}},
		{convs: []*nn.Conv2d{d1, d2, d3}}, {pool: avg3, convs: []*nn.Conv2d{cp}}}, order: []int{0, 1, 2, 3}}, sum(o1, o5, o3, op)
}

func (bl builder) inceptionB(p string, in int) (*mixed, int) {
	c3, o3 := bl.conv(p+".branch3x3", in, 3, 3, 2, 0, 0)
	d1, o := bl.conv(p+".branch3x3dbl_1", in, 1, 1, 1, 0, 0)
	d2, o := bl.conv(p+".branch3x3dbl_2", o, 3, 3, 1, 1, 1)
	d3, od := bl.conv(p+".branch3x3dbl_3", o, 3, 3, 2, 0, 0)
	return &mixed{branches: []branch{{convs: []*nn.Conv2d{c3}}, {convs: []*nn.Conv2d{d1, d2, d3}},
		{pool: max3s}}, order: []int{0, 1, 2}}, sum(o3, od, in)
}

func (bl builder) inceptionC(p string, in int) (*mixed, int) {
	c1, o1 := bl.conv(p+".branch1x1", in, 1, 1, 1, 0, 0)
	a1, o := bl.conv(p+".branch7x7_1", in, 1, 1, 1, 0, 0)
	a2, o := bl.conv(p+".branch7x7_2", o, 1, 7, 1, 0, 3)
	a3, o7 := bl.conv(p+".branch7x7_3", o, 7, 1, 1, 3, 0)
	d1, o := bl.conv(p+".branch7x7dbl_1", in, 1, 1, 1, 0, 0)
	d2, o := bl.conv(p+".branch7x7dbl_2", o, 7, 1, 1, 3, 0)
	d3, o := bl.conv(p+".branch7x7dbl_3", o, 1, 7, 1, 0, 3)
	d4, o := bl.conv(p+".branch7x7dbl_4", o, 7, 1, 1, 3, 0)
	d5, od := bl.conv(p+".branch7x7dbl_5", o, 1, 7, 1, 0, 3)
	cp, op := bl.conv(p+".branch_pool", in, 1, 1, 1, 0, 0)
	return &mixed{branches: []branch{{convs: []*nn.Conv2d{c1}}, {convs: []*nn.Conv2d{a1, a2, a3}},
		{convs: []*nn.Conv2d{d1, d2, d3, d4, d5}}, {pool: avg3, convs: []*nn.Conv2d{cp}}}, order: []int{0, 1, 2, 3}}, sum(o1, o7, od, op)
}

func (bl builder) inceptionD(p string, in int) (*mixed, int) {
	a1, o := bl.conv(p+".branch3x3_1", in, 1, 1, 1, 0, 0)
	a2, o3 := bl.conv(p+".branch3x3_2", o, 3, 3, 2, 0, 0)
	d1, o := bl.conv(p+".branch7x7x3_1", in, 1, 1, 1, 0, 0)
	d2, o := bl.conv(p+".branch7x7x3_2", o, 1, 7, 1, 0, 3)
	d3, o := bl.conv(p+".branch7x7x3_3", o, 7, 1, 1, 3, 0)
	d4, o7 := bl.conv(p+".branch7x7x3_4", o, 3, 3, 2, 0, 0)
	return &mixed{branches: []branch{{convs: []*nn.Conv2d{a1, a2}}, {convs: []*nn.Conv2d{d1, d2, d3, d4}},
		{pool: max3s}}, order: []int{0, 1, 2}}, sum(o3, o7, in)
}

func (bl builder) inceptionE(p string, in int) (*mixed, int) {
	c1, o1 := bl.conv(p+".branch1x1", in, 1, 1, 1, 0, 0)
	s1, o := bl.conv(p+".branch3x3_1", in, 1, 1, 1, 0, 0)
	s2a, oa := bl.conv(p+".branch3x3_2a", o, 1, 3, 1, 0, 1)
	s2b, ob := bl.conv(p+".branch3x3_2b", o, 3, 1, 1, 1, 0)
	d1, o := bl.conv(p+".branch3x3dbl_1", in, 1, 1, 1, 0, 0)
	d2, o := bl.conv(p+".branch3x3dbl_2", o, 3, 3, 1, 1, 1)
	d3a, da := bl.conv(p+".branch3x3dbl_3a", o, 1, 3, 1, 0, 1)
	d3b, db := bl.conv(p+".branch3x3dbl_3b", o, 3, 1, 1, 1, 0)
	cp, op := bl.conv(p+".branch_pool", in, 1, 1, 1, 0, 0)
	return &mixed{
		branches: []branch{{convs: []*nn.Conv2d{c1}}, {pool: avg3, convs: []*nn.Conv2d{cp}}},
		splits: []split{
			{stem: branch{convs: []*nn.Conv2d{s1}}, heads: [2]*nn.Conv2d{s2a, s2b}},
			{stem: branch{convs: []*nn.Conv2d{d1, d2}}, heads: [2]*nn.Conv2d{d3a, d3b}},
		},
		order: []int{0, -1, -2, 1},
	}, sum(o1, oa, ob, da, db, op)
}

// Model is a loaded Inception-v3. It is read-only after Load: one Model serves many
// goroutines, each with its own nn.Arena.
type Model struct {
	cfg   Config
	stem  []*nn.Conv2d // Conv2d_1a … Conv2d_4a, with max-pools after the 3rd and 5th
	mixed []*mixed
	fc    *nn.Linear
}

// Config returns the model's normalized configuration.
func (m *Model) Config() *Config { return &m.cfg }

// Load builds the model from a weights store. The auxiliary classifier (AuxLogits.*),
// which only training uses, is ignored; every other missing, unexpected or wrong-shape
// tensor is reported together in one *weights.MismatchError.
func Load(store weights.Store, cfg Config) (*Model, error) {
	if err := cfg.Normalize(); err != nil {
		return nil, err
	}
	b := weights.NewBinder(store, weights.StripPrefix("module."), weights.Ignore("AuxLogits.*"))
	bl := builder{b}
	m := &Model{cfg: cfg}
	c, o := bl.conv("Conv2d_1a_3x3", 3, 3, 3, 2, 0, 0)
	m.stem = append(m.stem, c)
	c, o = bl.conv("Conv2d_2a_3x3", o, 3, 3, 1, 0, 0)
	m.stem = append(m.stem, c)
	c, o = bl.conv("Conv2d_2b_3x3", o, 3, 3, 1, 1, 1)
	m.stem = append(m.stem, c)
	c, o = bl.conv("Conv2d_3b_1x1", o, 1, 1, 1, 0, 0)
	m.stem = append(m.stem, c)
	c, o = bl.conv("Conv2d_4a_3x3", o, 3, 3, 1, 0, 0)
	m.stem = append(m.stem, c)
	var mx *mixed
	for _, name := range []string{"Mixed_5b", "Mixed_5c", "Mixed_5d"} {
		mx, o = bl.inceptionA(name, o)
		m.mixed = append(m.mixed, mx)
	}
	mx, o = bl.inceptionB("Mixed_6a", o)
	m.mixed = append(m.mixed, mx)
	for _, name := range []string{"Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"} {
		mx, o = bl.inceptionC(name, o)
		m.mixed = append(m.mixed, mx)
	}
	mx, o = bl.inceptionD("Mixed_7a", o)
	m.mixed = append(m.mixed, mx)
	for _, name := range []string{"Mixed_7b", "Mixed_7c"} {
		mx, o = bl.inceptionE(name, o)
		m.mixed = append(m.mixed, mx)
	}
	b.Tensor(weights.Spec{Name: "fc.weight", Shape: []int{cfg.NumClasses, o}})
	m.fc = nn.NewLinear(b, "fc", nn.LinearConfig{})
	if err := b.Err(); err != nil {
		return nil, err
	}
	return m, nil
}

// MinSize is the smallest input side the network accepts.
const MinSize = 75

// Features runs x (N×3×H×W, normalized as for ImageNet) up to the global average pool
// and returns the N×2048 embeddings (fewer for narrower weights), in arena memory.
func (m *Model) Features(a *nn.Arena, x nn.Act) (nn.Act, error) {
	if x.Rank() != 4 || x.Dim(1) != 3 {
		return nn.Act{}, fmt.Errorf("inception: input shape %v, want N×3×H×W", x.Shape())
	}
	if x.Dim(2) < MinSize || x.Dim(3) < MinSize {
		return nn.Act{}, fmt.Errorf("inception: input %d×%d is smaller than %d×%d", x.Dim(2), x.Dim(3), MinSize, MinSize)
	}
	if m.cfg.TransformInput {
		x = transformInput(a, x)
	}
	for i, c := range m.stem {
		x = c.Forward(a, x)
		if i == 2 || i == 4 {
			x = max3s.Forward(a, x)
		}
	}
	for _, mx := range m.mixed {
		x = mx.forward(a, x)
	}
	x = nn.AdaptiveAvgPool2d{Out: nn.Sq(1)}.Forward(a, x)
	return x.Reshape(x.Dim(0), -1), nil
}

// Forward returns the N×NumClasses logits of x (dropout is the identity in inference).
func (m *Model) Forward(a *nn.Arena, x nn.Act) (nn.Act, error) {
	f, err := m.Features(a, x)
	if err != nil {
		return nn.Act{}, err
	}
	return m.fc.Forward(a, f), nil
}

// transformInput re-normalizes ImageNet-normalized input to the (x − 0.5)/0.5 the
// ported Google weights expect, as torchvision's _transform_input does.
func transformInput(a *nn.Arena, x nn.Act) nn.Act {
	mean := [3]float32{0.485, 0.456, 0.406}
	std := [3]float32{0.229, 0.224, 0.225}
	y := a.Act(x.Shape()...)
	hw := x.Dim(2) * x.Dim(3)
	for i := 0; i < x.Dim(0); i++ {
		for c := 0; c < 3; c++ {
			off := (i*3 + c) * hw
			s, t := std[c]/0.5, (mean[c]-0.5)/0.5
			for j, v := range x.Data[off : off+hw] {
				y.Data[off+j] = v*s + t
			}
		}
	}
	return y
}

// Head applies the classifier (fc) to pooled features, so a caller that wants both
// the embedding and the logits runs the network once.
func (m *Model) Head(a *nn.Arena, features nn.Act) nn.Act { return m.fc.Forward(a, features) }
