package wav2vec2

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/plexusml/plexus/core/nn"
	"github.com/plexusml/plexus/core/nn/weights"
)

// LayerNames are the parameter names of one encoder layer, relative to
// "encoder.transformer.layers.N": torchaudio's EncoderLayer.
var LayerNames = nn.TransformerNames{
	Query: "attention.q_proj", Key: "attention.k_proj", Value: "attention.v_proj", Out: "attention.out_proj",
	AttnNorm: "layer_norm", FF1: "feed_forward.intermediate_dense", FF2: "feed_forward.output_dense",
	FFNorm: "final_layer_norm",
}

// convLayer is one feature-extractor convolution, kept for time-major activations
// (frames × channels): its weight is rearranged from PyTorch's Out×In×K to Out×(K·In),
// so that the input window of output frame t is one contiguous row of the input
// starting at t·stride·In, and the convolution is one GEMM over a strided view.
type convLayer struct {
	name               string
	in, out, k, stride int
	w                  []float32 // out × k·in
	bias               []float32 // out, or nil
	groupNorm          bool      // GroupNorm(out, out) after the convolution (layer 0 of group_norm mode)
	gamma, beta        []float32 // the GroupNorm's affine parameters
	ln                 *nn.LayerNorm
}

// posConv is the weight-normalised grouped convolution of ConvolutionalPositionalEmbedding,
// its effective weight (g·v/‖v‖, PyTorch's E×E/groups×K layout) computed once at load.
type posConv struct {
	k, groups int
	w, bias   []float32
}

// Model is torchaudio's Wav2Vec2Model for inference: the convolutional feature
// extractor, the feature projection, the convolutional positional embedding, the
// Transformer and the optional aux CTC head. It is read-only after construction and
// safe for concurrent use.
type Model struct {
	Config  Config
	Embed   int
	conv    []convLayer
	projLN  *nn.LayerNorm
	proj    *nn.Linear
	pos     posConv
	encLN   *nn.LayerNorm // before the layers (post-norm models) or after them (pre-norm)
	layers  []*nn.TransformerLayer
	aux     *nn.Linear // nil without a CTC head
	labels  []string
	MaxSecs float64 // the longest waveform Emissions accepts, in seconds (default 120)

	mu   sync.Mutex
	free []*nn.Arena // idle arenas, one per concurrent Emissions call at the peak
}

// Names of the model's non-layer parameters.
const (
	posPrefix = "encoder.transformer.pos_conv_embed.conv"
)

// weightNormNames maps the parametrization names of torch ≥ 2.1's weight_norm to the
// classic weight_g / weight_v, so checkpoints saved by either load.
func weightNormNames(name string) string {
	switch {
	case strings.HasSuffix(name, ".parametrizations.weight.original0"):
		return strings.TrimSuffix(name, ".parametrizations.weight.original0") + ".weight_g"
	case strings.HasSuffix(name, ".parametrizations.weight.original1"):
		return strings.TrimSuffix(name, ".parametrizations.weight.original1") + ".weight_v"
	}
	return name
}

// New binds a model from s. Names are torchaudio's state_dict names; a "model." or
// "module." prefix is stripped, and the positional convolution's weight norm may be
// stored as weight_g/weight_v, as parametrizations.weight.original0/1, or already
// folded into a plain weight.
func New(s weights.Store, cfg Config, opts ...weights.BindOption) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	b := weights.NewBinder(s, append([]weights.BindOption{weights.StripPrefix("module.", "model."),
		weights.Rename(weightNormNames)}, opts...)...)
	m := &Model{Config: cfg, MaxSecs: 120}
	m.bindExtractor(b)
	m.projLN = nn.NewLayerNorm(b, "encoder.feature_projection.layer_norm", 0)
	m.proj = nn.NewLinear(b, "encoder.feature_projection.projection", nn.LinearConfig{})
	m.bindPosConv(b)
	m.encLN = nn.NewLayerNorm(b, "encoder.transformer.layer_norm", 0)
	for i := 0; i < cfg.EncoderNumLayers; i++ {
		m.layers = append(m.layers, nn.NewTransformerLayer(b, fmt.Sprintf("encoder.transformer.layers.%d", i), LayerNames,
			nn.TransformerConfig{Heads: cfg.EncoderNumHeads, PreNorm: cfg.EncoderLayerNormFirst, Activation: nn.GELU}))
	}
	if cfg.AuxNumOut != nil {
		m.aux = nn.NewLinear(b, "aux", nn.LinearConfig{})
	}
	if err := b.Err(); err != nil {
		return nil, fmt.Errorf("wav2vec2: %w", err)
	}
	if err := m.checkShapes(); err != nil {
		return nil, fmt.Errorf("wav2vec2: %w", err)
	}
	m.labels = cfg.OutputLabels()
	return m, nil
}

// bindExtractor binds feature_extractor.conv_layers.N.{conv,layer_norm}.
func (m *Model) bindExtractor(b *weights.Binder) {
	in := 1
	for i, l := range m.Config.ConvLayers() {
		p := fmt.Sprintf("feature_extractor.conv_layers.%d", i)
		c := convLayer{name: p, in: in, out: l[0], k: l[1], stride: l[2]}
		w := b.Float32(p+".conv.weight", c.out, c.in, c.k)
		if m.Config.ExtractorConvBias {
			c.bias = b.Float32(p+".conv.bias", c.out)
		}
		switch {
		case m.Config.ExtractorMode == "group_norm" && i == 0:
			c.groupNorm = true
			c.gamma = b.Float32(p+".layer_norm.weight", c.out)
			c.beta = b.Float32(p+".layer_norm.bias", c.out)
		case m.Config.ExtractorMode == "layer_norm":
			c.ln = nn.NewLayerNorm(b, p+".layer_norm", 0)
			if c.ln.N != 0 && c.ln.N != c.out {
				b.Float32(p+".layer_norm.weight", c.out)
			}
		}
		if w != nil {
			c.w = make([]float32, len(w))
			for o := 0; o < c.out; o++ {
				for ci := 0; ci < c.in; ci++ {
					for j := 0; j < c.k; j++ {
						c.w[(o*c.k+j)*c.in+ci] = w[(o*c.in+ci)*c.k+j]
					}
				}
			}
		}
		m.conv = append(m.conv, c)
		in = c.out
	}
}

// bindPosConv binds the positional convolution and folds its weight norm:
// w[o,c,j] = g[j]·v[o,c,j]/‖v[·,·,j]‖ (torch's weight_norm with dim=2).
func (m *Model) bindPosConv(b *weights.Binder) {
	e, k, g := m.Config.EncoderEmbedDim, m.Config.EncoderPosConvKernel, m.Config.EncoderPosConvGroups
	cg := e / g
	m.pos = posConv{k: k, groups: g}
	var w []float32
	if b.Has(posPrefix+".weight") && !b.Has(posPrefix+".weight_v") {
		w = b.Float32(posPrefix+".weight", e, cg, k)
	} else {
		gain := b.Float32(posPrefix+".weight_g", 1, 1, k)
		v := b.Float32(posPrefix+".weight_v", e, cg, k)
		if gain != nil && v != nil {
			w = make([]float32, len(v))
			for j := 0; j < k; j++ {
				var ss float64
				for i := j; i < len(v); i += k {
					ss += float64(v[i]) * float64(v[i])
				}
				s := float64(gain[j]) / math.Sqrt(ss)
				for i := j; i < len(v); i += k {
					w[i] = float32(float64(v[i]) * s)
				}
			}
		}
	}
	m.pos.w = w
	m.pos.bias = b.Float32(posPrefix+".bias", e)
}

// checkShapes checks what the Binder could not: that the widths chain.
func (m *Model) checkShapes() error {
	c := m.Config
	last := m.conv[len(m.conv)-1].out
	var errs []error
	if m.projLN.N != last || m.proj.In != last {
		errs = append(errs, fmt.Errorf("encoder.feature_projection takes %d features, the extractor gives %d", m.proj.In, last))
	}
	if m.proj.Out != c.EncoderEmbedDim {
		errs = append(errs, fmt.Errorf("encoder.feature_projection.projection gives %d features, encoder_embed_dim is %d", m.proj.Out, c.EncoderEmbedDim))
	}
	if m.encLN.N != c.EncoderEmbedDim {
		errs = append(errs, fmt.Errorf("encoder.transformer.layer_norm has %d features, encoder_embed_dim is %d", m.encLN.N, c.EncoderEmbedDim))
	}
	for i, l := range m.layers {
		if l.Embed() != c.EncoderEmbedDim || l.FF1.Out != c.EncoderFFIntermFeatures {
			errs = append(errs, fmt.Errorf("encoder.transformer.layers.%d is %d wide with %d feed-forward features, config says %d and %d",
				i, l.Embed(), l.FF1.Out, c.EncoderEmbedDim, c.EncoderFFIntermFeatures))
		}
	}
	if m.aux != nil && (m.aux.In != c.EncoderEmbedDim || m.aux.Out != *c.AuxNumOut) {
		errs = append(errs, fmt.Errorf("aux is %d×%d, config says %d outputs of %d features", m.aux.Out, m.aux.In, *c.AuxNumOut, c.EncoderEmbedDim))
	}
	m.Embed = c.EncoderEmbedDim
	return errors.Join(errs...)
}

// Labels are the CTC head's output classes (nil without a head or labels).
func (m *Model) Labels() []string { return m.labels }

// SampleRate is the rate Emissions expects.
func (m *Model) SampleRate() int { return m.Config.Rate() }

// FrameSamples is the number of input samples per output frame (320 for every
// published model).
func (m *Model) FrameSamples() int { return m.Config.FrameSamples() }

// Frames is the number of output frames for a waveform of n samples.
func (m *Model) Frames(n int) int { return m.Config.Frames(n) }

// Outputs is the width of one output frame: the CTC head's classes, or the encoder's
// width for a model without a head.
func (m *Model) Outputs() int {
	if m.aux != nil {
		return m.aux.Out
	}
	return m.Embed
}
