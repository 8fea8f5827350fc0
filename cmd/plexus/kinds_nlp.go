package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/plexusml/plexus/core/nn"
	"github.com/plexusml/plexus/core/tensor"
	"github.com/plexusml/plexus/nlp/bert"
	"github.com/plexusml/plexus/nlp/lstm"
	lstmtrain "github.com/plexusml/plexus/nlp/lstm/train"
)

// The text models' kinds: training of the LSTM language model, and predict for it and
// for BERT.
func init() {
	registerTrainKind(lstmtrain.Kind, func(ctx context.Context, file string, data []byte, log io.Writer) error {
		cfg, err := lstmtrain.ParseConfig(file, data)
		if err != nil {
			return err
		}
		_, err = lstmtrain.Run(ctx, cfg, log)
		return err
	})
	registerPredictModels(predictFamily{
		accepts: func(m string) bool { return m == "lstm" || m == lstm.Architecture },
		names:   []string{"lstm", lstm.Architecture},
		open: func(_, w, c string) (predictor, error) {
			m, err := lstm.Load(w, c)
			if err != nil {
				return nil, err
			}
			return &lstmPredictor{m: m}, nil
		},
	})
	registerPredictModels(predictFamily{
		accepts: func(m string) bool { return m == "bert" },
		names:   []string{"bert"},
		open: func(_, w, c string) (predictor, error) {
			e, err := bert.LoadEncoder(w, c, "", bert.Options{Notice: func(s string) { fmt.Fprintln(stderrOf(), "plexus:", s) }})
			if err != nil {
				return nil, err
			}
			return &bertPredictor{e: e}, nil
		},
	})
}

func stderrOf() io.Writer { return rootCmd.ErrOrStderr() }

// lstmPredictor continues each text file (sampled at temperature 0.8, seeded by the
// file name, cut at the end of a fortune) and, with --raw, returns the logits of the
// text's tokens. A .npy of int64 ids (N×T) is fed as it is.
type lstmPredictor struct{ m *lstm.Model }

func (p *lstmPredictor) Close() error { return nil }

func (p *lstmPredictor) Predict(ctx context.Context, in []predictInput, _ predictOptions) (*predictResult, error) {
	res := &predictResult{Raw: map[string]rawOutput{}}
	V := p.m.FC.Out
	var logits []float32
	var shape []int
	for _, f := range in {
		var ids []int64
		b, t := 1, 0
		if f.Tensors != nil {
			if len(f.Tensors) != 1 {
				res.Items = append(res.Items, predictItem{Input: f.Path, Err: fmt.Errorf("%d tensors; the model takes token ids", len(f.Tensors))})
				continue
			}
			for _, x := range f.Tensors {
				if x.DType() != tensor.Int64 || x.Rank() != 2 {
					res.Items = append(res.Items, predictItem{Input: f.Path, Err: fmt.Errorf("tensor %v %v: want int64 N×T token ids", x.DType(), x.Shape())})
					break
				}
				ids, b, t = x.Contiguous().Int64s(), x.Dim(0), x.Dim(1)
			}
			if ids == nil {
				continue
			}
		} else {
			if p.m.Tokenizer == nil {
				res.Items = append(res.Items, predictItem{Input: f.Path, Err: fmt.Errorf("the model's config names no tokenizer")})
				continue
			}
			text := strings.TrimRight(string(f.Data), "\n")
			gen, err := p.m.Generate(ctx, []string{text}, []uint64{seedOf(f.Path)},
				lstm.GenerateOptions{MaxTokens: 300, Temperature: 0.8, Stop: []string{"\n%\n"}})
			if err != nil {
				res.Items = append(res.Items, predictItem{Input: f.Path, Err: err})
				continue
			}
			res.Items = append(res.Items, predictItem{Input: f.Path, Text: text + gen[0].Text})
			tok, _ := p.m.Tokenizer.Encode(text)
			for _, id := range tok {
				ids = append(ids, int64(id))
			}
			t = len(ids)
			if t == 0 {
				continue
			}
		}
		out, err := p.m.Forward(nil, ids, b, t, nil)
		if err != nil {
			res.Items = append(res.Items, predictItem{Input: f.Path, Err: err})
			continue
		}
		if f.Tensors != nil {
			res.Items = append(res.Items, predictItem{Input: f.Path, Text: fmt.Sprintf("logits %d×%d×%d", b, t, V)})
		}
		if shape != nil && shape[1] != t {
			continue // --raw holds one tensor: inputs of other lengths are not added
		}
		logits = append(logits, out.Data...)
		if shape == nil {
			shape = []int{0, t, V}
		}
		shape[0] += b
	}
	if shape != nil {
		res.Raw["logits"] = rawOutput{Shape: shape, Data: logits}
	}
	return res, nil
}

func seedOf(s string) uint64 {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return h
}

// bertPredictor encodes each text file (one text per file) in one padded batch;
// --raw gives last_hidden_state, pooler_output, the mean-pooled embedding and, with a
// classifier, logits. Tensor inputs are input_ids=FILE.npy (N×L int64), optionally
// with attention_mask= and token_type_ids=.
type bertPredictor struct{ e *bert.Encoder }

func (p *bertPredictor) Close() error { return nil }

func (p *bertPredictor) Predict(ctx context.Context, in []predictInput, opt predictOptions) (*predictResult, error) {
	res := &predictResult{Raw: map[string]rawOutput{}}
	var batch bert.Batch
	var names []string
	tensors := map[string]*tensor.Tensor{}
	var texts [][]int
	for _, f := range in {
		if f.Tensors != nil {
			for k, v := range f.Tensors {
				if k == "" {
					k = "input_ids"
				}
				tensors[k] = v
			}
			continue
		}
		ids, _, err := p.e.Tok.EncodeForModel(string(f.Data), p.e.MaxLen)
		if err != nil {
			res.Items = append(res.Items, predictItem{Input: f.Path, Err: err})
			continue
		}
		texts = append(texts, ids)
		names = append(names, f.Path)
	}
	switch {
	case len(tensors) > 0 && len(texts) > 0:
		return nil, fmt.Errorf("give text files or input_ids tensors, not both")
	case len(tensors) > 0:
		ids, ok := tensors["input_ids"]
		if !ok || ids.DType() != tensor.Int64 || ids.Rank() != 2 {
			return nil, fmt.Errorf("input_ids: want an int64 N×L tensor")
		}
		batch = bert.Batch{Batch: ids.Dim(0), Len: ids.Dim(1), IDs: ids.Contiguous().Int64s()}
		if m, ok := tensors["attention_mask"]; ok {
			mv := m.ToFloat32().Contiguous().Float32s()
			batch.Mask = make([]bool, len(mv))
			for i, v := range mv {
				batch.Mask[i] = v != 0
			}
		}
		if tt, ok := tensors["token_type_ids"]; ok {
			if tt.DType() != tensor.Int64 {
				return nil, fmt.Errorf("token_type_ids: want int64")
			}
			batch.Types = tt.Contiguous().Int64s()
		}
		for i := 0; i < batch.Batch; i++ {
			names = append(names, fmt.Sprintf("input_ids[%d]", i))
		}
	case len(texts) > 0:
		L := 0
		for _, t := range texts {
			L = max(L, len(t))
		}
		batch = bert.Batch{Batch: len(texts), Len: L, IDs: make([]int64, len(texts)*L), Mask: make([]bool, len(texts)*L)}
		for b, t := range texts {
			for j := 0; j < L; j++ {
				batch.IDs[b*L+j] = int64(max(p.e.Tok.PAD, 0))
				if j < len(t) {
					batch.IDs[b*L+j], batch.Mask[b*L+j] = int64(t[j]), true
				}
			}
		}
	default:
		return res, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out, err := p.e.Model.Forward(nn.NewArena(0), batch)
	if err != nil {
		return nil, err
	}
	raw := func(name string, a nn.Act) {
		if a.Len() > 0 {
			res.Raw[name] = rawOutput{Shape: a.Shape(), Data: a.Data}
		}
	}
	raw("last_hidden_state", out.LastHidden)
	raw("pooler_output", out.Pooled)
	raw("sentence_embedding", out.Mean)
	raw("logits", out.Logits)
	D := p.e.Model.Hidden
	for b, name := range names {
		it := predictItem{Input: name}
		if out.Logits.Len() > 0 {
			k := out.Logits.Dim(1)
			z := out.Logits.Data[b*k : (b+1)*k]
			it.Top = softmaxTop(z, p.e.Model.Labels, opt.TopK)
		} else {
			e := out.Mean.Data[b*D : (b+1)*D]
			var n float64
			for _, v := range e {
				n += float64(v) * float64(v)
			}
			it.Text = fmt.Sprintf("sentence embedding of %d values, norm %.4f (use --raw for the values)", D, math.Sqrt(n))
		}
		res.Items = append(res.Items, it)
	}
	return res, nil
}

func softmaxTop(z []float32, labels []string, k int) []scoredLabel {
	mx := math.Inf(-1)
	for _, v := range z {
		mx = math.Max(mx, float64(v))
	}
	p := make([]float64, len(z))
	var s float64
	for i, v := range z {
		p[i] = math.Exp(float64(v) - mx)
		s += p[i]
	}
	used := make([]bool, len(z))
	var out []scoredLabel
	for len(out) < min(max(k, 1), len(z)) {
		best := -1
		for i := range p {
			if !used[i] && (best < 0 || p[i] > p[best]) {
				best = i
			}
		}
		used[best] = true
		l := fmt.Sprintf("LABEL_%d", best)
		if best < len(labels) {
			l = labels[best]
		}
		out = append(out, scoredLabel{Label: l, Index: best, Score: p[best] / s})
	}
	return out
}
