package wavenet

import (
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/plexusml/plexus/core/nn"
	"github.com/plexusml/plexus/core/nn/weights"
)

// loadGolden opens a fixture of tools/golden/wavenet.py and binds its model. A
// missing fixture fails: regenerate with /usr/bin/python3 tools/golden/wavenet.py.
func loadGolden(t *testing.T, name string) (*Model, *weights.Safetensors) {
	t.Helper()
	path := filepath.Join("testdata", name+".safetensors")
	st, err := weights.OpenSafetensors(path)
	if err != nil {
		t.Fatalf("fixture %s: %v (regenerate with /usr/bin/python3 tools/golden/wavenet.py)", path, err)
	}
	t.Cleanup(func() { st.Close() })
	var cfg Config
	if err := json.Unmarshal([]byte(st.Metadata()["config"]), &cfg); err != nil {
		t.Fatal(err)
	}
	m, err := New(weights.NewBinder(st, weights.Ignore("in.*", "out.*"), weights.CopyData()), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m, st
}

func get(t *testing.T, st *weights.Safetensors, name string) ([]float32, []int) {
	t.Helper()
	x, ok := st.Get(name)
	if !ok {
		t.Fatalf("fixture has no %s", name)
	}
	return slices.Clone(x.ToFloat32().Contiguous().Float32s()), x.Shape()
}

func relErr(a, ref []float32) float64 {
	var d, m float64
	for i := range ref {
		d = math.Max(d, math.Abs(float64(a[i])-float64(ref[i])))
		m = math.Max(m, math.Abs(float64(ref[i])))
	}
	return d / m
}

var goldenCases = []string{"mulaw_local", "mulaw_global_k3", "mol_uncond"}

// TestGoldenForward: the whole-sequence forward pass against the PyTorch reference.
func TestGoldenForward(t *testing.T) {
	for _, name := range goldenCases {
		t.Run(name, func(t *testing.T) {
			m, st := loadGolden(t, name)
			x, xs := get(t, st, "in.x")
			var c []float32
			frames := 0
			if m.Config.CinChannels > 0 {
				var cs []int
				c, cs = get(t, st, "in.c")
				frames = cs[2]
			}
			var g []int64
			if m.Config.GinChannels > 0 {
				gf, _ := get(t, st, "in.g")
				for _, v := range gf {
					g = append(g, int64(v))
				}
			}
			y, err := m.Forward(nn.NewAct(x, xs...), c, frames, g)
			if err != nil {
				t.Fatal(err)
			}
			ref, rs := get(t, st, "out.y")
			if !slices.Equal(y.Shape(), rs) {
				t.Fatalf("shape %v, reference %v", y.Shape(), rs)
			}
			e := relErr(y.Data, ref)
			t.Logf("rel err %.3g", e)
			if !(e <= 1e-4) {
				t.Fatalf("rel err %.3g > 1e-4", e)
			}
		})
	}
}

// requests builds a batch of generation requests for a golden model.
func requests(t *testing.T, m *Model, st *weights.Safetensors, n int) []Request {
	var reqs []Request
	c := m.Config
	for b := 0; b < 2; b++ {
		r := Request{Seed: uint64(11 + b), Length: n - 7*b}
		if c.CinChannels > 0 {
			cf, cs := get(t, st, "in.c")
			fr := cs[2]
			r.Mel, r.Frames = cf[b*c.CinChannels*fr:(b+1)*c.CinChannels*fr], fr
			r.Length = min(r.Length, fr*c.Hop())
		}
		if c.GinChannels > 0 {
			r.Speaker = int64(b + 1)
		}
		reqs = append(reqs, r)
	}
	return reqs
}

// generateFull is generation by full convolution: at every step the whole network
// runs over the sequence so far, and the last output is sampled with the same sampler
// as fast generation.
func generateFull(t *testing.T, m *Model, r Request, temp float32) []Result {
	s, err := m.newState(r)
	if err != nil {
		t.Fatal(err)
	}
	c := m.Config
	for step := 0; step < s.n; step++ {
		T := step + 1
		in := m.fast.in
		x := make([]float32, in*T)
		for u := 0; u < T; u++ {
			if c.ScalarInput {
				if u > 0 {
					x[u] = s.res.Audio[u-1]
				}
				continue
			}
			q := initialClass(c.OutChannels)
			if u > 0 {
				q = s.res.Classes[u-1]
			}
			x[q*T+u] = 1
		}
		var g []int64
		if c.GinChannels > 0 {
			g = []int64{r.Speaker}
		}
		y, err := m.Forward(nn.NewAct(x, 1, in, T), r.Mel, r.Frames, g)
		if err != nil {
			t.Fatal(err)
		}
		for o := range s.out {
			s.out[o] = y.Data[o*T+step]
		}
		m.sample(s, step, temp)
	}
	return []Result{s.res}
}

// TestFastGenerationEqualsFull: the queue-based generator and generation by full
// convolution draw the same samples from the same seeds, step by step, and their
// outputs agree within 1e-4 at every step.
func TestFastGenerationEqualsFull(t *testing.T) {
	for _, name := range goldenCases {
		t.Run(name, func(t *testing.T) {
			m, st := loadGolden(t, name)
			reqs := requests(t, m, st, 40)
			for _, temp := range []float32{1, 0.7} {
				opt := Options{Temperature: temp, Workers: 2}
				fast, err := m.Generate(context.Background(), reqs, opt)
				if err != nil {
					t.Fatal(err)
				}
				for i, r := range reqs {
					full := generateFull(t, m, r, temp)[0]
					if len(fast[i].Audio) != len(full.Audio) {
						t.Fatalf("item %d: %d samples, full %d", i, len(fast[i].Audio), len(full.Audio))
					}
					for s := range full.Audio {
						if fast[i].Audio[s] != full.Audio[s] && math.Abs(float64(fast[i].Audio[s]-full.Audio[s])) > 1e-4 {
							t.Fatalf("item %d step %d: fast %g, full convolution %g", i, s, fast[i].Audio[s], full.Audio[s])
						}
					}
					if full.Classes != nil && !slices.Equal(full.Classes, fast[i].Classes) {
						t.Fatalf("item %d: classes differ:\nfast %v\nfull %v", i, fast[i].Classes, full.Classes)
					}
				}
			}
		})
	}
}

// TestFastStepsMatchForward: every step's outputs from the queues equal the
// teacher-forced forward pass over the generated sequence (within 1e-4).
func TestFastStepsMatchForward(t *testing.T) {
	for _, name := range goldenCases {
		t.Run(name, func(t *testing.T) {
			m, st := loadGolden(t, name)
			r := requests(t, m, st, 200)[0]
			var steps [][]float32
			res, err := m.Generate(context.Background(), []Request{r}, Options{trace: func(_, _ int, out []float32) {
				steps = append(steps, slices.Clone(out))
			}})
			if err != nil {
				t.Fatal(err)
			}
			c := m.Config
			T := len(steps)
			in := m.fast.in
			x := make([]float32, in*T)
			for u := 0; u < T; u++ {
				if c.ScalarInput {
					if u > 0 {
						x[u] = res[0].Audio[u-1]
					}
					continue
				}
				q := initialClass(c.OutChannels)
				if u > 0 {
					q = res[0].Classes[u-1]
				}
				x[q*T+u] = 1
			}
			var g []int64
			if c.GinChannels > 0 {
				g = []int64{r.Speaker}
			}
			y, err := m.Forward(nn.NewAct(x, 1, in, T), r.Mel, r.Frames, g)
			if err != nil {
				t.Fatal(err)
			}
			fast := make([]float32, len(y.Data))
			for u, o := range steps {
				for k, v := range o {
					fast[k*T+u] = v
				}
			}
			e := relErr(fast, y.Data)
			t.Logf("%d steps: rel err %.3g", T, e)
			if !(e <= 1e-4) {
				t.Fatalf("rel err %.3g", e)
			}
		})
	}
}

func TestSeedsReproduce(t *testing.T) {
	m, st := loadGolden(t, "mulaw_local")
	reqs := requests(t, m, st, 30)
	a, err := m.Generate(context.Background(), reqs, Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	// The same item alone, and with another worker split, gives the same samples.
	b, err := m.Generate(context.Background(), reqs[1:], Options{Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a[1].Classes, b[0].Classes) {
		t.Fatalf("item 1 differs when generated alone")
	}
	reqs[1].Seed++
	c, _ := m.Generate(context.Background(), reqs, Options{})
	if slices.Equal(a[1].Classes, c[1].Classes) {
		t.Fatalf("a different seed gave the same samples")
	}
}

func TestGemvAcc(t *testing.T) {
	for _, sz := range [][2]int{{1, 1}, {3, 16}, {64, 128}, {33, 320}, {7, 81}, {128, 64}, {256, 256}} {
		in, out := sz[0], sz[1]
		w := make([]float32, in*out)
		x := make([]float32, in)
		y := make([]float32, out)
		for i := range w {
			w[i] = float32(math.Sin(float64(i) * 0.37))
		}
		for i := range x {
			x[i] = float32(math.Cos(float64(i) * 0.91))
		}
		for i := range y {
			y[i] = float32(i) * 0.01
		}
		want := slices.Clone(y)
		for o := range want {
			var acc float64
			for i := 0; i < in; i++ {
				acc += float64(x[i]) * float64(w[i*out+o])
			}
			want[o] += float32(acc)
		}
		gemvAcc(w, x, y, in, out)
		if e := relErr(y, want); e > 1e-5 {
			t.Errorf("%d×%d: rel err %g", in, out, e)
		}
	}
}
