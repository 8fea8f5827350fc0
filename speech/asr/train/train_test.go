package train

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/plexusml/plexus/speech/asr"
)

func tinyConfig() asr.Config {
	c := asr.Config{SampleRate: 16000, NFFT: 400, HopLength: 160, NMels: 6, Subsampling: 4, DModel: 8, Heads: 2, FFDim: 12, Layers: 2,
		Labels: []string{"-", " ", "a", "b", "c"}}
	if err := c.Validate(); err != nil {
		panic(err)
	}
	return c
}

// tinyBatch makes utterances of the given lengths with random features and labels.
func tinyBatch(cfg asr.Config, rng *rand.Rand, frames ...int) []*utterance {
	var us []*utterance
	for i, f := range frames {
		u := &utterance{id: string(rune('a' + i)), frames: f, feats: make([]float32, f*cfg.NMels), set: "digits"}
		for j := range u.feats {
			u.feats[j] = float32(rng.NormFloat64())
		}
		n := 1 + rng.IntN(max(1, cfg.OutFrames(f)/3))
		for j := 0; j < n; j++ {
			u.labels = append(u.labels, 1+rng.IntN(len(cfg.Labels)-1))
		}
		us = append(us, u)
	}
	return us
}

func relDiff(a, b []float32) float64 {
	var d, m float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
		m = math.Max(m, math.Abs(float64(b[i])))
	}
	return d / math.Max(m, 1e-30)
}

// TestGraphMatchesInference: the training graph's logits equal the inference model's
// emissions on the exported weights, item by item in a padded batch, so what is
// trained is what is shipped.
func TestGraphMatchesInference(t *testing.T) {
	for _, sub := range []int{4, 2} {
		cfg := tinyConfig()
		cfg.Subsampling = sub
		rng := rand.New(rand.NewPCG(1, 2))
		ps := newParams(cfg, rng)
		// Non-trivial norms and biases, so the export of every tensor is checked.
		for _, p := range ps.list {
			if p.layout == layoutVec {
				for i := range p.data {
					p.data[i] += float32(rng.NormFloat64() * 0.3)
				}
			}
		}
		nt, err := buildNet(ps, 3, 23, 0.3)
		if err != nil {
			t.Fatal(err)
		}
		us := tinyBatch(cfg, rng, 23, 14, 7)
		var scratch []float32
		nt.fill(us, nil, rng, &scratch)
		if _, err := nt.step(); err != nil {
			t.Fatal(err)
		}
		m, err := ps.model()
		if err != nil {
			t.Fatal(err)
		}
		feats, frames := [][]float32{}, []int{}
		for _, u := range us {
			feats, frames = append(feats, u.feats), append(frames, u.frames)
		}
		em := m.EmissionsFromFeatures(feats, frames)
		C := len(cfg.Labels)
		for b, e := range em {
			if len(e) != nt.lens[b]*C {
				t.Fatalf("item %d: %d emissions, graph has %d frames", b, len(e)/C, nt.lens[b])
			}
			got := nt.logitsOut[b*nt.T*C : b*nt.T*C+len(e)]
			if d := relDiff(got, e); d > 1e-4 {
				t.Errorf("subsampling %d item %d: graph and model differ by %.2g", sub, b, d)
			}
		}
	}
}

// TestGradients compares the graph's gradients with central finite differences of
// its loss (float64 CTC, float32 elsewhere) on a few coordinates of every parameter.
func TestGradients(t *testing.T) {
	cfg := tinyConfig()
	rng := rand.New(rand.NewPCG(3, 4))
	ps := newParams(cfg, rng)
	for _, p := range ps.list {
		if p.layout == layoutVec {
			for i := range p.data {
				p.data[i] += float32(rng.NormFloat64() * 0.2)
			}
		}
	}
	nt, err := buildNet(ps, 2, 19, 0.2)
	if err != nil {
		t.Fatal(err)
	}
	us := tinyBatch(cfg, rng, 19, 11)
	var scratch []float32
	nt.fill(us, nil, rng, &scratch)
	// The same dropout masks at every evaluation of the loss.
	nt.rng = rand.New(rand.NewPCG(9, 9))
	if _, err := nt.step(); err != nil {
		t.Fatal(err)
	}
	gs, err := nt.grads()
	if err != nil {
		t.Fatal(err)
	}
	grads := make([][]float32, len(gs))
	for i, g := range gs {
		grads[i] = append([]float32(nil), g...)
		clear(g)
	}
	lossAt := func() float64 {
		nt.rng = rand.New(rand.NewPCG(9, 9))
		l, err := nt.step()
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range gs {
			clear(g)
		}
		return l
	}
	const h = 2e-3
	worst := 0.0
	for i, p := range ps.list {
		for k := 0; k < 3; k++ {
			j := rng.IntN(len(p.data))
			w := p.data[j]
			p.data[j] = w + h
			up := lossAt()
			p.data[j] = w - h
			down := lossAt()
			p.data[j] = w
			num := (up - down) / (2 * h)
			an := float64(grads[i][j])
			err := math.Abs(num-an) / math.Max(math.Abs(num)+math.Abs(an), 1e-2)
			worst = math.Max(worst, err)
			if err > 0.05 {
				t.Errorf("%s[%d]: analytic %.5g, numeric %.5g", p.name, j, an, num)
			}
		}
	}
	t.Logf("worst relative gradient error %.3g", worst)
}
