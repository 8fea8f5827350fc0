package bert

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plexusml/plexus/core/nn"
	"github.com/plexusml/plexus/core/tensor"
)

func load(t *testing.T, name string) *tensor.Tensor {
	t.Helper()
	x, err := tensor.LoadNpy(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("%v (regenerate with /usr/bin/python3 tools/golden/nlp.py)", err)
	}
	return x
}

func relErr(got, want []float32) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	var d, m float64
	for i := range want {
		d = math.Max(d, math.Abs(float64(got[i])-float64(want[i])))
		m = math.Max(m, math.Abs(float64(want[i])))
	}
	return d / m
}

func goldenBatch(t *testing.T) Batch {
	ids := load(t, "bert.ids.npy")
	mask := load(t, "bert.mask.npy").Int64s()
	in := Batch{Batch: ids.Dim(0), Len: ids.Dim(1), IDs: ids.Int64s(), Types: load(t, "bert.types.npy").Int64s()}
	in.Mask = make([]bool, len(mask))
	for i, v := range mask {
		in.Mask[i] = v != 0
	}
	return in
}

// TestGolden compares a small random BertModel (Hugging Face names, built in plain
// PyTorch) on a padded batch of three lengths, one of them a single token.
func TestGolden(t *testing.T) {
	for _, c := range []struct{ weights, config string }{
		{"bert.safetensors", "bert.config.json"},
		{"bert_cls.safetensors", "bert_cls.config.json"}, // bert. prefix, gamma/beta, cls.*, classifier
	} {
		t.Run(c.weights, func(t *testing.T) {
			var notices []string
			m, err := Load(filepath.Join("testdata", c.weights), filepath.Join("testdata", c.config),
				Options{Notice: func(s string) { notices = append(notices, s) }})
			if err != nil {
				t.Fatal(err)
			}
			a := nn.NewArena(0)
			out, err := m.Forward(a, goldenBatch(t))
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range []struct {
				name string
				got  []float32
			}{{"bert.last_hidden_state.npy", out.LastHidden.Data}, {"bert.pooler_output.npy", out.Pooled.Data},
				{"bert.mean_pooled.npy", out.Mean.Data}} {
				if e := relErr(o.got, load(t, o.name).Float32s()); e > 1e-4 {
					t.Errorf("%s: rel err %.3g", o.name, e)
				}
			}
			if strings.HasPrefix(c.weights, "bert_cls") {
				if !m.HasClassifier() {
					t.Fatal("classifier not bound")
				}
				if e := relErr(out.Logits.Data, load(t, "bert.logits.npy").Float32s()); e > 1e-4 {
					t.Errorf("logits: rel err %.3g", e)
				}
				if strings.Join(m.Labels, ",") != "negative,neutral,positive" {
					t.Errorf("labels %v", m.Labels)
				}
				if len(notices) != 2 || !strings.Contains(strings.Join(notices, "\n"), "cls.predictions.bias") {
					t.Errorf("notices %q, want the two cls.* tensors", notices)
				}
			} else if m.HasClassifier() || out.Logits.Len() != 0 {
				t.Error("classifier without classifier.weight")
			}
		})
	}
}
