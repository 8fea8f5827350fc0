package bert

import (
	"fmt"

	"github.com/plexusml/plexus/core/nn"
)

// Batch is a padded batch of token ids, row-major Batch×Len.
type Batch struct {
	Batch, Len int
	IDs        []int64
	Types      []int64 // token_type_ids; nil means all zeros
	Mask       []bool  // attention_mask: true for real tokens; nil means all real
}

// Output holds a batch's results, in arena memory.
type Output struct {
	LastHidden nn.Act // Batch×Len×Hidden (padded positions too, as Hugging Face computes them)
	Pooled     nn.Act // Batch×Hidden: tanh(dense(first token)); empty without a pooler
	Mean       nn.Act // Batch×Hidden: the mean of the real tokens' last hidden states
	Logits     nn.Act // Batch×Labels; empty without a classifier
}

// Forward runs the encoder. Ids outside the vocabulary, type ids outside
// type_vocab_size and sequences longer than max_position_embeddings are errors.
func (m *Model) Forward(a *nn.Arena, in Batch) (Output, error) {
	B, L, D := in.Batch, in.Len, m.Hidden
	if B < 1 || L < 1 || len(in.IDs) != B*L {
		return Output{}, fmt.Errorf("bert: %d ids for a batch of %d×%d", len(in.IDs), B, L)
	}
	if L > m.MaxLen {
		return Output{}, fmt.Errorf("bert: %d tokens, the model takes at most %d", L, m.MaxLen)
	}
	if in.Types != nil && len(in.Types) != B*L || in.Mask != nil && len(in.Mask) != B*L {
		return Output{}, fmt.Errorf("bert: token types or mask do not match %d×%d ids", B, L)
	}
	x, err := m.word.Forward(a, in.IDs, B, L)
	if err != nil {
		return Output{}, err
	}
	pos := m.pos.Weight
	types := m.types.Weight
	for b := 0; b < B; b++ {
		for t := 0; t < L; t++ {
			row := x.Data[(b*L+t)*D : (b*L+t+1)*D]
			p := pos[t*D : (t+1)*D]
			var ty int64
			if in.Types != nil {
				ty = in.Types[b*L+t]
				if ty < 0 || int(ty) >= m.types.Num {
					return Output{}, fmt.Errorf("bert: token type %d at %d,%d outside %d types", ty, b, t, m.types.Num)
				}
			}
			tt := types[int(ty)*D : int(ty+1)*D]
			for j := range row {
				row[j] += p[j] + tt[j]
			}
		}
	}
	m.embNorm.ForwardInto(x.Data, x.Data)
	var mask nn.AttentionMask
	if in.Mask != nil {
		pad := make([]bool, B*L)
		for i, real := range in.Mask {
			pad[i] = !real
		}
		mask.KeyPadding = pad
	}
	for _, l := range m.layers {
		x = l.Forward(a, x, mask)
	}
	out := Output{LastHidden: x}
	first := a.Act(B, D)
	for b := 0; b < B; b++ {
		copy(first.Data[b*D:(b+1)*D], x.Data[b*L*D:(b*L+1)*D])
	}
	if m.pooler != nil {
		out.Pooled = m.pooler.Forward(a, first)
		if m.classifier != nil {
			out.Logits = m.classifier.Forward(a, out.Pooled)
		}
	}
	out.Mean = a.Act(B, D)
	clear(out.Mean.Data)
	for b := 0; b < B; b++ {
		mean := out.Mean.Data[b*D : (b+1)*D]
		n := 0
		for t := 0; t < L; t++ {
			if in.Mask != nil && !in.Mask[b*L+t] {
				continue
			}
			n++
			for j, v := range x.Data[(b*L+t)*D : (b*L+t+1)*D] {
				mean[j] += v
			}
		}
		if n > 0 {
			for j := range mean {
				mean[j] /= float32(n)
			}
		}
	}
	return out, nil
}
