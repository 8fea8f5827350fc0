package train

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plexusml/plexus/core/nn/weights"
	"github.com/plexusml/plexus/nlp/lstm"
)

func writeCorpus(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var sb strings.Builder
	for i := 0; i < 40; i++ {
		sb.WriteString("A fortune about cats and dogs, number ")
		sb.WriteString(strings.Repeat("x", i%7))
		sb.WriteString(".\n%\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "fortunes"), []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "fortunes.dat"), []byte{0, 1, 2}, 0o644) // skipped: has an extension
	return dir
}

func testConfig(t *testing.T, data, out string) *Config {
	t.Helper()
	y := `kind: nlp.lstm
output: ` + out + `
model: {embedding: 4, hidden: 8, layers: 2, dropout: 0.1}
data: {dir: ` + data + `, holdout_every: 5}
train: {batch_size: 2, bptt: 5, epochs: 0.2, lr: 0.01, warmup_steps: 2, clip: 1, seed: 3, checkpoint_every: 3, eval_every: 4, log_every: 2}
`
	c, err := ParseConfig("test.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestResumeIsExact interrupts a run, resumes it, and checks that the final model is
// bit-for-bit the one an uninterrupted run makes: weights, Adam's moments, the dropout
// RNG, the carried state and the data position all come back.
func TestResumeIsExact(t *testing.T) {
	data := writeCorpus(t)
	straight := t.TempDir()
	var log bytes.Buffer
	res, err := Run(context.Background(), testConfig(t, data, straight), &log)
	if err != nil {
		t.Fatal(err, log.String())
	}
	if res.Steps < 8 || res.BestBPC <= 0 {
		t.Fatalf("result %+v\n%s", res, log.String())
	}

	resumed := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	afterStep = func(step int) {
		if step == 5 {
			cancel()
		}
	}
	_, err = Run(ctx, testConfig(t, data, resumed), &log)
	afterStep = nil
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	if _, err := Run(context.Background(), testConfig(t, data, resumed), &log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "resumed from") {
		t.Fatalf("no resume in the log:\n%s", log.String())
	}
	a, b := readAll(t, filepath.Join(straight, CheckpointFile)), readAll(t, filepath.Join(resumed, CheckpointFile))
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("%d and %d tensors", len(a), len(b))
	}
	for name, x := range a {
		y := b[name]
		for i := range x {
			if x[i] != y[i] {
				t.Fatalf("%s[%d]: %g straight, %g resumed", name, i, x[i], y[i])
			}
		}
	}
	// The shipped model loads for inference with its tokenizer and generates.
	m, err := lstm.Load(filepath.Join(straight, ModelFile), "")
	if err != nil {
		t.Fatal(err)
	}
	if m.Tokenizer == nil || m.Config.StartText != Separator || m.Config.NumLayers != 2 {
		t.Fatalf("config %+v", m.Config)
	}
	if _, err := m.Generate(context.Background(), []string{""}, []uint64{1}, lstm.GenerateOptions{MaxTokens: 5, Temperature: 1}); err != nil {
		t.Fatal(err)
	}
	// A finished run says so and does nothing more.
	log.Reset()
	if _, err := Run(context.Background(), testConfig(t, data, straight), &log); err != nil || !strings.Contains(log.String(), "already finished") {
		t.Fatalf("%v\n%s", err, log.String())
	}
}

func readAll(t *testing.T, path string) map[string][]float32 {
	t.Helper()
	s, err := weights.OpenSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out := map[string][]float32{}
	for _, n := range s.Names() {
		x, _ := s.Get(n)
		out[n] = append([]float32(nil), x.ToFloat32().Float32s()...)
	}
	return out
}

func TestParseConfigErrors(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"kind: nlp.lstm\noutput: o\nmodel: {embedding: 4, hidden: 8, layers: 1}\ndata: {dir: d}\ntrain: {batch_size: 2, bptt: 5, epochs: 1, lr: 0.1, lr_typo: 3}\n", "lr_typo"},
		{"kind: vision.resnet\n", "kind"},
		{"kind: nlp.lstm\noutput: o\nmodel: {embedding: 4, hidden: 0, layers: 1}\n", "hidden 0"},
		{"kind: nlp.lstm\noutput: o\nmodel: {embedding: 4, hidden: 8, layers: 1}\ndata: {dir: d, tokenizer: word}\n", "tokenizer"},
		{"kind: nlp.lstm\noutput: o\nmodel: {embedding: 4, hidden: 8, layers: 1}\ndata: {dir: d}\ntrain: {batch_size: 2, bptt: 5, epochs: 1, lr: 0.1, min_lr: 1}\n", "min_lr"},
		{"", "empty"},
	} {
		_, err := ParseConfig("c.yaml", []byte(c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "c.yaml") {
			t.Errorf("%q: %v, want an error naming the file and %q", c.yaml, err, c.want)
		}
	}
}

func TestReadFortunes(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a"), []byte("one\n%\ntwo\nlines\n%\nthree\n%\n\n%\nfour\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "b"), []byte("caf\xe9\n%\nsix"), 0o644) // Latin-1
	files, err := dataFiles(DataConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	c, err := readFortunes(files, 3)
	if err != nil {
		t.Fatal(err)
	}
	if c.nTrain != 4 || c.nHeld != 2 {
		t.Fatalf("%d training, %d held-out texts", c.nTrain, c.nHeld)
	}
	if want := "one\n%\ntwo\nlines\n%\nfour\n%\ncafé\n%\n"; c.train != want {
		t.Errorf("training text %q, want %q", c.train, want)
	}
	if want := "three\n%\nsix\n%\n"; c.heldOut != want {
		t.Errorf("held-out text %q, want %q", c.heldOut, want)
	}
}
