package wav2vec2

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/plexusml/plexus/core/kernels"
	"github.com/plexusml/plexus/core/nn"
)

// Options are per-call choices of Forward.
type Options struct {
	// BatchStats computes the first layer's group norm statistics over the whole padded
	// batch length (zeros after each waveform), which is what torchaudio's forward does
	// when given a padded batch with lengths, so an item's result depends on its
	// neighbours. The default takes them over each waveform alone: every item comes out
	// as torchaudio computes it in a batch of one. Layer-norm extractors are unaffected.
	BatchStats bool
}

// Output is one Forward's result, in arena memory.
type Output struct {
	// X is Batch×MaxFrames×Outputs(): the aux head's logits, or the encoder's last
	// hidden states for a model without a head. Rows at and after an item's Frames are
	// padding.
	X nn.Act
	// Frames is each item's output length (torchaudio's returned lengths).
	Frames []int
}

// Forward runs a batch of waveforms (each at SampleRate, any lengths, as floats in
// [−1, 1]; see the package documentation about normalisation) through the model. The
// feature extractor and positional convolution run per item over its own length; the
// Transformer runs on the padded batch with the padded keys masked, so that, like
// torchaudio with lengths, padding never reaches a real frame. ctx is checked between
// layers. The arena is the caller's (nil allocates).
func (m *Model) Forward(ctx context.Context, a *nn.Arena, wavs [][]float32, opt Options) (Output, error) {
	if len(wavs) == 0 {
		return Output{}, errors.New("wav2vec2: empty batch")
	}
	B, E := len(wavs), m.Embed
	frames := make([]int, B)
	total, tmax, nmax := 0, 0, 0
	for i, w := range wavs {
		frames[i] = m.Frames(len(w))
		total += frames[i]
		tmax = max(tmax, frames[i])
		nmax = max(nmax, len(w))
	}
	out := Output{Frames: frames}
	if tmax == 0 {
		out.X = nn.NewAct(nil, B, 0, m.Outputs())
		return out, nil
	}
	c := m.conv[len(m.conv)-1].out
	// Extract every item's features into one total×c matrix, so that the projection is
	// one GEMM.
	feats := a.Floats(total * c)
	off := 0
	for i, w := range wavs {
		if frames[i] == 0 {
			continue
		}
		if err := ctx.Err(); err != nil {
			return Output{}, err
		}
		mk := a.Mark()
		if m.Config.NormalizeWaveform {
			w = normalized(a, w)
		}
		stats := len(w)
		if opt.BatchStats {
			stats = nmax
		}
		m.extract(a, w, stats, feats[off*c:(off+frames[i])*c])
		a.Release(mk)
		off += frames[i]
	}
	m.projLN.ForwardInto(feats, feats)
	h := a.Floats(total * E)
	m.proj.ForwardInto(feats, h)

	// The padded batch: each item's projected features plus their positional embedding;
	// padding rows zero (torchaudio zeroes them too, before the positional convolution).
	x := nn.NewAct(a.Floats(B*tmax*E), B, tmax, E)
	off = 0
	for i, t := range frames {
		dst := x.Data[i*tmax*E : (i+1)*tmax*E]
		if t > 0 {
			m.posEmbed(a, h[off*E:(off+t)*E], t, dst[:t*E])
		}
		clear(dst[t*E:])
		off += t
	}
	var mask nn.AttentionMask
	if total != B*tmax {
		pad := make([]bool, B*tmax)
		mask.KeyPadding = nn.KeyPaddingFromLengths(pad, frames, tmax)
	}
	if !m.Config.EncoderLayerNormFirst {
		m.encLN.ForwardInto(x.Data, x.Data)
	}
	for _, l := range m.layers {
		if err := ctx.Err(); err != nil {
			return Output{}, err
		}
		x = l.Forward(a, x, mask)
	}
	if m.Config.EncoderLayerNormFirst {
		m.encLN.ForwardInto(x.Data, x.Data)
	}
	if m.aux != nil {
		x = m.aux.Forward(a, x)
	}
	out.X = x
	return out, nil
}

// posEmbed writes h + GELU(posconv(h)) for one item's t×E features into dst. The
// grouped convolution runs channel-major through kernels.Conv1d, between two
// transposes that cost little next to it.
func (m *Model) posEmbed(a *nn.Arena, h []float32, t int, dst []float32) {
	mk := a.Mark()
	defer a.Release(mk)
	p, E := &m.pos, m.Embed
	xt := a.Floats(E * t)
	transpose(h, t, E, xt)
	cp := kernels.Conv1dParams{N: 1, C: E, L: t, O: E, K: p.k, Padding: p.k / 2, Groups: p.groups}
	// torchaudio pads k/2 on both sides and, for an even kernel, drops the extra last
	// output: the first t outputs are the ones kept.
	ol := cp.OutL()
	conv := a.Floats(E * ol)
	kernels.Conv1d(cp, xt, p.w, p.bias, conv, a.Workspace())
	for r := 0; r < t; r++ {
		row := dst[r*E : (r+1)*E]
		for c := range row {
			row[c] = conv[c*ol+r]
		}
	}
	kernels.GELU(dst, dst)
	for i, v := range h {
		dst[i] += v
	}
}

// transpose writes the rows×cols matrix x as cols×rows into out.
func transpose(x []float32, rows, cols int, out []float32) {
	const bs = 32 // cache blocks, so neither side strides through memory a float at a time
	for r0 := 0; r0 < rows; r0 += bs {
		for c0 := 0; c0 < cols; c0 += bs {
			for r := r0; r < min(rows, r0+bs); r++ {
				for c := c0; c < min(cols, c0+bs); c++ {
					out[c*rows+r] = x[r*cols+c]
				}
			}
		}
	}
}

// normalized returns w scaled to zero mean and unit variance (eps 1e-5) in arena memory:
// torch.nn.functional.layer_norm over the whole waveform.
func normalized(a *nn.Arena, w []float32) []float32 {
	var s float64
	for _, v := range w {
		s += float64(v)
	}
	mean := s / float64(len(w))
	var q float64
	for _, v := range w {
		d := float64(v) - mean
		q += d * d
	}
	inv := 1 / math.Sqrt(q/float64(len(w))+1e-5)
	out := a.Floats(len(w))
	for i, v := range w {
		out[i] = float32((float64(v) - mean) * inv)
	}
	return out
}

// Emissions runs one batch of mono waveforms at SampleRate and returns each one's
// Frames(len) × len(Labels()) logits (speech/ctc's Acoustic). Results do not depend on
// how waveforms are batched. It is safe for concurrent use; each call takes an arena
// from the model's pool.
func (m *Model) Emissions(ctx context.Context, wavs [][]float32) ([][]float32, error) {
	if m.aux == nil {
		return nil, errors.New("wav2vec2: the model has no CTC head (aux_num_out is null): it gives hidden states, not emissions")
	}
	limit := int(m.MaxSecs * float64(m.SampleRate()))
	for i, w := range wavs {
		if len(w) > limit {
			return nil, fmt.Errorf("wav2vec2: waveform %d is %.1f s long, the limit is %.0f s (split long audio into chunks)",
				i, float64(len(w))/float64(m.SampleRate()), m.MaxSecs)
		}
	}
	if len(wavs) == 0 {
		return nil, nil
	}
	a := m.getArena()
	defer m.putArena(a)
	a.Reset()
	o, err := m.Forward(ctx, a, wavs, Options{})
	if err != nil {
		return nil, err
	}
	n := m.Outputs()
	res := make([][]float32, len(wavs))
	tmax := o.X.Dim(1)
	for i, t := range o.Frames {
		res[i] = append([]float32(nil), o.X.Data[i*tmax*n:(i*tmax+t)*n]...)
	}
	return res, nil
}

// getArena takes a free arena or makes one. A plain free list rather than a sync.Pool:
// a pass's arena is tens of megabytes, which a pool would drop at every other GC cycle
// and the next call would allocate and fault in again.
func (m *Model) getArena() *nn.Arena {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n := len(m.free); n > 0 {
		a := m.free[n-1]
		m.free = m.free[:n-1]
		return a
	}
	return nn.NewArena(0)
}

func (m *Model) putArena(a *nn.Arena) {
	m.mu.Lock()
	m.free = append(m.free, a)
	m.mu.Unlock()
}
