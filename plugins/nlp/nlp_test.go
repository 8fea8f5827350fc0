package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plexusml/plexus/core/tensor"
	"github.com/plexusml/plexus/nlp/tokenize"
	"github.com/plexusml/plexus/plugins/sdk"
)

const alphabet = "abcdefghijklmnopqrstuvwxyz .,!?%\n'-:"

// lstmConfig writes a config.json for the golden GPT3 weights with a 37-id char
// tokenizer.
func lstmConfig(t *testing.T) string {
	tok, err := tokenize.NewChar(alphabet)
	if err != nil {
		t.Fatal(err)
	}
	c := map[string]any{"architecture": "lstm-lm", "vocab_size": 37, "hidden_size": 24, "output_size": 37,
		"num_layers": 2, "tokenizer": tok.Spec(), "start_text": "%\n"}
	data, _ := json.Marshal(c)
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func item(id, text string) sdk.Item {
	return sdk.Item{ID: id, Modality: "text", Fields: map[string]sdk.Value{"text": text}}
}

func TestLSTMPlugin(t *testing.T) {
	ctx := context.Background()
	inst, err := NLP{}.Load(ctx, sdk.LoadRequest{Model: "lstm-lm", Config: map[string]any{
		"weights": "../../nlp/lstm/testdata/gpt3.safetensors", "config": lstmConfig(t),
		"max_tokens": int64(20), "temperature": 0.9, "seed": int64(4)}})
	if err != nil {
		t.Fatal(err)
	}
	items := []sdk.Item{item("a", "the cat"), item("b", "bad \xff"), item("c", "")}
	res := inst.Process(ctx, "generate", items)
	if res[0].Err != nil || res[2].Err != nil {
		t.Fatal(res[0].Err, res[2].Err)
	}
	if !errors.Is(res[1].Err, sdk.ErrBadItem) || !strings.Contains(res[1].Err.Error(), "b:") {
		t.Errorf("invalid UTF-8: %v", res[1].Err)
	}
	if n := res[0].Fields["tokens"]; n != int64(20) {
		t.Errorf("tokens %v", n)
	}
	// A retry, alone, gives the same text: the seed comes from the item id.
	again := inst.Process(ctx, "generate", items[:1])
	if again[0].Fields["text"] != res[0].Fields["text"] {
		t.Errorf("retry %q, first %q", again[0].Fields["text"], res[0].Fields["text"])
	}
	sc := inst.Process(ctx, "score", items[:1])
	if sc[0].Err != nil || sc[0].Fields["tokens"] != int64(7) || sc[0].Fields["perplexity"].(float64) <= 1 {
		t.Errorf("score: %+v", sc[0])
	}
	if r := inst.Process(ctx, "embed", items[:1]); !errors.Is(r[0].Err, sdk.ErrBadItem) {
		t.Errorf("unknown task: %v", r[0].Err)
	}
}

func TestBERTPlugin(t *testing.T) {
	dir := t.TempDir()
	lines := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "."}
	for i := len(lines); i < 99; i++ {
		lines = append(lines, fmt.Sprintf("w%d", i))
	}
	vocab := filepath.Join(dir, "vocab.txt")
	os.WriteFile(vocab, []byte(strings.Join(lines, "\n")), 0o644)
	ctx := context.Background()
	load := func(w, c string) sdk.Instance {
		inst, err := NLP{}.Load(ctx, sdk.LoadRequest{Model: "bert", Config: map[string]any{
			"weights": "../../nlp/bert/testdata/" + w, "config": "../../nlp/bert/testdata/" + c, "vocab": vocab,
			"max_len": int64(16), "top_k": int64(2)}})
		if err != nil {
			t.Fatal(err)
		}
		return inst
	}
	cls := load("bert_cls.safetensors", "bert_cls.config.json")
	items := []sdk.Item{item("x", "The cat sat."), item("y", "\xc3"), item("z", "w40 w41 w42")}
	res := cls.Process(ctx, "classify", items)
	if res[0].Err != nil || res[2].Err != nil || !errors.Is(res[1].Err, sdk.ErrBadItem) {
		t.Fatal(res[0].Err, res[1].Err, res[2].Err)
	}
	if l := res[0].Fields["labels"].([]string); len(l) != 2 {
		t.Errorf("labels %v", l)
	}
	emb := cls.Process(ctx, "embed", items[:1])
	if e := emb[0].Fields["embedding"].(*tensor.Tensor); emb[0].Err != nil || e.Dim(0) != 32 {
		t.Errorf("embed: %+v", emb[0])
	}
	plain := load("bert.safetensors", "bert.config.json")
	if r := plain.Process(ctx, "classify", items[:1]); !errors.Is(r[0].Err, sdk.ErrBadItem) {
		t.Errorf("classify without a head: %v", r[0].Err)
	}
}
