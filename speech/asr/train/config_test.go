package train

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plexusml/plexus/core/media"
	"github.com/plexusml/plexus/speech/asr"
)

func TestParseShippedConfig(t *testing.T) {
	path := filepath.Join("..", "..", "..", "configs", "train", "speech-ctc.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(path, b)
	if err != nil {
		t.Fatal(err)
	}
	if c.Model.FrameSamples() != 640 || c.Model.Layers != 6 || c.Train.MaxMinutes != 80 || len(c.Model.Labels) != 29 {
		t.Fatalf("%+v", c)
	}
}

func TestParseConfigErrors(t *testing.T) {
	base := "kind: speech.ctc\noutput: out/x\ndata:\n  train: t.jsonl\n"
	for _, tc := range []struct{ yaml, want string }{
		{base + "train:\n  lr: 0\n", "c.yaml:6: train.lr"},
		{base + "train:\n  lrr: 1\n", "c.yaml:6: field lrr not found"},
		{base + "model:\n  heads: 5\n", "c.yaml:5: model: asr: d_model 144, heads 5"},
		{"kind: speech.wavenet\n", "c.yaml:1: kind"},
		{"kind: speech.ctc\ndata:\n  train: t.jsonl\n", "c.yaml:1: output: required"},
		{base + "data:\n  digits_fraction: 2\n", "mapping key \"data\" already defined"},
		{"kind: speech.ctc\noutput: o\ndata:\n  train: t\n  digits_fraction: 1.5\n", "c.yaml:5: data.digits_fraction"},
		{base + "train:\n  buckets: [2]\n", "c.yaml:6: train.buckets"},
		{base + "train: [1, 2]\n", "c.yaml"},
	} {
		_, err := ParseConfig("c.yaml", []byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.yaml, err, tc.want)
		}
	}
}

func TestLearningRate(t *testing.T) {
	h := Hyper{LR: 1e-3, Warmup: 100, MinLR: 1e-5}
	for _, c := range []struct {
		step int
		want float64
	}{{1, 1e-5}, {50, 5e-4}, {100, 1e-3}, {400, 5e-4}, {100 * 100 * 100 * 100, 1e-5}} {
		if got := h.lr(c.step); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("step %d: lr %g, want %g", c.step, got, c.want)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "configs", "train", "speech-ctc.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("kind: speech.ctc\noutput: o\ndata: {train: t}\ntrain: {buckets: [8], batch_frames: 1}\n"))
	f.Add([]byte("kind: speech.ctc\nmodel: {subsampling: 3}\n"))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig("fuzz.yaml", b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		if c.Output == "" || c.Train.BatchFrames < 1 || len(c.Train.Buckets) == 0 || !(c.Train.LR > 0) || c.Model.Validate() != nil {
			t.Fatalf("accepted %+v", c)
		}
	})
}

func TestAugment(t *testing.T) {
	a := SpecAugment{Warp: 0.2, FreqMasks: 1, FreqWidth: 3, TimeMasks: 1, TimeWidth: 4, TimeRatio: 0.5}
	x := make([]float32, 20*8)
	for i := range x {
		x[i] = 1
	}
	rng := rand.New(rand.NewPCG(1, 2))
	zeros := 0
	for k := 0; k < 50; k++ {
		y := a.augment(nil, x, 20, 8, rng)
		for _, v := range y {
			if v == 0 {
				zeros++
			}
		}
	}
	// At most 3 bins × 20 frames + 4 frames × 8 bins per draw; some masks are drawn.
	if zeros == 0 || zeros > 50*(60+32) {
		t.Fatalf("%d masked values", zeros)
	}
	for _, v := range x {
		if v != 1 {
			t.Fatal("augment changed its input")
		}
	}
	// The warp moves a ramp over the mel bins: bin m reads bin m·α, linearly
	// interpolated, the top bin held.
	w := SpecAugment{Warp: 0.2}
	ramp := make([]float32, 2*8)
	for i := range ramp {
		ramp[i] = float32(i % 8)
	}
	y := w.augment(nil, ramp, 2, 8, rng)
	alpha := float64(y[1]) // bin 1 reads position α
	if math.Abs(alpha-1) > 0.2 || alpha == 1 {
		t.Fatalf("warp factor %g", alpha)
	}
	for m := 0; m < 8; m++ {
		want := math.Min(float64(m)*alpha, 7)
		if math.Abs(float64(y[m])-want) > 1e-5 || y[8+m] != y[m] {
			t.Fatalf("bin %d: %g, want %g", m, y[m], want)
		}
	}
}

func TestNormalize(t *testing.T) {
	l := asr.DefaultLabels()
	if got := Normalize("The birch-canoe slid, on the  smooth planks.", l); got != "the birch canoe slid on the smooth planks" {
		t.Fatal(got)
	}
	if got := encode("a b'", l); fmt.Sprint(got) != "[3 1 4 2]" {
		t.Fatal(got)
	}
}

func TestGreedyAndWER(t *testing.T) {
	l := []string{"-", " ", "a", "b"}
	em := func(ids ...int) []float32 {
		out := make([]float32, len(ids)*len(l))
		for t, i := range ids {
			out[t*len(l)+i] = 1
		}
		return out
	}
	if got := Greedy(em(2, 2, 0, 2, 1, 1, 3, 0), l); got != "aa b" {
		t.Fatal(got)
	}
	if d := EditDistance(strings.Fields("one two three"), strings.Fields("one three four five")); d != 3 {
		t.Fatal(d)
	}
}

// writeCorpus writes a tiny corpus of tones: "a" is a low tone, "b" a high one.
func writeCorpus(t *testing.T, dir string, n int) string {
	t.Helper()
	os.MkdirAll(filepath.Join(dir, "wav"), 0o755)
	var man bytes.Buffer
	for i := 0; i < n; i++ {
		text, f := "a", 300.0
		if i%2 == 1 {
			text, f = "b", 1200.0
		}
		x := make([]float32, 4000+400*(i%5))
		for j := range x {
			x[j] = float32(0.3 * math.Sin(2*math.Pi*f*float64(j)/16000))
		}
		var w bytes.Buffer
		if err := media.EncodeWAV(&w, x, 16000, 1, 16); err != nil {
			t.Fatal(err)
		}
		p := fmt.Sprintf("wav/%d.wav", i)
		os.WriteFile(filepath.Join(dir, p), w.Bytes(), 0o644)
		set := "digits"
		if i%3 == 0 {
			set = "sentences"
		}
		b, _ := json.Marshal(map[string]string{"id": fmt.Sprint(i), "path": p, "text": text, "set": set})
		man.Write(append(b, '\n'))
	}
	path := filepath.Join(dir, "m.jsonl")
	os.WriteFile(path, man.Bytes(), 0o644)
	return path
}

// TestRunResume trains a tiny model on a tone corpus for a few steps, stops, resumes,
// and checks the checkpoint opens as an inference model and the evaluation ran.
func TestRunResume(t *testing.T) {
	dir := t.TempDir()
	man := writeCorpus(t, dir, 12)
	out := filepath.Join(dir, "out")
	y := fmt.Sprintf(`kind: speech.ctc
output: %s
data: {train: %s, test: %s, digits_fraction: 0.5}
model: {architecture: asr-ctc, sample_rate: 16000, n_fft: 400, hop_length: 160, n_mels: 16, subsampling: 4,
  d_model: 16, heads: 2, ff_dim: 32, layers: 1, labels: ["-", " ", "a", "b"]}
train: {buckets: [30, 40], batch_frames: 120, lr: 0.003, warmup: 2, steps: 6, seed: 3, checkpoint_every: 2, log_every: 2, eval_every: 4}
eval: {batch: 4, examples: 2}
`, out, man, man)
	cfg, err := ParseConfig("tiny.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Train.Steps = 4
	var log bytes.Buffer
	if err := Run(context.Background(), cfg, &log); err != nil {
		t.Fatal(err, log.String())
	}
	cfg.Train.Steps = 6
	if err := Run(context.Background(), cfg, &log); err != nil {
		t.Fatal(err, log.String())
	}
	if !strings.Contains(log.String(), "resumed at step 4") || !strings.Contains(log.String(), "step 6 loss") {
		t.Fatalf("log:\n%s", log.String())
	}
	var st state
	b, _ := os.ReadFile(filepath.Join(out, StateFile))
	if err := json.Unmarshal(b, &st); err != nil || st.Step != 6 || !st.Finished {
		t.Fatalf("%v %+v", err, st)
	}
	m, err := asr.Open(filepath.Join(out, CheckpointFile), "")
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.DModel != 16 || len(m.Labels()) != 4 {
		t.Fatalf("%+v", m.Config)
	}
	var rep Report
	b, _ = os.ReadFile(filepath.Join(out, EvalFile))
	if err := json.Unmarshal(b, &rep); err != nil || rep.Step != 6 || rep.Sets["digits"].Utterances != 8 || rep.Sets["sentences"].Utterances != 4 {
		t.Fatalf("%v %+v", err, rep)
	}
}
