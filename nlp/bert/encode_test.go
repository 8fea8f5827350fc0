package bert

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testEncoder pairs the golden classifier weights with a 99-token vocabulary.
func testEncoder(t *testing.T) *Encoder {
	t.Helper()
	lines := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
	for _, w := range strings.Fields("the a cat dog sat on mat , . ! ? and of to in is was it he she") {
		lines = append(lines, w)
	}
	for i := len(lines); i < 99; i++ {
		lines = append(lines, fmt.Sprintf("##x%d", i))
	}
	vocab := filepath.Join(t.TempDir(), "vocab.txt")
	if err := os.WriteFile(vocab, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := LoadEncoder("testdata/bert_cls.safetensors", "testdata/bert_cls.config.json", vocab, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestEncodeBucketsAndPadding checks that a text's results do not depend on the batch
// it shares (bucketing by length, padding masks): each text alone gives the same.
func TestEncodeBucketsAndPadding(t *testing.T) {
	e := testEncoder(t)
	e.MaxBatch = 2
	texts := []string{"the cat sat on the mat.", "a dog!", "bad \xff text", "she was in it, and he is the dog of the cat", "?"}
	all, err := e.Encode(context.Background(), texts, true)
	if err != nil {
		t.Fatal(err)
	}
	if all[2].Err == nil || !strings.Contains(all[2].Err.Error(), "text 2") {
		t.Fatalf("invalid UTF-8: %v", all[2].Err)
	}
	for i, text := range texts {
		if i == 2 {
			continue
		}
		alone, err := e.Encode(context.Background(), []string{text}, true)
		if err != nil || alone[0].Err != nil {
			t.Fatal(err, alone[0].Err)
		}
		for _, c := range []struct {
			name      string
			got, want []float32
		}{{"hidden", all[i].Hidden, alone[0].Hidden}, {"pooled", all[i].Pooled, alone[0].Pooled},
			{"mean", all[i].Mean, alone[0].Mean}, {"logits", all[i].Logits, alone[0].Logits}} {
			if len(c.got) == 0 || relErr(c.got, c.want) > 1e-5 {
				t.Errorf("text %d %s: in a batch differs from alone (%d values)", i, c.name, len(c.got))
			}
		}
		if all[i].Tokens*e.Model.Hidden != len(all[i].Hidden) {
			t.Errorf("text %d: %d tokens, %d hidden values", i, all[i].Tokens, len(all[i].Hidden))
		}
	}
	e.MaxLen = 4
	cut, _ := e.Encode(context.Background(), texts[:1], false)
	if !cut[0].Truncated || cut[0].Tokens != 4 {
		t.Errorf("max_len 4: %d tokens, truncated %v", cut[0].Tokens, cut[0].Truncated)
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load("testdata/bert.safetensors", "testdata/missing.json", Options{}); err == nil {
		t.Error("missing config accepted")
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "config.json")
	os.WriteFile(bad, []byte(`{"num_attention_heads": 5, "hidden_size": 32, "surprise": 1}`), 0o644)
	var notes []string
	_, err := Load("testdata/bert.safetensors", bad, Options{Notice: func(s string) { notes = append(notes, s) }})
	if err == nil || !strings.Contains(err.Error(), "query.weight") {
		t.Errorf("5 heads for 32 features: %v", err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "surprise") {
		t.Errorf("notices %q", notes)
	}
	os.WriteFile(bad, []byte(`{"num_attention_heads": 4, "hidden_size": 48}`), 0o644)
	if _, err := Load("testdata/bert.safetensors", bad, Options{}); err == nil || !strings.Contains(err.Error(), "hidden_size") {
		t.Errorf("wrong hidden_size: %v", err)
	}
}
