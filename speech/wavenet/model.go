package wavenet

import (
	"fmt"
	"math"

	"github.com/plexusml/plexus/core/kernels"
	"github.com/plexusml/plexus/core/nn"
	"github.com/plexusml/plexus/core/nn/weights"
)

// layer is one gated residual layer.
type layer struct {
	dilation int
	conv     *nn.Conv1d // R → G, kernel K, causal, dilated
	condC    *nn.Conv1d // cin → G, no bias (nil without local conditioning)
	condG    *nn.Conv1d // gin → G, no bias (nil without speaker conditioning)
	out      *nn.Conv1d // G/2 → R
	skip     *nn.Conv1d // G/2 → S
}

// Model is a loaded WaveNet. It is read-only after New: generators and forward
// passes on several goroutines may share it.
type Model struct {
	Config   Config
	first    *nn.Conv1d // in → R
	layers   []layer
	last1    *nn.Conv1d // S → S
	last2    *nn.Conv1d // S → out
	speakers *nn.Embedding
	upsample [][]float32 // one 2s+1 kernel per scale

	fast *fastWeights // the generation layout, built once
}

// New binds a model's parameters (r9y9/wavenet_vocoder names) and returns b.Err()
// listing every missing, unexpected or wrong-shape tensor.
func New(b *weights.Binder, cfg Config) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Model{Config: cfg}
	m.first = nn.NewConv1d(b, "first_conv", nn.Conv1dConfig{})
	per := cfg.Layers / cfg.Stacks
	for i := 0; i < cfg.Layers; i++ {
		p := fmt.Sprintf("conv_layers.%d", i)
		d := 1 << (i % per)
		l := layer{dilation: d,
			conv: nn.NewConv1d(b, p+".conv", nn.Conv1dConfig{Dilation: d, Causal: true}),
			out:  nn.NewConv1d(b, p+".conv1x1_out", nn.Conv1dConfig{}),
			skip: nn.NewConv1d(b, p+".conv1x1_skip", nn.Conv1dConfig{}),
		}
		if cfg.CinChannels > 0 {
			l.condC = nn.NewConv1d(b, p+".conv1x1c", nn.Conv1dConfig{})
		}
		if cfg.GinChannels > 0 {
			l.condG = nn.NewConv1d(b, p+".conv1x1g", nn.Conv1dConfig{})
		}
		m.layers = append(m.layers, l)
	}
	m.last1 = nn.NewConv1d(b, "last_conv_layers.1", nn.Conv1dConfig{})
	m.last2 = nn.NewConv1d(b, "last_conv_layers.3", nn.Conv1dConfig{})
	if cfg.GinChannels > 0 {
		m.speakers = nn.NewEmbedding(b, "embed_speakers")
	}
	if cfg.CinChannels > 0 {
		for j, s := range cfg.UpsampleScales {
			m.upsample = append(m.upsample, b.Float32(fmt.Sprintf("upsample_net.up_layers.%d.weight", 2*j+1), 1, 1, 1, 2*s+1))
		}
	}
	if err := b.Err(); err != nil {
		return nil, fmt.Errorf("wavenet: %w", err)
	}
	if err := m.checkShapes(); err != nil {
		return nil, err
	}
	m.fast = m.buildFast()
	return m, nil
}

// checkShapes compares the sizes the weights imply with the config.
func (m *Model) checkShapes() error {
	c := m.Config
	in := c.OutChannels
	if c.ScalarInput {
		in = 1
	}
	want := func(conv *nn.Conv1d, i, o, k int) error {
		if conv.In != i || conv.Out != o || conv.K != k {
			return fmt.Errorf("wavenet: %s is %d→%d kernel %d, the config implies %d→%d kernel %d", conv.Name, conv.In, conv.Out, conv.K, i, o, k)
		}
		return nil
	}
	errs := []error{want(m.first, in, c.ResidualChannels, 1), want(m.last1, c.SkipChannels, c.SkipChannels, 1),
		want(m.last2, c.SkipChannels, c.OutChannels, 1)}
	h := c.GateChannels / 2
	for _, l := range m.layers {
		errs = append(errs, want(l.conv, c.ResidualChannels, c.GateChannels, c.KernelSize),
			want(l.out, h, c.ResidualChannels, 1), want(l.skip, h, c.SkipChannels, 1))
		if l.condC != nil {
			errs = append(errs, want(l.condC, c.CinChannels, c.GateChannels, 1))
		}
		if l.condG != nil {
			errs = append(errs, want(l.condG, c.GinChannels, c.GateChannels, 1))
		}
	}
	if m.speakers != nil && (m.speakers.Dim != c.GinChannels || m.speakers.Num != c.NSpeakers) {
		return fmt.Errorf("wavenet: embed_speakers is %d×%d, the config implies %d×%d", m.speakers.Num, m.speakers.Dim, c.NSpeakers, c.GinChannels)
	}
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// Upsample stretches conditioning frames (B × cin × frames) by each scale with
// nearest-neighbour repetition, smoothing after each with its 2s+1-tap kernel, and
// returns B × cin × frames·Hop.
func (m *Model) Upsample(c []float32, batch, frames int) []float32 {
	cin := m.Config.CinChannels
	rows := batch * cin
	cur, n := c, frames
	for j, s := range m.Config.UpsampleScales {
		k := m.upsample[j]
		nn := n * s
		next := make([]float32, rows*nn)
		for r := 0; r < rows; r++ {
			src := cur[r*n : (r+1)*n]
			dst := next[r*nn : (r+1)*nn]
			for t := range dst {
				var acc float32
				for q, w := range k {
					u := t + q - s // zero padding of s on each side
					if u >= 0 && u < nn {
						acc += w * src[u/s]
					}
				}
				dst[t] = acc
			}
		}
		cur, n = next, nn
	}
	return cur
}

// Forward runs the whole network over a sequence, as the reference model's forward
// does: x is B × in × T (one-hot mu-law classes, or scalar samples), c the B × cin ×
// frames conditioning (nil without), speakers the B speaker ids (nil without). It
// returns B × out × T outputs (logits, or mixture parameters).
func (m *Model) Forward(x nn.Act, c []float32, frames int, speakers []int64) (nn.Act, error) {
	cfg := m.Config
	if x.Rank() != 3 {
		return nn.Act{}, fmt.Errorf("wavenet: input of rank %d, want B×in×T", x.Rank())
	}
	B, T := x.Dim(0), x.Dim(2)
	var cUp nn.Act
	if cfg.CinChannels > 0 {
		if len(c) != B*cfg.CinChannels*frames || frames*cfg.Hop() < T {
			return nn.Act{}, fmt.Errorf("wavenet: conditioning of %d values is not %d×%d×%d covering %d samples", len(c), B, cfg.CinChannels, frames, T)
		}
		up := m.Upsample(c, B, frames)
		L := frames * cfg.Hop()
		trim := make([]float32, B*cfg.CinChannels*T)
		for r := 0; r < B*cfg.CinChannels; r++ {
			copy(trim[r*T:(r+1)*T], up[r*L:r*L+T])
		}
		cUp = nn.NewAct(trim, B, cfg.CinChannels, T)
	}
	return m.ForwardUpsampled(x, cUp.Data, speakers)
}

// ForwardUpsampled is Forward with the conditioning already upsampled to B × cin × T
// (nil without local conditioning).
func (m *Model) ForwardUpsampled(x nn.Act, cUpData []float32, speakers []int64) (nn.Act, error) {
	cfg := m.Config
	B, T := x.Dim(0), x.Dim(2)
	var cUp nn.Act
	if cfg.CinChannels > 0 {
		if len(cUpData) != B*cfg.CinChannels*T {
			return nn.Act{}, fmt.Errorf("wavenet: upsampled conditioning of %d values is not %d×%d×%d", len(cUpData), B, cfg.CinChannels, T)
		}
		cUp = nn.NewAct(cUpData, B, cfg.CinChannels, T)
	}
	var gEmb []float32
	if cfg.GinChannels > 0 {
		if len(speakers) != B {
			return nn.Act{}, fmt.Errorf("wavenet: %d speaker ids for a batch of %d", len(speakers), B)
		}
		e, err := m.speakers.Forward(nil, speakers)
		if err != nil {
			return nn.Act{}, fmt.Errorf("wavenet: %w", err)
		}
		gEmb = e.Data
	}
	h := m.first.Forward(nil, x)
	G, S := cfg.GateChannels, cfg.SkipChannels
	half := G / 2
	skips := make([]float32, B*S*T)
	z := make([]float32, B*half*T)
	for _, l := range m.layers {
		gate := l.conv.Forward(nil, h)
		if l.condC != nil {
			cp := l.condC.Forward(nil, cUp)
			addInto(gate.Data, cp.Data)
		}
		if l.condG != nil {
			gp := make([]float32, B*G)
			kernels.Sgemm(false, true, B, G, cfg.GinChannels, 1, gEmb, cfg.GinChannels, l.condG.Weight, cfg.GinChannels, 0, gp, G)
			for b := 0; b < B; b++ {
				for o := 0; o < G; o++ {
					row := gate.Data[(b*G+o)*T : (b*G+o+1)*T]
					v := gp[b*G+o]
					for t := range row {
						row[t] += v
					}
				}
			}
		}
		for b := 0; b < B; b++ {
			gateUnit(gate.Data[b*G*T:b*G*T+half*T], gate.Data[b*G*T+half*T:(b+1)*G*T], z[b*half*T:(b+1)*half*T])
		}
		za := nn.NewAct(z, B, half, T)
		s := l.skip.Forward(nil, za)
		addInto(skips, s.Data)
		o := l.out.ForwardAdd(nil, za, h)
		scale(o.Data, float32(math.Sqrt(0.5)))
		h = o
	}
	scale(skips, float32(math.Sqrt(1/float64(len(m.layers)))))
	relu(skips)
	y := m.last1.Forward(nil, nn.NewAct(skips, B, S, T))
	relu(y.Data)
	return m.last2.Forward(nil, y), nil
}

// gateUnit computes z = tanh(a)·sigmoid(b), overwriting a and b. Both generation
// paths use it, so that they agree to the last bit on the same inputs.
func gateUnit(a, b, z []float32) {
	kernels.Tanh(a, a)
	kernels.Sigmoid(b, b)
	for i := range z {
		z[i] = a[i] * b[i]
	}
}

func addInto(dst, src []float32) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] += src[i]
	}
}

func scale(x []float32, s float32) {
	for i := range x {
		x[i] *= s
	}
}

func relu(x []float32) {
	for i, v := range x {
		if v < 0 {
			x[i] = 0
		}
	}
}
