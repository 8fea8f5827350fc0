package lstm

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/plexusml/plexus/core/nn"
)

// GenerateOptions controls sampling. The zero value samples greedily until MaxTokens.
type GenerateOptions struct {
	MaxTokens int // tokens to generate; 0 means 100
	// Temperature divides the logits; 0 is greedy (argmax), which ignores TopK and TopP.
	Temperature float64
	TopK        int     // keep the k most likely tokens; 0 keeps all
	TopP        float64 // keep the smallest set whose probability reaches p; 0 or 1 keeps all
	// RepetitionPenalty > 1 makes tokens already in the prompt or output less likely,
	// as CTRL and Hugging Face do it (positive logits divided, negative multiplied).
	RepetitionPenalty float64
	// Stop ends an item's generation when its output contains one of these strings;
	// the output is cut before it.
	Stop []string
}

// Validate reports options out of range.
func (o GenerateOptions) Validate() error {
	switch {
	case o.MaxTokens < 0:
		return fmt.Errorf("max_tokens %d is negative", o.MaxTokens)
	case o.Temperature < 0 || math.IsNaN(o.Temperature):
		return fmt.Errorf("temperature %g is negative", o.Temperature)
	case o.TopK < 0:
		return fmt.Errorf("top_k %d is negative", o.TopK)
	case o.TopP < 0 || o.TopP > 1 || math.IsNaN(o.TopP):
		return fmt.Errorf("top_p %g outside [0, 1]", o.TopP)
	case o.RepetitionPenalty < 0 || math.IsNaN(o.RepetitionPenalty):
		return fmt.Errorf("repetition_penalty %g is negative", o.RepetitionPenalty)
	}
	return nil
}

// Generation is one item's output.
type Generation struct {
	Text   string // the generated text, without the prompt
	Tokens []int
	// Reason is why it ended: "stop" (a stop string), "length" (MaxTokens).
	Reason string
}

// Generate continues each prompt, all in one batch. Item i samples from its own
// generator seeded with seeds[i], so an item's output depends only on its prompt,
// seed and the options, never on its neighbours or the batch size. An empty prompt
// starts from the config's start_text. It needs the model's tokenizer.
func (m *Model) Generate(ctx context.Context, prompts []string, seeds []uint64, o GenerateOptions) ([]Generation, error) {
	if m.Tokenizer == nil {
		return nil, errors.New("lstm: the model's config names no tokenizer")
	}
	if len(seeds) != len(prompts) {
		return nil, fmt.Errorf("lstm: %d seeds for %d prompts", len(seeds), len(prompts))
	}
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("lstm: %w", err)
	}
	if o.MaxTokens == 0 {
		o.MaxTokens = 100
	}
	B := len(prompts)
	out := make([]Generation, B)
	if B == 0 {
		return out, nil
	}
	hist := make([][]int, B)
	for i, p := range prompts {
		ids, err := m.promptIDs(p)
		if err != nil {
			return nil, fmt.Errorf("prompt %d: %w", i, err)
		}
		hist[i] = ids
	}
	V, H, L := m.FC.Out, m.LSTM.Hidden, len(m.LSTM.Layers)
	st := m.NewState(B)
	last := make([]float32, B*V) // each item's logits for its next token
	a := nn.NewArena(0)
	one := m.NewState(1)
	for i, ids := range hist {
		// Prompts differ in length, so each is read alone; the batch then steps together.
		one.Reset()
		a.Reset()
		x := make([]int64, len(ids))
		for j, id := range ids {
			x[j] = int64(id)
		}
		logits, err := m.Forward(a, x, 1, len(ids), one)
		if err != nil {
			return nil, fmt.Errorf("prompt %d: %w", i, err)
		}
		copy(last[i*V:(i+1)*V], logits.Data[(len(ids)-1)*V:])
		for l := 0; l < L; l++ {
			copy(st.H[(l*B+i)*H:(l*B+i+1)*H], one.H[l*H:(l+1)*H])
			copy(st.C[(l*B+i)*H:(l*B+i+1)*H], one.C[l*H:(l+1)*H])
		}
	}
	rngs := make([]*rand.Rand, B)
	for i := range rngs {
		rngs[i] = rand.New(rand.NewPCG(seeds[i], 0x6c73746d))
	}
	m.decOnce.Do(func() { m.dec = newDecoder(m) })
	buf := m.dec.buffers(B)
	buf.load(st)
	s := newSampler(V)
	done := make([]bool, B)
	left := B
	x := make([]int64, B)
	for step := 0; step < o.MaxTokens && left > 0; step++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for i := range prompts {
			if done[i] {
				continue
			}
			id := s.sample(last[i*V:(i+1)*V], hist[i], o, rngs[i])
			hist[i] = append(hist[i], id)
			out[i].Tokens = append(out[i].Tokens, id)
			x[i] = int64(id)
			if len(o.Stop) > 0 {
				str, err := m.Tokenizer.Decode(out[i].Tokens)
				if err != nil {
					return nil, err
				}
				if cut, ok := cutStop(str, o.Stop); ok {
					out[i].Text, out[i].Reason = cut, "stop"
					done[i] = true
					left--
				}
			}
		}
		if left == 0 || step == o.MaxTokens-1 {
			break
		}
		if err := m.dec.step(buf, x); err != nil {
			return nil, err
		}
		copy(last, buf.logits[:B*V])
	}
	for i := range out {
		if out[i].Reason == "" {
			str, err := m.Tokenizer.Decode(out[i].Tokens)
			if err != nil {
				return nil, err
			}
			out[i].Text, out[i].Reason = str, "length"
		}
	}
	return out, nil
}

// promptIDs encodes a prompt, or the start text when it is empty.
func (m *Model) promptIDs(p string) ([]int, error) {
	if p == "" {
		p = m.Config.StartText
		if p == "" {
			return nil, errors.New("empty prompt and the config has no start_text")
		}
	}
	ids, err := m.Tokenizer.Encode(p)
	if err != nil {
		return nil, err
	}
	for j, id := range ids {
		if id >= m.Embedding.Num {
			return nil, fmt.Errorf("token %d at position %d outside the embedding of %d", id, j, m.Embedding.Num)
		}
	}
	return ids, nil
}

// cutStop returns s up to the first stop string it contains.
func cutStop(s string, stops []string) (string, bool) {
	at := -1
	for _, st := range stops {
		if st == "" {
			continue
		}
		if i := strings.Index(s, st); i >= 0 && (at < 0 || i < at) {
			at = i
		}
	}
	if at < 0 {
		return s, false
	}
	return s[:at], true
}

// sampler holds one batch's scratch for choosing tokens.
type sampler struct {
	z     []float64
	order []int
}

func newSampler(v int) *sampler {
	return &sampler{z: make([]float64, v), order: make([]int, v)}
}

// sample picks the next token from logits after the repetition penalty, temperature,
// top-k and top-p, drawing from rng.
func (s *sampler) sample(logits []float32, hist []int, o GenerateOptions, rng *rand.Rand) int {
	z := s.z
	for j, v := range logits {
		z[j] = float64(v)
	}
	if o.RepetitionPenalty > 0 && o.RepetitionPenalty != 1 {
		seen := map[int]bool{}
		for _, id := range hist {
			if id < 0 || id >= len(z) || seen[id] {
				continue
			}
			seen[id] = true
			if z[id] > 0 {
				z[id] /= o.RepetitionPenalty
			} else {
				z[id] *= o.RepetitionPenalty
			}
		}
	}
	if o.Temperature == 0 {
		best := 0
		for j, v := range z {
			if v > z[best] {
				best = j
			}
		}
		return best
	}
	for j := range z {
		z[j] /= o.Temperature
	}
	order := s.order
	for j := range order {
		order[j] = j
	}
	// Descending by logit, ties by id, so that the kept set is reproducible.
	slices.SortFunc(order, func(a, b int) int {
		switch {
		case z[a] > z[b]:
			return -1
		case z[a] < z[b]:
			return 1
		}
		return a - b
	})
	n := len(order)
	if o.TopK > 0 && o.TopK < n {
		n = o.TopK
	}
	mx := z[order[0]]
	var sum float64
	p := make([]float64, n)
	for j := 0; j < n; j++ {
		p[j] = math.Exp(z[order[j]] - mx)
		sum += p[j]
	}
	if o.TopP > 0 && o.TopP < 1 {
		var c float64
		for j := 0; j < n; j++ {
			c += p[j] / sum
			if c >= o.TopP {
				n = j + 1
				break
			}
		}
		sum = 0
		for j := 0; j < n; j++ {
			sum += p[j]
		}
	}
	r := rng.Float64() * sum
	for j := 0; j < n; j++ {
		r -= p[j]
		if r < 0 {
			return order[j]
		}
	}
	return order[n-1]
}

// TokenScore is one scored token.
type TokenScore struct {
	Token   int
	Text    string
	LogProb float64 // natural log of its probability given what precedes it
}

// Score is a text's log-likelihood under the model.
type Score struct {
	Tokens     []TokenScore
	LogProb    float64 // the sum
	Perplexity float64 // exp(−mean log-probability)
	BitsPerTok float64
}

// Score scores each token of text given the ones before it. With a start_text in the
// config, the text is read after it, so its first token is scored too; otherwise the
// first token is context only.
func (m *Model) Score(text string) (*Score, error) {
	if m.Tokenizer == nil {
		return nil, errors.New("lstm: the model's config names no tokenizer")
	}
	ctxIDs, err := m.Tokenizer.Encode(m.Config.StartText)
	if err != nil {
		return nil, fmt.Errorf("start_text: %w", err)
	}
	ids, err := m.Tokenizer.Encode(text)
	if err != nil {
		return nil, err
	}
	all := append(ctxIDs, ids...)
	if len(all) < 2 {
		return nil, fmt.Errorf("lstm: %d tokens: nothing to score", len(all))
	}
	x := make([]int64, len(all)-1)
	for j := range x {
		x[j] = int64(all[j])
		if all[j] >= m.Embedding.Num {
			return nil, fmt.Errorf("lstm: token %d outside the embedding of %d", all[j], m.Embedding.Num)
		}
	}
	logits, err := m.Forward(nil, x, 1, len(x), nil)
	if err != nil {
		return nil, err
	}
	V := m.FC.Out
	first := max(len(ctxIDs), 1)
	sc := &Score{}
	for j := first; j < len(all); j++ {
		lp := logSoftmaxAt(logits.Data[(j-1)*V:j*V], all[j])
		t, _ := m.Tokenizer.Decode(all[j : j+1])
		sc.Tokens = append(sc.Tokens, TokenScore{Token: all[j], Text: t, LogProb: lp})
		sc.LogProb += lp
	}
	mean := sc.LogProb / float64(len(sc.Tokens))
	sc.Perplexity = math.Exp(-mean)
	sc.BitsPerTok = -mean / math.Ln2
	return sc, nil
}
