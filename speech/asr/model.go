package asr

import (
	"context"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/plexusml/plexus/core/nn"
	"github.com/plexusml/plexus/core/nn/weights"
	"github.com/plexusml/plexus/core/tensor"
)

// Model is the recogniser for inference. It is read-only after construction and safe
// for concurrent Emissions calls (each takes its own arena from a pool).
type Model struct {
	Config       Config
	Conv1, Conv2 *nn.Conv1d
	Layers       []*nn.TransformerLayer
	Norm         *nn.LayerNorm
	Head         *nn.Linear
	arenas       sync.Pool

	peMu sync.Mutex
	pe   []float32 // positional encodings for the longest batch so far, frames × DModel
}

// positions returns the encodings of the first T frames, extending the cached table
// when a batch is longer than any before.
func (m *Model) positions(T int) []float32 {
	D := m.Config.DModel
	m.peMu.Lock()
	defer m.peMu.Unlock()
	if len(m.pe) < T*D {
		m.pe = PositionalEncoding(max(T, 2*len(m.pe)/D), D)
	}
	return m.pe[:T*D]
}

// New binds a model's weights (names as tools/golden/asr.py) and checks that every
// parameter is present with its shape and that nothing is left over.
func New(b *weights.Binder, cfg Config) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Model{Config: cfg}
	m.Conv1 = nn.NewConv1d(b, "subsample.conv1", nn.Conv1dConfig{Stride: 2, Padding: 1, ReLU: true})
	m.Conv2 = nn.NewConv1d(b, "subsample.conv2", nn.Conv1dConfig{Stride: cfg.Stride2(), Padding: 1, ReLU: true})
	for l := 0; l < cfg.Layers; l++ {
		m.Layers = append(m.Layers, nn.NewTransformerLayer(b, fmt.Sprintf("encoder.layers.%d", l), nn.TorchEncoderLayerNames,
			nn.TransformerConfig{Heads: cfg.Heads, PreNorm: true, Activation: nn.ReLU, Eps: float32(cfg.LayerNormEps)}))
	}
	m.Norm = nn.NewLayerNorm(b, "encoder.norm", float32(cfg.LayerNormEps))
	m.Head = nn.NewLinear(b, "ctc", nn.LinearConfig{})
	if err := b.Err(); err != nil {
		return nil, err
	}
	D := cfg.DModel
	switch {
	case m.Conv1.In != cfg.NMels || m.Conv1.Out != D || m.Conv1.K != 3:
		return nil, fmt.Errorf("asr: subsample.conv1.weight is %d×%d×%d, config wants %d×%d×3", m.Conv1.Out, m.Conv1.In, m.Conv1.K, D, cfg.NMels)
	case m.Conv2.In != D || m.Conv2.Out != D || m.Conv2.K != 3:
		return nil, fmt.Errorf("asr: subsample.conv2.weight is %d×%d×%d, config wants %d×%d×3", m.Conv2.Out, m.Conv2.In, m.Conv2.K, D, D)
	case m.Head.In != D || m.Head.Out != len(cfg.Labels):
		return nil, fmt.Errorf("asr: ctc.weight is %d×%d, config wants %d labels × %d", m.Head.Out, m.Head.In, len(cfg.Labels), D)
	}
	for _, l := range m.Layers {
		if l.Embed() != D || l.FF1.Out != cfg.FFDim {
			return nil, fmt.Errorf("asr: %s is %d wide with a %d feed-forward, config wants %d and %d", l.Name, l.Embed(), l.FF1.Out, D, cfg.FFDim)
		}
	}
	return m, nil
}

// ConfigPath finds a model's config.json: explicit when given, else NAME.json beside
// the weights, else config.json beside them.
func ConfigPath(weightsPath, explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	base := strings.TrimSuffix(weightsPath, filepath.Ext(weightsPath)) + ".json"
	for _, p := range []string{base, filepath.Join(filepath.Dir(weightsPath), "config.json")} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("asr %s: no config (tried %s and config.json beside it)", weightsPath, base)
}

// Open loads a weights file (safetensors or PyTorch checkpoint) with its config.json
// (found beside the weights when configPath is empty). The parameters are copied.
func Open(weightsPath, configPath string) (*Model, error) {
	p, err := ConfigPath(weightsPath, configPath)
	if err != nil {
		return nil, err
	}
	cfg, err := ReadConfig(p)
	if err != nil {
		return nil, err
	}
	st, err := weights.Open(weightsPath)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	m, err := New(weights.NewBinder(st, weights.CopyData()), cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", weightsPath, err)
	}
	return m, nil
}

// ParamShapes lists every parameter by reference name with its PyTorch shape.
func ParamShapes(cfg Config) (map[string][]int, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	D, F, M, C := cfg.DModel, cfg.FFDim, cfg.NMels, len(cfg.Labels)
	p := map[string][]int{
		"subsample.conv1.weight": {D, M, 3}, "subsample.conv1.bias": {D},
		"subsample.conv2.weight": {D, D, 3}, "subsample.conv2.bias": {D},
		"encoder.norm.weight": {D}, "encoder.norm.bias": {D},
		"ctc.weight": {C, D}, "ctc.bias": {C},
	}
	for l := 0; l < cfg.Layers; l++ {
		q := fmt.Sprintf("encoder.layers.%d.", l)
		p[q+"self_attn.in_proj_weight"], p[q+"self_attn.in_proj_bias"] = []int{3 * D, D}, []int{3 * D}
		p[q+"self_attn.out_proj.weight"], p[q+"self_attn.out_proj.bias"] = []int{D, D}, []int{D}
		p[q+"linear1.weight"], p[q+"linear1.bias"] = []int{F, D}, []int{F}
		p[q+"linear2.weight"], p[q+"linear2.bias"] = []int{D, F}, []int{D}
		for _, n := range []string{"norm1", "norm2"} {
			p[q+n+".weight"], p[q+n+".bias"] = []int{D}, []int{D}
		}
	}
	return p, nil
}

// RandomWeights draws every weight uniformly in ±1/sqrt(fan_in) (biases too, so tests
// exercise them), layer-norm scales near one: for tests and benchmarks.
func RandomWeights(cfg Config, seed uint64) (map[string]*tensor.Tensor, error) {
	shapes, err := ParamShapes(cfg)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 3))
	out := make(map[string]*tensor.Tensor, len(shapes))
	for _, name := range slices.Sorted(maps.Keys(shapes)) {
		s := shapes[name]
		n := 1
		for _, d := range s {
			n *= d
		}
		fan := n / s[0]
		if len(s) == 1 {
			fan = s[0]
		}
		bound := 1 / math.Sqrt(float64(fan))
		d := make([]float32, n)
		for i := range d {
			d[i] = float32((2*rng.Float64() - 1) * bound)
			if strings.Contains(name, "norm") && strings.HasSuffix(name, ".weight") {
				d[i] = 1 + d[i]
			}
		}
		out[name] = tensor.FromFloat32(d, s...)
	}
	return out, nil
}

// PositionalEncoding is the sinusoidal table (T × D): sin at even columns, cos at odd,
// wavelengths 10000^(2i/D), as in "Attention is all you need".
func PositionalEncoding(T, D int) []float32 {
	pe := make([]float32, T*D)
	for t := 0; t < T; t++ {
		for i := 0; i < D; i += 2 {
			f := float64(t) * math.Exp(-float64(i)*math.Log(10000)/float64(D))
			pe[t*D+i] = float32(math.Sin(f))
			if i+1 < D {
				pe[t*D+i+1] = float32(math.Cos(f))
			}
		}
	}
	return pe
}

// Labels, SampleRate and FrameSamples implement ctc.Acoustic.
func (m *Model) Labels() []string  { return m.Config.Labels }
func (m *Model) SampleRate() int   { return m.Config.SampleRate }
func (m *Model) FrameSamples() int { return m.Config.FrameSamples() }

// Emissions computes each waveform's log-mel features and runs them as one padded
// batch; it returns per item OutFrames × len(Labels) logits.
func (m *Model) Emissions(ctx context.Context, wavs [][]float32) ([][]float32, error) {
	fe, err := m.Config.frontEnd()
	if err != nil {
		return nil, err
	}
	a := m.arena()
	defer m.release(a)
	feats := make([][]float32, len(wavs))
	frames := make([]int, len(wavs))
	for i, w := range wavs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f, n, err := fe.features(a, w)
		if err != nil {
			return nil, fmt.Errorf("asr: waveform %d: %w", i, err)
		}
		feats[i], frames[i] = f, n
	}
	return m.run(a, feats, frames), nil
}

func (m *Model) arena() *nn.Arena {
	if a, _ := m.arenas.Get().(*nn.Arena); a != nil {
		return a
	}
	return nn.NewArena(0)
}

func (m *Model) release(a *nn.Arena) {
	a.Reset()
	m.arenas.Put(a)
}

// EmissionsFromFeatures runs a batch of normalised features (each frames[i] × NMels,
// time-major, as Config.Features returns).
func (m *Model) EmissionsFromFeatures(feats [][]float32, frames []int) [][]float32 {
	a := m.arena()
	defer m.release(a)
	return m.run(a, feats, frames)
}

// run is the network on a padded batch, its activations in a.
func (m *Model) run(a *nn.Arena, feats [][]float32, frames []int) [][]float32 {
	cfg := m.Config
	B, M, D, C := len(feats), cfg.NMels, cfg.DModel, len(cfg.Labels)
	if B == 0 {
		return nil
	}
	F := 0
	for _, f := range frames {
		F = max(F, f)
	}
	x := a.Act(B, M, F)
	clear(x.Data)
	for b, f := range feats {
		for t := 0; t < frames[b]; t++ {
			for c := 0; c < M; c++ {
				x.Data[(b*M+c)*F+t] = f[t*M+c]
			}
		}
	}
	h := m.Conv1.Forward(a, x)
	T1 := h.Dim(2)
	// Frames past an utterance's end are zero, as they are in a batch of one.
	for b := range feats {
		l1 := ConvLen(frames[b], 2)
		for c := 0; c < D; c++ {
			clear(h.Data[(b*D+c)*T1+l1 : (b*D+c+1)*T1])
		}
	}
	h = m.Conv2.Forward(a, h)
	T := h.Dim(2)
	y := a.Act(B, T, D)
	pe := m.positions(T)
	for b := 0; b < B; b++ {
		for c := 0; c < D; c++ {
			src := h.Data[(b*D+c)*T : (b*D+c+1)*T]
			for t, v := range src {
				y.Data[(b*T+t)*D+c] = v + pe[t*D+c]
			}
		}
	}
	lens := make([]int, B)
	for b := range lens {
		lens[b] = cfg.OutFrames(frames[b])
	}
	mask := nn.AttentionMask{KeyPadding: nn.KeyPaddingFromLengths(nil, lens, T)}
	for _, l := range m.Layers {
		y = l.Forward(a, y, mask)
	}
	y = m.Norm.Forward(a, y)
	z := m.Head.Forward(a, y)
	out := make([][]float32, B)
	for b := range out {
		out[b] = append([]float32(nil), z.Data[b*T*C:(b*T+lens[b])*C]...)
	}
	return out
}
