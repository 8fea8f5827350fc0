package nn

import (
	"fmt"

	"github.com/plexusml/plexus/core/nn/weights"
)

// TransformerNames are the parameter names of one Transformer encoder layer's parts,
// relative to the layer's prefix, so that every model family keeps the names its
// PyTorch reference gives them. Attention is either one torch.nn.MultiheadAttention
// (Attention, with in_proj_weight and out_proj) or four Linear modules (Query, Key,
// Value, Out); Attention wins when set.
type TransformerNames struct {
	Attention              string
	Query, Key, Value, Out string
	// AttnNorm is the LayerNorm around the attention block (before it when pre-norm,
	// after the residual when post-norm); FFNorm the one around the feed-forward block.
	AttnNorm, FFNorm string
	// FF1 and FF2 are the feed-forward's Linear modules: Embed→Inner, then Inner→Embed.
	FF1, FF2 string
}

// TorchEncoderLayerNames are torch.nn.TransformerEncoderLayer's names.
var TorchEncoderLayerNames = TransformerNames{
	Attention: "self_attn", AttnNorm: "norm1", FF1: "linear1", FF2: "linear2", FFNorm: "norm2",
}

// TransformerConfig holds what a TransformerLayer cannot read from its weights.
type TransformerConfig struct {
	Heads int
	// PreNorm normalises before each block and adds the residual after it
	// (norm_first=True, wav2vec2 large's layer_norm_first); otherwise each block's
	// residual sum is normalised (BERT, wav2vec2 base, PyTorch's default).
	PreNorm bool
	// Activation follows FF1 (GELU or ReLU). NewTransformerLayer panics on Identity,
	// the zero value, since no encoder runs without one and a forgotten field would
	// otherwise give plausible wrong outputs.
	Activation Activation
	// Eps is both LayerNorms' eps; zero means 1e-5 (BERT uses 1e-12).
	Eps float32
}

// TransformerLayer is one Transformer encoder layer for inference on Batch×Length×Embed
// activations: self-attention and a two-layer feed-forward, each with a residual and a
// LayerNorm placed before (PreNorm) or after the sum. Post-norm computes
//
//	x = AttnNorm(x + Attention(x));  x = FFNorm(x + FF2(act(FF1(x))))
//
// and pre-norm
//
//	x = x + Attention(AttnNorm(x));  x = x + FF2(act(FF1(FFNorm(x))))
//
// which is torch.nn.TransformerEncoderLayer (norm_first false and true), Hugging Face's
// BertLayer and torchaudio's wav2vec2 EncoderLayer (layer_norm_first false and true),
// all without dropout. Like every layer it is read-only after construction.
type TransformerLayer struct {
	Name             string
	Attn             *MultiHeadAttention
	AttnNorm, FFNorm *LayerNorm
	FF1, FF2         *Linear
	PreNorm          bool
}

// NewTransformerLayer binds the layer at prefix (joined with each of names' parts by a
// dot; an empty prefix binds the names as they are).
func NewTransformerLayer(b *weights.Binder, prefix string, names TransformerNames, cfg TransformerConfig) *TransformerLayer {
	l := &TransformerLayer{Name: prefix, PreNorm: cfg.PreNorm}
	acfg := AttentionConfig{Heads: cfg.Heads, BatchFirst: true}
	if names.Attention != "" {
		l.Attn = NewMultiheadAttention(b, join(prefix, names.Attention), acfg)
	} else {
		l.Attn = NewAttentionQKV(b, join(prefix, names.Query), join(prefix, names.Key), join(prefix, names.Value),
			join(prefix, names.Out), acfg)
	}
	if cfg.Activation == Identity {
		// A bug in the calling model, not a file problem (the Binder records those).
		panic(fmt.Sprintf("nn: transformer layer %s: no feed-forward activation (want GELU or ReLU)", prefix))
	}
	l.AttnNorm = NewLayerNorm(b, join(prefix, names.AttnNorm), cfg.Eps)
	l.FF1 = NewLinear(b, join(prefix, names.FF1), LinearConfig{Activation: cfg.Activation})
	l.FF2 = NewLinear(b, join(prefix, names.FF2), LinearConfig{})
	l.FFNorm = NewLayerNorm(b, join(prefix, names.FFNorm), cfg.Eps)
	if e := l.Attn.Embed; e != 0 && l.FF1.Weight != nil && l.FF2.Weight != nil {
		// The feed-forward must map Embed → Inner → Embed; record a mismatch as a shape
		// problem of the offending weight so it reaches the user with the others.
		if l.FF1.In != e {
			b.Float32(join(l.FF1.Name, "weight"), l.FF1.Out, e)
		}
		if l.FF2.In != l.FF1.Out || l.FF2.Out != e {
			b.Float32(join(l.FF2.Name, "weight"), e, l.FF1.Out)
		}
	}
	return l
}

// Embed is the layer's width.
func (l *TransformerLayer) Embed() int { return l.Attn.Embed }

// Forward runs the layer on x (Batch×Length×Embed) and returns a new activation of the
// same shape from the arena; x is not modified. mask.KeyPadding (Batch×Length) excludes
// padded keys; padded query positions are computed like the others and are the caller's
// to ignore.
func (l *TransformerLayer) Forward(a *Arena, x Act, mask AttentionMask) Act {
	checkRank(l.Name, x, 3)
	checkDim(l.Name, x, 2, l.Attn.Embed, "features")
	y := x
	y.Data = a.Floats(x.Len())
	mk := a.Mark()
	if l.PreNorm {
		n := l.AttnNorm.Forward(a, x)
		att := l.Attn.SelfForward(a, n, mask)
		addInto(y.Data, x.Data, att.Data)
		a.Release(mk)
		l.feedForward(a, y, l.FFNorm.Forward(a, y).Data)
		a.Release(mk)
		return y
	}
	att := l.Attn.SelfForward(a, x, mask)
	addInto(y.Data, x.Data, att.Data)
	a.Release(mk)
	l.AttnNorm.ForwardInto(y.Data, y.Data)
	l.feedForward(a, y, y.Data)
	l.FFNorm.ForwardInto(y.Data, y.Data)
	a.Release(mk)
	return y
}

// feedForward adds FF2(act(FF1(in))) to y in place; its temporaries come from the arena
// and are the caller's to release.
func (l *TransformerLayer) feedForward(a *Arena, y Act, in []float32) {
	rows := y.Len() / l.Attn.Embed
	h := a.Floats(rows * l.FF1.Out)
	l.FF1.ForwardInto(in, h)
	f := a.Floats(rows * l.FF2.Out)
	l.FF2.ForwardInto(h, f)
	for i, v := range f {
		y.Data[i] += v
	}
}

// addInto writes x + y into dst (which may alias either).
func addInto(dst, x, y []float32) {
	dst = dst[:len(x)]
	y = y[:len(x)]
	for i, v := range x {
		dst[i] = v + y[i]
	}
}

// KeyPaddingFromLengths fills dst (Batch×maxLen, allocated when too short) with the key
// padding mask of sequences of the given lengths: true at positions ≥ the length.
func KeyPaddingFromLengths(dst []bool, lengths []int, maxLen int) []bool {
	n := len(lengths) * maxLen
	if cap(dst) < n {
		dst = make([]bool, n)
	}
	dst = dst[:n]
	for b, l := range lengths {
		for t := 0; t < maxLen; t++ {
			dst[b*maxLen+t] = t >= l
		}
	}
	return dst
}
