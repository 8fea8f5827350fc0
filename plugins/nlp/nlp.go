package main

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"sync"
	"unicode/utf8"

	"github.com/plexusml/plexus/core/tensor"
	"github.com/plexusml/plexus/nlp/bert"
	"github.com/plexusml/plexus/nlp/lstm"
	"github.com/plexusml/plexus/plugins/sdk"
)

// Version is the plugin's version, reported in provenance.
const Version = "0.1.0"

// NLP is the plugin.
type NLP struct{}

// textIn is every task's input: the text field, or an item's raw payload as UTF-8.
var textIn = sdk.Contract{Modalities: []string{"text"}, Fields: []sdk.FieldSpec{
	{Name: "text", Kind: "string", Optional: true, Description: "the text; an item's payload bytes are read when absent"},
}}

// Describe publishes the two models, their tasks and config schemas.
func (NLP) Describe() sdk.Description {
	common := []sdk.ConfigField{
		{Name: "weights", Type: "string", Required: true, Description: "safetensors or .pth file"},
		{Name: "config", Type: "string", Description: "config.json; default: the one beside the weights"},
	}
	return sdk.Description{Name: "nlp", Version: Version, Models: []sdk.ModelInfo{
		{
			Name:        "lstm-lm",
			Description: "LSTM language model (PyTorch GPT3: embedding, lstm, fc) with its tokenizer from config.json",
			Tasks: []sdk.Task{
				{Name: "generate", Description: "continue the text; sampling is seeded per item from (seed, item id)", Input: textIn,
					Output: sdk.Contract{Fields: []sdk.FieldSpec{{Name: "text", Kind: "string"}, {Name: "tokens", Kind: "int"},
						{Name: "stop_reason", Kind: "string", Description: "stop or length"}}}},
				{Name: "score", Description: "per-token log-probabilities and perplexity", Input: textIn,
					Output: sdk.Contract{Fields: []sdk.FieldSpec{{Name: "logprob", Kind: "float"}, {Name: "perplexity", Kind: "float"},
						{Name: "bits_per_token", Kind: "float"}, {Name: "tokens", Kind: "int"}, {Name: "token_logprobs", Kind: "floats"}}}},
			},
			Config: append(slices.Clone(common),
				sdk.ConfigField{Name: "max_tokens", Type: "int", Default: int64(100), Description: "tokens generated at most"},
				sdk.ConfigField{Name: "temperature", Type: "float", Default: 0.8, Description: "0 is greedy"},
				sdk.ConfigField{Name: "top_k", Type: "int", Default: int64(0), Description: "keep the k likeliest tokens; 0 keeps all"},
				sdk.ConfigField{Name: "top_p", Type: "float", Default: 1.0, Description: "nucleus sampling threshold"},
				sdk.ConfigField{Name: "repetition_penalty", Type: "float", Default: 1.0, Description: "above 1 discourages repeated tokens"},
				sdk.ConfigField{Name: "stop", Type: "strings", Description: "stop strings; the output is cut before the first"},
				sdk.ConfigField{Name: "seed", Type: "int", Default: int64(0), Description: "run seed, mixed with each item's id"},
			),
			Resources: sdk.Resources{Devices: []string{"cpu"}, Memory: 256 << 20},
			MaxBatch:  64,
		},
		{
			Name:        "bert",
			Description: "BERT encoder (Hugging Face BertModel names and config.json; a classifier head when the weights have one)",
			Tasks: []sdk.Task{
				{Name: "embed", Description: "mean-pooled sentence embedding and the pooler output", Input: textIn,
					Output: sdk.Contract{Fields: []sdk.FieldSpec{
						{Name: "embedding", Kind: "tensor", DType: "float32", Shape: []string{"D"}},
						{Name: "pooler_output", Kind: "tensor", DType: "float32", Shape: []string{"D"}, Optional: true},
						{Name: "tokens", Kind: "int"}, {Name: "truncated", Kind: "bool"}}}},
				{Name: "classify", Description: "labels of the sequence-classification head", Input: textIn,
					Output: sdk.Contract{Fields: []sdk.FieldSpec{{Name: "label", Kind: "string"}, {Name: "score", Kind: "float"},
						{Name: "index", Kind: "int"}, {Name: "labels", Kind: "strings"}, {Name: "scores", Kind: "floats"}}}},
			},
			Config: append(slices.Clone(common),
				sdk.ConfigField{Name: "vocab", Type: "string", Description: "vocab.txt; default: the one beside the weights"},
				sdk.ConfigField{Name: "max_len", Type: "int", Default: int64(512), Description: "tokens per text, longer texts are cut"},
				sdk.ConfigField{Name: "top_k", Type: "int", Default: int64(5), Description: "labels returned by classify"},
			),
			Resources: sdk.Resources{Devices: []string{"cpu"}, Memory: 1 << 30},
			MaxBatch:  32,
		},
	}}
}

// Load opens the model's weights.
func (NLP) Load(_ context.Context, req sdk.LoadRequest) (sdk.Instance, error) {
	w, _ := req.Config["weights"].(string)
	cfg, _ := req.Config["config"].(string)
	switch req.Model {
	case "lstm-lm":
		m, err := lstm.Load(w, cfg)
		if err != nil {
			return nil, err
		}
		if m.Tokenizer == nil {
			return nil, fmt.Errorf("%s: the config names no tokenizer", w)
		}
		in := &lstmInstance{model: m}
		in.opts.MaxTokens = int(intOr(req.Config, "max_tokens", 100))
		in.opts.Temperature = floatOr(req.Config, "temperature", 0.8)
		in.opts.TopK = int(intOr(req.Config, "top_k", 0))
		in.opts.TopP = floatOr(req.Config, "top_p", 1)
		in.opts.RepetitionPenalty = floatOr(req.Config, "repetition_penalty", 1)
		if s, ok := req.Config["stop"].([]string); ok {
			in.opts.Stop = s
		}
		in.seed = uint64(intOr(req.Config, "seed", 0))
		if err := in.opts.Validate(); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		return in, nil
	case "bert":
		vocab, _ := req.Config["vocab"].(string)
		e, err := bert.LoadEncoder(w, cfg, vocab, bert.Options{Notice: func(s string) { sdk.Logger().Info(s) }})
		if err != nil {
			return nil, err
		}
		if n := intOr(req.Config, "max_len", 512); n > 2 {
			e.MaxLen = min(int(n), e.MaxLen)
		}
		e.MaxBatch = 16
		return &bertInstance{enc: e, topK: int(intOr(req.Config, "top_k", 5))}, nil
	}
	return nil, fmt.Errorf("model %q: the nlp plugin offers lstm-lm and bert", req.Model)
}

func intOr(c map[string]any, k string, def int64) int64 {
	if v, ok := c[k].(int64); ok {
		return v
	}
	return def
}

func floatOr(c map[string]any, k string, def float64) float64 {
	switch v := c[k].(type) {
	case float64:
		return v
	case int64:
		return float64(v)
	}
	return def
}

// text reads an item's text: the text field, or its payload bytes.
func text(it sdk.Item) (string, error) {
	var s string
	switch v := it.Fields["text"].(type) {
	case string:
		s = v
	case nil:
		b, ok := it.Fields["payload"].([]byte)
		if !ok {
			return "", errors.New("no text field")
		}
		s = string(b)
	default:
		return "", fmt.Errorf("text field is %T, want a string", v)
	}
	if !utf8.ValidString(s) {
		for i := 0; i < len(s); {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n <= 1 {
				return "", fmt.Errorf("text is not UTF-8 (byte %d)", i)
			}
			i += n
		}
	}
	return s, nil
}

// itemSeed mixes the run seed with the item's id, so an item samples the same text
// whatever batch it lands in and however often it is retried.
func itemSeed(seed uint64, id string) uint64 {
	h := fnv.New64a()
	var b [8]byte
	for i := range b {
		b[i] = byte(seed >> (8 * i))
	}
	h.Write(b[:])
	h.Write([]byte(id))
	return h.Sum64()
}

type lstmInstance struct {
	model *lstm.Model
	opts  lstm.GenerateOptions
	seed  uint64
}

func (m *lstmInstance) Process(ctx context.Context, task string, items []sdk.Item) []sdk.Result {
	out := make([]sdk.Result, len(items))
	if task != "generate" && task != "score" {
		for i := range out {
			out[i] = sdk.Fail(sdk.BadItem("task %q: lstm-lm offers generate and score", task))
		}
		return out
	}
	var prompts []string
	var seeds []uint64
	var ok []int
	for i, it := range items {
		s, err := text(it)
		if err == nil {
			_, err = m.model.Tokenizer.Encode(s)
		}
		if err != nil {
			out[i] = sdk.Fail(sdk.BadItem("%s: %v", it.ID, err))
			continue
		}
		if task == "score" {
			sc, err := m.model.Score(s)
			if err != nil {
				out[i] = sdk.Fail(sdk.BadItem("%s: %v", it.ID, err))
				continue
			}
			lps := make([]float64, len(sc.Tokens))
			for j, t := range sc.Tokens {
				lps[j] = t.LogProb
			}
			out[i] = sdk.OK(map[string]sdk.Value{"logprob": sc.LogProb, "perplexity": sc.Perplexity,
				"bits_per_token": sc.BitsPerTok, "tokens": int64(len(sc.Tokens)), "token_logprobs": lps})
			continue
		}
		prompts = append(prompts, s)
		seeds = append(seeds, itemSeed(m.seed, it.ID))
		ok = append(ok, i)
	}
	if len(ok) == 0 {
		return out
	}
	gens, err := m.model.Generate(ctx, prompts, seeds, m.opts)
	for j, i := range ok {
		if err != nil {
			out[i] = sdk.Fail(fmt.Errorf("%w: %v", sdk.ErrInternal, err))
			continue
		}
		g := gens[j]
		out[i] = sdk.OK(map[string]sdk.Value{"text": g.Text, "tokens": int64(len(g.Tokens)), "stop_reason": g.Reason})
	}
	return out
}

type bertInstance struct {
	enc  *bert.Encoder
	topK int
	mu   sync.Mutex // one batch at a time: the encoder's arena is per call, the CPU is shared
}

func (m *bertInstance) Process(ctx context.Context, task string, items []sdk.Item) []sdk.Result {
	out := make([]sdk.Result, len(items))
	if task != "embed" && task != "classify" {
		for i := range out {
			out[i] = sdk.Fail(sdk.BadItem("task %q: bert offers embed and classify", task))
		}
		return out
	}
	if task == "classify" && !m.enc.Model.HasClassifier() {
		for i := range out {
			out[i] = sdk.Fail(sdk.BadItem("task classify: the weights have no classifier (classifier.weight)"))
		}
		return out
	}
	var texts []string
	var ok []int
	for i, it := range items {
		s, err := text(it)
		if err != nil {
			out[i] = sdk.Fail(sdk.BadItem("%s: %v", it.ID, err))
			continue
		}
		texts = append(texts, s)
		ok = append(ok, i)
	}
	m.mu.Lock()
	res, err := m.enc.Encode(ctx, texts, false)
	m.mu.Unlock()
	for j, i := range ok {
		if err != nil {
			out[i] = sdk.Fail(fmt.Errorf("%w: %v", sdk.ErrInternal, err))
			continue
		}
		r := res[j]
		if r.Err != nil {
			out[i] = sdk.Fail(sdk.BadItem("%s: %v", items[i].ID, r.Err))
			continue
		}
		if task == "embed" {
			f := map[string]sdk.Value{"embedding": tensor.FromFloat32(r.Mean, len(r.Mean)),
				"tokens": int64(r.Tokens), "truncated": r.Truncated}
			if r.Pooled != nil {
				f["pooler_output"] = tensor.FromFloat32(r.Pooled, len(r.Pooled))
			}
			out[i] = sdk.OK(f)
			continue
		}
		out[i] = sdk.OK(classify(r.Logits, m.enc.Model.Labels, m.topK))
	}
	return out
}

// classify turns logits into the top k labels with softmax scores.
func classify(logits []float32, labels []string, k int) map[string]sdk.Value {
	p := make([]float64, len(logits))
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = math.Max(mx, float64(v))
	}
	var s float64
	for i, v := range logits {
		p[i] = math.Exp(float64(v) - mx)
		s += p[i]
	}
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
		p[i] /= s
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case p[a] > p[b]:
			return -1
		case p[a] < p[b]:
			return 1
		}
		return 0
	})
	k = min(max(k, 1), len(idx))
	names := make([]string, k)
	scores := make([]float64, k)
	for j, i := range idx[:k] {
		names[j] = fmt.Sprintf("LABEL_%d", i)
		if i < len(labels) {
			names[j] = labels[i]
		}
		scores[j] = p[i]
	}
	return map[string]sdk.Value{"label": names[0], "score": scores[0], "index": int64(idx[0]), "labels": names, "scores": scores}
}

var (
	_ sdk.Plugin   = NLP{}
	_ sdk.Instance = (*lstmInstance)(nil)
	_ sdk.Instance = (*bertInstance)(nil)
)
