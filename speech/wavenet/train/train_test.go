package train

import (
	"context"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plexusml/plexus/core/nn"
	"github.com/plexusml/plexus/core/nn/weights"
	"github.com/plexusml/plexus/core/tensor"
	"github.com/plexusml/plexus/speech/wavenet"
)

func tinyConfig() wavenet.Config {
	return wavenet.Config{OutChannels: 16, Layers: 4, Stacks: 2, ResidualChannels: 4, GateChannels: 6, SkipChannels: 5,
		KernelSize: 2, CinChannels: 3, GinChannels: -1, UpsampleScales: []int{2, 2},
		Audio: wavenet.AudioConfig{SampleRate: 8000, NFFT: 16, HopLength: 4, NMels: 3, LogOffset: 1e-5}}
}

func tinyCorpus(t *testing.T, cfg wavenet.Config) []*utterance {
	var out []*utterance
	for k := 0; k < 3; k++ {
		x := make([]float32, 400)
		for i := range x {
			x[i] = float32(0.5 * math.Sin(float64(i)*0.07*float64(k+1)) * math.Exp(-float64(i)/300))
		}
		u, err := prepare("u", x, cfg)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, u)
	}
	return out
}

// TestGraphMatchesInference: the training graph's loss equals the cross-entropy of
// the inference model (speech/wavenet) run on the exported weights, so what is
// trained is what is shipped.
func TestGraphMatchesInference(t *testing.T) {
	cfg := tinyConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	nt, err := buildNet(cfg, 2, 5*cfg.Hop(), rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	up, err := toModel(nt)
	if err != nil {
		t.Fatal(err)
	}
	fillBatch(nt, tinyCorpus(t, cfg), up, rand.New(rand.NewPCG(2, 2)))
	loss, err := nt.step()
	if err != nil {
		t.Fatal(err)
	}
	B, T, K, cin := nt.B, nt.T, cfg.OutChannels, cfg.CinChannels
	x := make([]float32, B*K*T)
	cUp := make([]float32, B*cin*T)
	for b := 0; b < B; b++ {
		for tt := 0; tt < T; tt++ {
			n := b*T + tt
			x[(b*K+int(nt.ids[n]))*T+tt] = 1
			for ch := 0; ch < cin; ch++ {
				cUp[(b*cin+ch)*T+tt] = nt.cond[n*cin+ch]
			}
		}
	}
	// The inference model sees each crop from its start, as the graph's shifts do.
	y, err := up.ForwardUpsampled(nn.NewAct(x, B, K, T), cUp, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ref float64
	for b := 0; b < B; b++ {
		for tt := 0; tt < T; tt++ {
			mx := math.Inf(-1)
			for k := 0; k < K; k++ {
				mx = math.Max(mx, float64(y.Data[(b*K+k)*T+tt]))
			}
			var s float64
			for k := 0; k < K; k++ {
				s += math.Exp(float64(y.Data[(b*K+k)*T+tt]) - mx)
			}
			ref += math.Log(s) + mx - float64(y.Data[(b*K+int(nt.targets[b*T+tt]))*T+tt])
		}
	}
	ref /= float64(B * T)
	if math.Abs(loss-ref) > 1e-4*math.Abs(ref) {
		t.Fatalf("graph loss %.6f, inference cross-entropy %.6f", loss, ref)
	}
	// Export and import are inverses.
	nt2, _ := buildNet(cfg, 2, 5*cfg.Hop(), rand.New(rand.NewPCG(9, 9)))
	m, _ := toModel(nt)
	_ = m
	if err := nt2.loadStateDict(mapStore(nt.stateDict())); err != nil {
		t.Fatal(err)
	}
	for i, p := range nt.params {
		for j, v := range p.data {
			if nt2.params[i].data[j] != v {
				t.Fatalf("%s[%d]: %g after a round trip, want %g", p.name, j, nt2.params[i].data[j], v)
			}
		}
	}
}

// TestGradients compares the graph's gradients with central finite differences.
func TestGradients(t *testing.T) {
	cfg := tinyConfig()
	cfg.Validate()
	nt, err := buildNet(cfg, 1, 4*cfg.Hop(), rand.New(rand.NewPCG(3, 3)))
	if err != nil {
		t.Fatal(err)
	}
	up, _ := toModel(nt)
	fillBatch(nt, tinyCorpus(t, cfg), up, rand.New(rand.NewPCG(4, 4)))
	if _, err := nt.step(); err != nil {
		t.Fatal(err)
	}
	grads := map[string][]float32{}
	for _, p := range nt.params {
		g, _ := p.node.Grad()
		grads[p.name] = append([]float32(nil), g.Data().([]float32)...)
		clear(g.Data().([]float32))
	}
	r := rand.New(rand.NewPCG(5, 5))
	checked := 0
	for _, p := range nt.params {
		for k := 0; k < 2; k++ {
			j := r.IntN(len(p.data))
			w := p.data[j]
			const h = 1e-2
			p.data[j] = w + h
			lp, _ := nt.step()
			p.data[j] = w - h
			lm, _ := nt.step()
			p.data[j] = w
			for _, q := range nt.params {
				g, _ := q.node.Grad()
				clear(g.Data().([]float32))
			}
			num := (lp - lm) / (2 * h)
			got := float64(grads[p.name][j])
			if math.Abs(num-got) > 2e-3+0.05*math.Abs(num) {
				t.Errorf("%s[%d]: gradient %.5f, finite difference %.5f", p.name, j, got, num)
			}
			checked++
		}
	}
	t.Logf("%d gradient entries checked", checked)
}

// TestTrainResumeAndEvaluate trains a few steps on a corpus written to disk, stops,
// resumes from the checkpoint, and evaluates.
func TestTrainResumeAndEvaluate(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig()
	var lines []string
	for i, u := range tinyCorpus(t, cfg) {
		p := filepath.Join(dir, "u"+string(rune('0'+i))+".wav")
		if err := writeWAV(p, u.audio, 8000); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, `{"id":"u`+string(rune('0'+i))+`","path":"`+filepath.Base(p)+`"}`)
	}
	manifest := filepath.Join(dir, "train.jsonl")
	os.WriteFile(manifest, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	yml := `kind: speech.wavenet
output: ` + filepath.Join(dir, "run") + `
data: {train: ` + manifest + `, test: ` + manifest + `}
model: {out_channels: 16, layers: 4, stacks: 2, residual_channels: 4, gate_channels: 6, skip_out_channels: 5,
  kernel_size: 2, cin_channels: 3, gin_channels: -1, upsample_scales: [2, 2],
  audio: {sample_rate: 8000, n_fft: 16, hop_length: 4, n_mels: 3, log_offset: 1.0e-5}}
train: {batch: 2, crop_frames: 5, lr: 0.01, steps: 6, checkpoint_every: 3, log_every: 3, threads: 1}
eval: {utterances: 2, seconds: 0.02, samples: ` + filepath.Join(dir, "samples") + `, griffin_lim_iters: 4}
`
	c, err := ParseConfig("t.yaml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	c.Train.Steps = 3
	if err := Run(context.Background(), c, io.Discard); err != nil {
		t.Fatal(err)
	}
	c.Train.Steps = 6
	var log strings.Builder
	if err := Run(context.Background(), c, &log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "resumed at step 3") || !strings.Contains(log.String(), "step 6 loss") {
		t.Fatalf("log:\n%s", log.String())
	}
	for _, f := range []string{"run/eval.json", "run/config.json", "run/checkpoint.safetensors", "samples/u0.wavenet.wav", "samples/u0.griffinlim.wav"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	// A resumed run ends with exactly the weights of an uninterrupted one.
	c2 := *c
	c2.Output = filepath.Join(dir, "straight")
	c2.Data.Test = ""
	if err := Run(context.Background(), &c2, io.Discard); err != nil {
		t.Fatal(err)
	}
	a, err := weights.OpenSafetensors(filepath.Join(c.Output, CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := weights.OpenSafetensors(filepath.Join(c2.Output, CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, n := range a.Names() {
		x, _ := a.Get(n)
		y, ok := b.Get(n)
		if !ok {
			t.Fatalf("%s missing", n)
		}
		for i, v := range x.Float32s() {
			if y.Float32s()[i] != v {
				t.Fatalf("%s[%d]: resumed %g, uninterrupted %g", n, i, v, y.Float32s()[i])
			}
		}
	}
	if _, err := ParseConfig("t.yaml", []byte(yml+"bogus: 1\n")); err == nil {
		t.Fatal("unknown key accepted")
	}
}

func mapStore(m map[string]*tensor.Tensor) weights.Store { return weights.NewMapStore("t", m) }
