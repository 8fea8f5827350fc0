package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/plexusml/plexus/core/bench"
	"github.com/plexusml/plexus/core/nn"
	"github.com/plexusml/plexus/core/nn/weights"
	"github.com/plexusml/plexus/core/tensor"
	"github.com/plexusml/plexus/nlp/bert"
	"github.com/plexusml/plexus/nlp/lstm"
	lstmtrain "github.com/plexusml/plexus/nlp/lstm/train"
	"github.com/plexusml/plexus/nlp/tokenize"
	benchpy "github.com/plexusml/plexus/tools/bench"
)

// The benchmarked models, the same in tools/bench/nlp.py: a byte-level LSTM language
// model (embedding 256, two layers of 512) and BERT-base.
const (
	lmVocab, lmEmb, lmHidden, lmLayers = 256, 256, 512, 2
)

// uniformStore fills shapes with uniform(±scale) weights (LayerNorm weights near 1),
// PyTorch's default LSTM/Linear initialisation scale, so activations stay in range.
func uniformStore(shapes map[string][]int, scale float64, seed uint64) weights.Store {
	rng := rand.New(rand.NewPCG(seed, 7))
	m := make(map[string]*tensor.Tensor, len(shapes))
	for name, s := range shapes {
		n := 1
		for _, d := range s {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32((rng.Float64()*2 - 1) * scale)
			if len(s) == 1 && hasSuffix(name, "LayerNorm.weight") {
				v[i] += 1
			}
		}
		m[name] = tensor.FromFloat32(v, s...)
	}
	return weights.NewMapStore("", m)
}

func lmShapes() map[string][]int {
	s := map[string][]int{"embedding.weight": {lmVocab, lmEmb}, "fc.weight": {lmVocab, lmHidden}, "fc.bias": {lmVocab}}
	for l := 0; l < lmLayers; l++ {
		in := lmEmb
		if l > 0 {
			in = lmHidden
		}
		s[fmt.Sprintf("lstm.weight_ih_l%d", l)] = []int{4 * lmHidden, in}
		s[fmt.Sprintf("lstm.weight_hh_l%d", l)] = []int{4 * lmHidden, lmHidden}
		s[fmt.Sprintf("lstm.bias_ih_l%d", l)] = []int{4 * lmHidden}
		s[fmt.Sprintf("lstm.bias_hh_l%d", l)] = []int{4 * lmHidden}
	}
	return s
}

func bertBaseShapes(c *bert.Config) map[string][]int {
	d, f := c.HiddenSize, c.IntermediateSize
	s := map[string][]int{
		"embeddings.word_embeddings.weight": {c.VocabSize, d}, "embeddings.position_embeddings.weight": {c.MaxPositionEmbeddings, d},
		"embeddings.token_type_embeddings.weight": {c.TypeVocabSize, d},
		"embeddings.LayerNorm.weight":             {d}, "embeddings.LayerNorm.bias": {d},
		"pooler.dense.weight": {d, d}, "pooler.dense.bias": {d},
	}
	for i := 0; i < c.NumHiddenLayers; i++ {
		p := fmt.Sprintf("encoder.layer.%d.", i)
		for _, l := range []string{"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"} {
			s[p+l+".weight"], s[p+l+".bias"] = []int{d, d}, []int{d}
		}
		s[p+"intermediate.dense.weight"], s[p+"intermediate.dense.bias"] = []int{f, d}, []int{f}
		s[p+"output.dense.weight"], s[p+"output.dense.bias"] = []int{d, f}, []int{d}
		for _, l := range []string{"attention.output.LayerNorm", "output.LayerNorm"} {
			s[p+l+".weight"], s[p+l+".bias"] = []int{d}, []int{d}
		}
	}
	return s
}

func benchNLP(ctx context.Context, o bench.Options) ([]bench.Row, error) {
	py, err := bench.PyTorch(ctx, o, benchpy.Script("nlp"))
	if err != nil && !errors.Is(err, bench.ErrNoPyTorch) {
		return nil, err
	}
	ref := func(k string) float64 {
		if v, ok := py[k]; ok {
			return v
		}
		return math.NaN()
	}
	var rows []bench.Row

	// Generation at batch 1: one token per step, sampled at temperature 0.8.
	lm, err := lstm.New(weights.NewBinder(uniformStore(lmShapes(), 1/math.Sqrt(lmHidden), 1)), nil)
	if err != nil {
		return nil, err
	}
	lm.Tokenizer = tokenize.Byte{}
	n := 200
	if o.Quick {
		n = 64
	}
	opts := lstm.GenerateOptions{MaxTokens: n, Temperature: 0.8}
	var genErr error
	d := bench.Median(o, func() {
		if _, err := lm.Generate(ctx, []string{"A"}, []uint64{1}, opts); err != nil {
			genErr = err
		}
	})
	if genErr != nil {
		return nil, genErr
	}
	rows = append(rows, bench.Row{Bench: "nlp", Config: "lstm generate b1", Plexus: float64(n) / d.Seconds(),
		PyTorch: ref("lstm generate b1"), Unit: "tokens/s"})

	// Training: the gorgonia graph of `plexus train` (kind nlp.lstm), 32 sequences × 128.
	st, err := lstmtrain.NewStepper(lmVocab, lmEmb, lmHidden, lmLayers, 32, 128, 0)
	if err != nil {
		return nil, err
	}
	var stepErr error
	to := o
	// A step takes seconds: one warm-up (the first run also allocates every buffer)
	// and at most three timed runs.
	to.Warmup, to.Runs = 1, 3
	if o.Quick {
		to.Runs = 1
	}
	if o.Runs > 0 {
		to.Runs = min(o.Runs, 3)
	}
	d = bench.Median(to, func() {
		if _, err := st.Step(); err != nil {
			stepErr = err
		}
	})
	if stepErr != nil {
		return nil, stepErr
	}
	rows = append(rows, bench.Row{Bench: "nlp", Config: "lstm train 32x128", Plexus: float64(st.Tokens()) / d.Seconds(),
		PyTorch: ref("lstm train 32x128"), Unit: "tokens/s"})

	// BERT-base inference, batch 8 of 128 tokens.
	bc := &bert.Config{VocabSize: 30522, HiddenSize: 768, NumHiddenLayers: 12, NumAttentionHeads: 12, IntermediateSize: 3072,
		HiddenAct: "gelu", MaxPositionEmbeddings: 512, TypeVocabSize: 2, LayerNormEps: 1e-12}
	bm, err := bert.New(uniformStore(bertBaseShapes(bc), 0.02*math.Sqrt(3), 2), bc, bert.Options{})
	if err != nil {
		return nil, err
	}
	const bb, bl = 8, 128
	rng := rand.New(rand.NewPCG(3, 3))
	in := bert.Batch{Batch: bb, Len: bl, IDs: make([]int64, bb*bl)}
	for i := range in.IDs {
		in.IDs[i] = int64(rng.IntN(bc.VocabSize))
	}
	a := nn.NewArena(0)
	var fwdErr error
	d = bench.Median(o, func() {
		a.Reset()
		if _, err := bm.Forward(a, in); err != nil {
			fwdErr = err
		}
	})
	if fwdErr != nil {
		return nil, fwdErr
	}
	rows = append(rows, bench.Row{Bench: "nlp", Config: "bert-base b8 len128", Plexus: bb / d.Seconds(),
		PyTorch: ref("bert-base b8 len128"), Unit: "sequences/s"})
	return rows, nil
}

func init() {
	bench.Register(bench.Suite{Name: "nlp", Doc: "LSTM language model generation and training, BERT-base inference (random weights)", Run: benchNLP})
}
