package train

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/plexusml/plexus/core/nn/weights"
)

// writeIDX writes an uncompressed IDX file of unsigned bytes.
func writeIDX(t *testing.T, path string, shape []int, data []byte) {
	t.Helper()
	var b bytes.Buffer
	b.Write([]byte{0, 0, 8, byte(len(shape))})
	for _, d := range shape {
		binary.Write(&b, binary.BigEndian, uint32(d))
	}
	b.Write(data)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// tinyDataset writes a learnable 3-class set of 10×10 images: a bright bar whose
// position is the class.
func tinyDataset(t *testing.T, dir string, n int, seed uint64) (images, labels string) {
	rng := rand.New(rand.NewPCG(seed, 9))
	pix := make([]byte, n*100)
	lab := make([]byte, n)
	for i := 0; i < n; i++ {
		c := rng.IntN(3)
		lab[i] = byte(c)
		for y := 0; y < 10; y++ {
			for x := 0; x < 10; x++ {
				v := rng.IntN(60)
				if x/4 == c {
					v += 150
				}
				pix[i*100+y*10+x] = byte(v)
			}
		}
	}
	images = filepath.Join(dir, "images-"+string(rune('a'+seed)))
	labels = filepath.Join(dir, "labels-"+string(rune('a'+seed)))
	writeIDX(t, images, []int{n, 10, 10}, pix)
	writeIDX(t, labels, []int{n}, lab)
	return images, labels
}

func tinyTrainConfig(t *testing.T, data, out string) *Config {
	t.Helper()
	ti, tl := tinyDataset(t, data, 320, 1)
	vi, vl := tinyDataset(t, data, 40, 2)
	yaml := `kind: vision.resnet
output: ` + out + `
model: {architecture: resnet, block: basic, layers: [1, 1], widths: [4, 8], stem: small, in_channels: 1,
  num_classes: 3, input_size: 10, grayscale: true, mean: [0.3], std: [0.3], labels: [left, middle, right]}
data: {train_images: ` + ti + `, train_labels: ` + tl + `, test_images: ` + vi + `, test_labels: ` + vl + `, pad: 1, flip: false}
train: {epochs: 3, batch_size: 16, lr: 0.05, warmup_steps: 3, momentum: 0.9, nesterov: true, weight_decay: 0.0005,
  seed: 7, checkpoint_every: 4, log_every: 1, eval_batch: 16}
`
	cfg, err := ParseConfig("tiny.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// cancelAt is a log writer that cancels the run once a line mentions the given step.
type cancelAt struct {
	mu     sync.Mutex
	needle string
	cancel func()
	buf    bytes.Buffer
}

func (c *cancelAt) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Write(p)
	if c.needle != "" && strings.Contains(string(p), c.needle) {
		c.cancel()
	}
	return len(p), nil
}

func readWeights(t *testing.T, path string) map[string][]float32 {
	t.Helper()
	st, err := weights.OpenSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	out := map[string][]float32{}
	for _, n := range st.Names() {
		tt, _ := st.Get(n)
		out[n] = append([]float32(nil), tt.ToFloat32().Float32s()...)
	}
	return out
}

// TestResumeIsExact trains once straight through and once interrupted mid-epoch and
// resumed from the checkpoint: optimizer state, step, BatchNorm statistics and the
// augmentation RNG all come back, so the final weights are identical.
func TestResumeIsExact(t *testing.T) {
	data := t.TempDir()
	straight := filepath.Join(t.TempDir(), "straight")
	cfg := tinyTrainConfig(t, data, straight)
	var log bytes.Buffer
	acc, err := Run(context.Background(), cfg, &log)
	if err != nil {
		t.Fatal(err)
	}
	if acc < 0.9 {
		t.Errorf("test accuracy %.2f on an easy task:\n%s", acc, log.String())
	}
	// The shipped file evaluates to what training measured.
	if got, err := Evaluate(cfg, filepath.Join(straight, FinalFile)); err != nil || got != acc {
		t.Errorf("Evaluate: %v, %v; training measured %v", got, err, acc)
	}

	resumed := filepath.Join(t.TempDir(), "resumed")
	cfg2 := tinyTrainConfig(t, data, resumed)
	ctx, cancel := context.WithCancel(context.Background())
	w := &cancelAt{needle: "step 27/", cancel: cancel}
	if _, err := Run(ctx, cfg2, w); err == nil {
		t.Fatal("interrupted run returned no error")
	}
	if !strings.Contains(w.buf.String(), "interrupted: checkpoint at step") {
		t.Fatalf("no checkpoint on interrupt:\n%s", w.buf.String())
	}
	var log2 bytes.Buffer
	if _, err := Run(context.Background(), cfg2, &log2); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log2.String(), "resumed from") {
		t.Fatalf("did not resume:\n%s", log2.String())
	}
	a := readWeights(t, filepath.Join(straight, FinalFile))
	b := readWeights(t, filepath.Join(resumed, FinalFile))
	if len(a) != len(b) || len(a) == 0 {
		t.Fatalf("%d and %d tensors", len(a), len(b))
	}
	for n, va := range a {
		vb := b[n]
		for i := range va {
			if va[i] != vb[i] {
				t.Fatalf("%s[%d]: straight %v, resumed %v", n, i, va[i], vb[i])
			}
		}
	}
	// A finished run does nothing more.
	var log3 bytes.Buffer
	if _, err := Run(context.Background(), cfg2, &log3); err != nil || !strings.Contains(log3.String(), "already finished") {
		t.Fatalf("rerun: %v\n%s", err, log3.String())
	}
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"kind: nlp.lstm\noutput: x\n", `kind is "nlp.lstm"`},
		{"kind: vision.resnet\noutput: x\ntrain: {epochs: 1, batch_size: 8, lr: 0.1, lrr: 2}\n", "field lrr not found"},
		{"kind: vision.resnet\n", "output"},
		{"", "empty config"},
	} {
		_, err := ParseConfig("c.yaml", []byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "c.yaml") {
			t.Errorf("%q: error %v, want it to name the file and mention %q", tc.yaml, err, tc.want)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", "..", "configs", "train", "fashion-resnet.yaml")); err == nil {
		f.Add(b)
	}
	f.Add([]byte("kind: vision.resnet\noutput: o\nmodel: {layers: [1], widths: [2], stem: small, num_classes: 2}\n"))
	f.Add([]byte("kind: [\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := ParseConfig("fuzz.yaml", b)
		if err != nil {
			return
		}
		if cfg.Kind != Kind || cfg.Output == "" || cfg.Train.BatchSize < 2 || len(cfg.Model.Layers) == 0 {
			t.Fatalf("accepted an invalid config: %+v", cfg)
		}
	})
}
