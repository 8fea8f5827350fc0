package bert

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/plexusml/plexus/core/nn"
	"github.com/plexusml/plexus/nlp/tokenize"
)

// Encoder runs texts through a model with its WordPiece tokenizer, in batches bucketed
// by length: texts are sorted by token count and cut into batches of at most MaxBatch,
// so each batch pads only to its own longest text.
type Encoder struct {
	Model    *Model
	Tok      *tokenize.WordPiece
	MaxLen   int // tokens per text, [CLS] and [SEP] included; longer texts are cut
	MaxBatch int
}

// Encoded is one text's result; the slices are the text's own (not padded).
type Encoded struct {
	Tokens    int       // [CLS] and [SEP] included
	Truncated bool      // the text was cut to MaxLen tokens
	Hidden    []float32 // Tokens×Hidden last hidden states, when asked for
	Pooled    []float32 // pooler_output; nil without a pooler
	Mean      []float32 // mean of the last hidden states over the text's tokens
	Logits    []float32 // nil without a classifier
	Err       error     // this text's problem (invalid UTF-8); the others are unaffected
}

// LoadEncoder loads a model (Load) and the vocab.txt beside its weights (or vocab).
// Lower-casing follows do_lower_case from config.json or a tokenizer_config.json beside
// the weights, and is on when neither says.
func LoadEncoder(path, config, vocab string, opt Options) (*Encoder, error) {
	m, err := Load(path, config, opt)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	if vocab == "" {
		vocab = filepath.Join(dir, "vocab.txt")
	}
	lower := true
	if m.Config.DoLowerCase != nil {
		lower = *m.Config.DoLowerCase
	}
	if data, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json")); err == nil {
		var tc struct {
			DoLowerCase *bool `json:"do_lower_case"`
		}
		if json.Unmarshal(data, &tc) == nil && tc.DoLowerCase != nil {
			lower = *tc.DoLowerCase
		}
	}
	tok, err := tokenize.ReadVocab(vocab, lower)
	if err != nil {
		return nil, fmt.Errorf("bert: %w", err)
	}
	if tok.VocabSize() > m.word.Num {
		return nil, fmt.Errorf("bert: %s has %d tokens, the embedding %d", vocab, tok.VocabSize(), m.word.Num)
	}
	return &Encoder{Model: m, Tok: tok, MaxLen: m.MaxLen, MaxBatch: 16}, nil
}

// Encode runs texts and returns one Encoded per text, in order. hidden asks for each
// text's last hidden states too.
func (e *Encoder) Encode(ctx context.Context, texts []string, hidden bool) ([]Encoded, error) {
	out := make([]Encoded, len(texts))
	ids := make([][]int, len(texts))
	var order []int
	maxLen := min(e.MaxLen, e.Model.MaxLen)
	for i, t := range texts {
		ti, cut, err := e.Tok.EncodeForModel(t, maxLen)
		if err != nil {
			out[i].Err = fmt.Errorf("text %d: %w", i, err)
			continue
		}
		ids[i] = ti
		out[i].Tokens, out[i].Truncated = len(ti), cut
		order = append(order, i)
	}
	// Longest first, ties in input order: stable buckets whatever the batch holds.
	slices.SortStableFunc(order, func(a, b int) int { return len(ids[b]) - len(ids[a]) })
	mb := max(e.MaxBatch, 1)
	a := nn.NewArena(0)
	D := e.Model.Hidden
	pad := int64(max(e.Tok.PAD, 0))
	for s := 0; s < len(order); s += mb {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		group := order[s:min(s+mb, len(order))]
		L := len(ids[group[0]])
		in := Batch{Batch: len(group), Len: L, IDs: make([]int64, len(group)*L), Mask: make([]bool, len(group)*L)}
		for b, i := range group {
			for t := 0; t < L; t++ {
				in.IDs[b*L+t] = pad
				if t < len(ids[i]) {
					in.IDs[b*L+t] = int64(ids[i][t])
					in.Mask[b*L+t] = true
				}
			}
		}
		a.Reset()
		res, err := e.Model.Forward(a, in)
		if err != nil {
			return nil, err
		}
		for b, i := range group {
			o := &out[i]
			o.Mean = slices.Clone(res.Mean.Data[b*D : (b+1)*D])
			if res.Pooled.Len() > 0 {
				o.Pooled = slices.Clone(res.Pooled.Data[b*D : (b+1)*D])
			}
			if res.Logits.Len() > 0 {
				k := res.Logits.Dim(1)
				o.Logits = slices.Clone(res.Logits.Data[b*k : (b+1)*k])
			}
			if hidden {
				o.Hidden = slices.Clone(res.LastHidden.Data[b*L*D : (b*L+len(ids[i]))*D])
			}
		}
	}
	return out, nil
}
