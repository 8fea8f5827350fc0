package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plexusml/plexus/core/media"
	"github.com/plexusml/plexus/core/nn/weights"
	"github.com/plexusml/plexus/core/tensor"
	"github.com/plexusml/plexus/speech/asr"
	"github.com/plexusml/plexus/speech/ctc"
)

// tinyASR writes a small compact recogniser with seeded random weights (w.safetensors
// and w.json beside it) into dir.
func tinyASR(t *testing.T, dir string) (string, *asr.Model) {
	t.Helper()
	cfg := asr.DefaultConfig()
	cfg.DModel, cfg.Heads, cfg.FFDim, cfg.Layers, cfg.NMels = 32, 2, 64, 2, 40
	params, err := asr.RandomWeights(cfg, 5)
	if err != nil {
		t.Fatal(err)
	}
	w := filepath.Join(dir, "w.safetensors")
	if err := weights.WriteSafetensors(w, params, nil); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, "w.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := asr.Open(w, "")
	if err != nil {
		t.Fatal(err)
	}
	return w, m
}

func writeWAV(t *testing.T, path string, x []float32, rate int) {
	t.Helper()
	var b bytes.Buffer
	if err := media.EncodeWAV(&b, x, rate, 1, 16); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func tone(n int, f float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(0.3*math.Sin(float64(i)*f) + 0.05*math.Sin(float64(i*i)*1e-3))
	}
	return x
}

// TestRecognisePredict transcribes a WAV at 8 kHz, a .npy batch of two waveforms and
// a corrupt file through the predict registry; then the same with lm=FILE (beam).
func TestRecognisePredict(t *testing.T) {
	dir := t.TempDir()
	w, m := tinyASR(t, dir)
	wav, npy, bad := filepath.Join(dir, "a.wav"), filepath.Join(dir, "b.npy"), filepath.Join(dir, "c.wav")
	writeWAV(t, wav, tone(12000, 0.05), 8000)
	if err := tensor.SaveNpy(npy, tensor.FromFloat32(append(tone(8000, 0.1), tone(8000, 0.2)...), 2, 8000)); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(bad, []byte("RIFF....WAVEfmt "), 0o644)
	lmPath := filepath.Join(dir, "x.charlm")
	lm, _ := ctc.TrainCharLM(strings.NewReader("one two three\nfour five\n"), 3, ctc.CharLMOptions{})
	if err := lm.Save(lmPath); err != nil {
		t.Fatal(err)
	}
	var fam *predictFamily
	for i := range predictModels {
		if predictModels[i].accepts("asr-ctc") {
			fam = &predictModels[i]
		}
	}
	if fam == nil {
		t.Fatal("asr-ctc is not registered with predict")
	}
	p, err := fam.open("asr-ctc", w, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{wav, npy, bad}, {"lm=" + lmPath, wav, npy, bad}} {
		in, err := readPredictInputs(args)
		if err != nil {
			t.Fatal(err)
		}
		res, err := p.Predict(context.Background(), in, predictOptions{Limits: media.DefaultLimits()})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Items) != 3 || res.Items[0].Err != nil || res.Items[1].Err != nil || res.Items[2].Err == nil {
			t.Fatalf("%v: %+v", args, res.Items)
		}
		// The 8 kHz file is 1.5 s at 16 kHz: 24000/640 frames, give or take the edges.
		e := res.Raw["emissions.0"]
		if len(res.Raw) != 3 || e.Shape[1] != len(m.Labels()) || e.Shape[0] < 36 || e.Shape[0] > 39 {
			t.Fatalf("raw %d outputs, first %v", len(res.Raw), e.Shape)
		}
		lines := strings.Split(res.Items[0].Text, "\n")
		d, _ := ctc.NewDecoder(m.Labels(), ctc.Options{})
		r, _ := d.Decode(e.Data, e.Shape[0])
		if len(args) == 3 && (lines[0] != r.Text || len(lines) != 1+len(r.Words)) {
			t.Fatalf("greedy output %q, decoding the emissions gives %q", res.Items[0].Text, r.Text)
		}
		// The .npy's two rows are two transcripts of one input.
		if n := strings.Count(res.Items[1].Text, "\n") + 1; n < 2 {
			t.Fatalf("batch input: %q", res.Items[1].Text)
		}
	}
	in, _ := readPredictInputs([]string{"lm=" + wav})
	if _, err := p.Predict(context.Background(), in, predictOptions{}); err == nil || !strings.Contains(err.Error(), "not a plexus character LM") {
		t.Errorf("a WAV as LM: %v", err)
	}
}

func TestCharLMTrainKind(t *testing.T) {
	dir := t.TempDir()
	a, b, held := filepath.Join(dir, "a.txt"), filepath.Join(dir, "b.txt"), filepath.Join(dir, "h.txt")
	os.WriteFile(a, []byte("One Two Three\nfour  five"), 0o644) // no final newline
	os.WriteFile(b, []byte("six seven\n"), 0o644)
	os.WriteFile(held, []byte("one two\n"), 0o644)
	out := filepath.Join(dir, "d.charlm")
	cfg := "kind: ctc.charlm\ntext: [" + a + ", " + b + "]\norder: 4\ncase: lower\neval: " + held + "\noutput: " + out + "\n"
	train, ok := trainKinds[charLMKind]
	if !ok {
		t.Fatal("ctc.charlm is not a train kind")
	}
	var log bytes.Buffer
	if err := train(context.Background(), "lm.yaml", []byte(cfg), &log); err != nil {
		t.Fatal(err)
	}
	lm, err := ctc.LoadCharLM(out)
	if err != nil {
		t.Fatal(err)
	}
	// "five" and "six" are separate sentences, and everything is lower case.
	if lm.LogProb("four five", ctc.EOS) < lm.LogProb("four five", 's') || lm.LogProb("", 'o') < lm.LogProb("", 'O') {
		t.Errorf("P(EOS | four five) %g, P(s | four five) %g, P(o) %g, P(O) %g", math.Exp(lm.LogProb("four five", ctc.EOS)),
			math.Exp(lm.LogProb("four five", 's')), math.Exp(lm.LogProb("", 'o')), math.Exp(lm.LogProb("", 'O')))
	}
	if v := string(lm.Vocabulary()); strings.ContainsAny(v, "OT") {
		t.Errorf("vocabulary %q is not lower case", v)
	}
	if !strings.Contains(log.String(), "order 4") || !strings.Contains(log.String(), "bits per character over 8 characters") {
		t.Errorf("log:\n%s", log.String())
	}
	for _, bad := range []string{
		"kind: ctc.charlm\ntext: x\noutput: y\nsmoothing: kn\n",
		"kind: speech.ctc\ntext: x\noutput: y\n",
		"kind: ctc.charlm\noutput: y\n",
		"kind: ctc.charlm\ntext: x\noutput: y\norder: 40\n",
		"kind: ctc.charlm\ntext: x\noutput: y\ncase: title\n",
	} {
		if _, err := parseCharLMConfig("lm.yaml", []byte(bad)); err == nil || !strings.HasPrefix(err.Error(), "lm.yaml: ") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if err := train(context.Background(), "lm.yaml", []byte("kind: ctc.charlm\ntext: "+filepath.Join(dir, "none.txt")+"\noutput: "+out+"\n"), &log); err == nil {
		t.Error("a missing text file trained")
	}
}

// buildSpeechPlugin builds plexus-plugin-speech into a fresh folder for
// PLEXUS_PLUGINS_PATH.
func buildSpeechPlugin(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "plexus-plugin-speech"), "../../plugins/speech").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

// TestTranscribePipeline validates pipelines/transcribe.yaml against the real speech
// plugin, then runs it on a folder of WAV files (a long one, split into windows, and a
// corrupt one) with a random-weights model in place of the shipped one.
func TestTranscribePipeline(t *testing.T) {
	if testing.Short() {
		t.Skip("builds plexus and the speech plugin")
	}
	plugins := buildSpeechPlugin(t)
	t.Setenv("PLEXUS_PLUGINS_PATH", plugins)
	stdout, stderr, err := runCmd(t, newValidateCmd(), "../../pipelines/transcribe.yaml")
	if err != nil || stderr != "" || !strings.Contains(stdout, "ok (1 stages, 1 sinks)") || strings.Contains(stdout, "warning") {
		t.Fatalf("validate: %v\nstdout %s\nstderr %s", err, stdout, stderr)
	}
	_, stderr, err = runCmd(t, newValidateCmd(), "--set", "stages.transcribe.config.decoder=viterbi", "../../pipelines/transcribe.yaml")
	if err == nil || !strings.Contains(stderr, `"viterbi" is not one of greedy, beam`) {
		t.Fatalf("a bad decoder passed validation: %v %s", err, stderr)
	}

	dir := t.TempDir()
	w, m := tinyASR(t, dir)
	data := filepath.Join(dir, "wavs")
	os.MkdirAll(data, 0o755)
	writeWAV(t, filepath.Join(data, "short.wav"), tone(16000, 0.07), 16000)
	writeWAV(t, filepath.Join(data, "long.wav"), tone(16000*7, 0.03), 16000)
	writeWAV(t, filepath.Join(data, "low.wav"), tone(11025, 0.1), 11025)
	os.WriteFile(filepath.Join(data, "broken.wav"), []byte("RIFF\x10\x00\x00\x00WAVEfmt junk"), 0o644)
	out := filepath.Join(dir, "out")
	cmd := exec.Command(plexusBinary(t), "run", "../../pipelines/transcribe.yaml", "--progress", "none",
		"--set", "stages.transcribe.weights="+w, "--set", "stages.transcribe.config.chunk_seconds=3",
		"--set", "stages.transcribe.config.overlap_seconds=0.5",
		"--set", "sinks.0.jsonl="+filepath.Join(out, "t.jsonl"), "--set", "errors.path="+filepath.Join(out, "e.jsonl"))
	cmd.Env = append(os.Environ(), "DATA="+data, "PLEXUS_PLUGINS_PATH="+plugins)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("plexus run: %v\n%s", err, b)
	}
	results := readJSONL(t, filepath.Join(out, "t.jsonl"))
	dead := readJSONL(t, filepath.Join(out, "e.jsonl"))
	if len(results) != 3 || len(dead) != 1 || !strings.Contains(dead[0]["id"].(string), "broken") {
		t.Fatalf("%d results, dead letters %v", len(results), dead)
	}
	for _, r := range results {
		f := r["fields"].(map[string]any)
		text, ok := f["transcribe.text"].(string)
		words, ok2 := f["transcribe.words"].([]any)
		if !ok || !ok2 {
			t.Fatalf("%s: fields %v", r["id"], f)
		}
		var ws []string
		for _, x := range words {
			e := x.([]any)
			ws = append(ws, e[0].(string))
			if e[1].(float64) >= e[2].(float64) || e[2].(float64) > 7.1 {
				t.Errorf("%s: word %v", r["id"], e)
			}
		}
		if strings.Join(ws, " ") != text {
			t.Errorf("%s: words %v, text %q", r["id"], ws, text)
		}
		if r["id"] == "long.wav" {
			// 7 s at 640 samples a frame: the stitched transcript covers all of it.
			if len(words) > 0 && words[len(words)-1].([]any)[2].(float64) < 5 {
				t.Errorf("long.wav: the words end at %v", words[len(words)-1])
			}
		}
	}
	_ = m
}

// TestRecognisePredictOpts: --opt settings reach the decoder, and a misspelt key or a
// bad value is an error that names it.
func TestRecognisePredictOpts(t *testing.T) {
	dir := t.TempDir()
	w, _ := tinyASR(t, dir)
	wav := filepath.Join(dir, "a.wav")
	writeWAV(t, wav, tone(16000, 0.05), 16000)
	out, _, err := execute(t, "predict", "--model", "asr-ctc", "--weights", w, "--opt", "decoder=beam", "--opt", "beam_width=4", wav)
	if err != nil {
		t.Fatalf("beam decoding: %v\n%s", err, out)
	}
	for _, tc := range []struct{ opt, want string }{
		{"beem=3", "reads beam_width, chunk_seconds, decoder"},
		{"decoder=viterbi", "want greedy or beam"},
		{"lm_weight=heavy", "want a number"},
		{"novalue", "expected KEY=VALUE"},
	} {
		_, _, err := execute(t, "predict", "--model", "asr-ctc", "--weights", w, "--opt", tc.opt, wav)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--opt %s: %v, want an error with %q", tc.opt, err, tc.want)
		}
	}
}
