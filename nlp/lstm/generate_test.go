package lstm

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/plexusml/plexus/nlp/tokenize"
)

// alphabet has 36 characters: with Unknown, the 37 ids of the golden model.
const alphabet = "abcdefghijklmnopqrstuvwxyz .,!?%\n'-:"

func textModel(t *testing.T) *Model {
	t.Helper()
	m := loadGPT3(t)
	tok, err := tokenize.NewChar(alphabet)
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != 37 {
		t.Fatalf("alphabet gives %d ids", tok.VocabSize())
	}
	m.Tokenizer = tok
	m.Config.StartText = "%\n"
	return m
}

func TestGenerateGreedyFollowsArgmax(t *testing.T) {
	m := textModel(t)
	gen, err := m.Generate(context.Background(), []string{"the cat"}, []uint64{1}, GenerateOptions{MaxTokens: 12})
	if err != nil {
		t.Fatal(err)
	}
	g := gen[0]
	if len(g.Tokens) != 12 || g.Reason != "length" {
		t.Fatalf("%d tokens, reason %q", len(g.Tokens), g.Reason)
	}
	// Recompute step by step from scratch: each greedy token is the argmax of the
	// logits of the prompt plus what came before it.
	ids, _ := m.Tokenizer.Encode("the cat")
	for _, want := range g.Tokens {
		x := make([]int64, len(ids))
		for i, id := range ids {
			x[i] = int64(id)
		}
		logits, err := m.Forward(nil, x, 1, len(x), nil)
		if err != nil {
			t.Fatal(err)
		}
		z := logits.Data[(len(x)-1)*37:]
		best := 0
		for j, v := range z {
			if v > z[best] {
				best = j
			}
		}
		if best != want {
			t.Fatalf("after %v: generated %d, argmax %d", ids, want, best)
		}
		ids = append(ids, best)
	}
	if k1, _ := m.Generate(context.Background(), []string{"the cat"}, []uint64{9},
		GenerateOptions{MaxTokens: 12, Temperature: 1, TopK: 1}); k1[0].Text != g.Text {
		t.Errorf("top_k 1 gave %q, greedy %q", k1[0].Text, g.Text)
	}
}

func TestGenerateSeededPerItem(t *testing.T) {
	m := textModel(t)
	o := GenerateOptions{MaxTokens: 30, Temperature: 1.2, TopK: 20, TopP: 0.95, RepetitionPenalty: 1.3}
	ctx := context.Background()
	batch, err := m.Generate(ctx, []string{"hello", "", "a longer prompt, here"}, []uint64{5, 6, 7}, o)
	if err != nil {
		t.Fatal(err)
	}
	again, err := m.Generate(ctx, []string{"hello", "", "a longer prompt, here"}, []uint64{5, 6, 7}, o)
	if err != nil {
		t.Fatal(err)
	}
	alone, err := m.Generate(ctx, []string{"a longer prompt, here"}, []uint64{7}, o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range batch {
		if batch[i].Text != again[i].Text {
			t.Errorf("item %d: %q then %q with the same seed", i, batch[i].Text, again[i].Text)
		}
	}
	if alone[0].Text != batch[2].Text {
		t.Errorf("item alone %q, in a batch %q: neighbours changed it", alone[0].Text, batch[2].Text)
	}
	other, _ := m.Generate(ctx, []string{"hello"}, []uint64{99}, o)
	if other[0].Text == batch[0].Text {
		t.Errorf("seeds 5 and 99 gave the same %q", other[0].Text)
	}
}

func TestGenerateStop(t *testing.T) {
	m := textModel(t)
	o := GenerateOptions{MaxTokens: 200, Temperature: 1}
	free, err := m.Generate(context.Background(), []string{"x"}, []uint64{3}, o)
	if err != nil {
		t.Fatal(err)
	}
	// Stop at the second character the free run produced: the output is cut before it.
	stop := free[0].Text[1:2]
	o.Stop = []string{stop}
	got, err := m.Generate(context.Background(), []string{"x"}, []uint64{3}, o)
	if err != nil {
		t.Fatal(err)
	}
	want := free[0].Text[:strings.Index(free[0].Text, stop)]
	if got[0].Reason != "stop" || got[0].Text != want {
		t.Fatalf("stop %q: got %q (%s), want %q", stop, got[0].Text, got[0].Reason, want)
	}
}

func TestGenerateErrors(t *testing.T) {
	m := textModel(t)
	ctx := context.Background()
	if _, err := m.Generate(ctx, []string{"ok", "bad \xff"}, []uint64{1, 2}, GenerateOptions{}); err == nil ||
		!strings.Contains(err.Error(), "prompt 1") {
		t.Errorf("invalid UTF-8: %v", err)
	}
	for _, o := range []GenerateOptions{{TopP: 2}, {Temperature: -1}, {MaxTokens: -1}, {TopK: -3}} {
		if _, err := m.Generate(ctx, []string{"a"}, []uint64{1}, o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	if _, err := m.Generate(ctx, []string{"a"}, nil, GenerateOptions{}); err == nil {
		t.Error("missing seeds accepted")
	}
}

func TestScore(t *testing.T) {
	m := textModel(t)
	sc, err := m.Score("the end.")
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Tokens) != 8 {
		t.Fatalf("%d scored tokens, want 8 (start_text primes the first)", len(sc.Tokens))
	}
	// Each log-probability is the one the model gives after start_text and the prefix.
	ids, _ := m.Tokenizer.Encode("%\nthe end.")
	x := make([]int64, len(ids))
	for i, id := range ids {
		x[i] = int64(id)
	}
	logits, err := m.Forward(nil, x, 1, len(x), nil)
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for j, ts := range sc.Tokens {
		want := logSoftmaxAt(logits.Data[(j+1)*37:(j+2)*37], ids[j+2])
		if math.Abs(ts.LogProb-want) > 1e-9 || ts.LogProb > 0 {
			t.Fatalf("token %d: %g, want %g", j, ts.LogProb, want)
		}
		sum += want
	}
	if math.Abs(sc.Perplexity-math.Exp(-sum/8)) > 1e-9 {
		t.Errorf("perplexity %g, want %g", sc.Perplexity, math.Exp(-sum/8))
	}
	// StreamLoss over one stream is the exact total.
	loss, n, err := m.StreamLoss(ids, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(ids)-1 || math.Abs(-loss-(sum+logSoftmaxAt(logits.Data[:37], ids[1]))) > 1e-6 {
		t.Errorf("stream loss %g over %d tokens", loss, n)
	}
}
