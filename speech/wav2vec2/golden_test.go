package wav2vec2

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/plexusml/plexus/core/nn"
	"github.com/plexusml/plexus/core/nn/weights"
	"github.com/plexusml/plexus/core/tensor"
	"github.com/plexusml/plexus/speech/ctc"
)

var _ ctc.Acoustic = (*Model)(nil)

// golden is one fixture of tools/golden/wav2vec2.py: a model and its references.
type golden struct {
	name  string
	model *Model
	io    *weights.Safetensors
	wavs  [][]float32
}

// openGolden opens dir/name.{safetensors,pth,json,io.safetensors}. A missing committed
// fixture fails the test.
func openGolden(t *testing.T, dir, name string) *golden {
	t.Helper()
	w := filepath.Join(dir, name+".safetensors")
	if _, err := os.Stat(w); err != nil {
		w = filepath.Join(dir, name+".pth")
	}
	m, err := Open(w, filepath.Join(dir, name+".json"))
	if err != nil {
		t.Fatalf("%v (regenerate with /usr/bin/python3 tools/golden/wav2vec2.py)", err)
	}
	io, err := weights.OpenSafetensors(filepath.Join(dir, name+".io.safetensors"))
	if err != nil {
		t.Fatalf("%v (regenerate with /usr/bin/python3 tools/golden/wav2vec2.py)", err)
	}
	t.Cleanup(func() { io.Close() })
	g := &golden{name: name, model: m, io: io}
	for i := 0; ; i++ {
		x, ok := io.Get(fmt.Sprintf("in.wav%d", i))
		if !ok {
			break
		}
		g.wavs = append(g.wavs, slices.Clone(x.Float32s()))
	}
	return g
}

func (g *golden) ref(t *testing.T, name string) *tensor.Tensor {
	t.Helper()
	x, ok := g.io.Get(name)
	if !ok {
		t.Fatalf("%s: fixture has no %s", g.name, name)
	}
	return x
}

// relErr is max|got−ref|/max|ref|, the project's agreement measure.
func relErr(got, ref []float32) float64 {
	var d, m float64
	for i, r := range ref {
		d = math.Max(d, math.Abs(float64(got[i])-float64(r)))
		m = math.Max(m, math.Abs(float64(r)))
	}
	if m == 0 {
		return d
	}
	return d / m
}

func checkClose(t *testing.T, what string, got, ref []float32, limit float64) {
	t.Helper()
	if len(got) != len(ref) {
		t.Fatalf("%s: %d values, torchaudio %d", what, len(got), len(ref))
	}
	if e := relErr(got, ref); !(e <= limit) {
		t.Errorf("%s differs from torchaudio by %.3g (max|ours−ref|/max|ref|), limit %g", what, e, limit)
	} else {
		t.Logf("%s: relative error %.2g", what, e)
	}
}

// checkItems compares per-item results with torchaudio's model(wav[None]).
func (g *golden) checkItems(t *testing.T, out [][]float32) {
	t.Helper()
	for i, w := range g.wavs {
		ref := g.ref(t, fmt.Sprintf("out.item%d", i))
		if f := g.model.Frames(len(w)); ref.Shape()[0] != f {
			t.Fatalf("item %d: Frames(%d) = %d, torchaudio %d", i, len(w), f, ref.Shape()[0])
		}
		checkClose(t, fmt.Sprintf("%s item %d (%d samples)", g.name, i, len(w)), out[i], ref.Float32s(), 1e-4)
	}
}

// itemsOf splits a Forward output into per-item frames.
func itemsOf(o Output) [][]float32 {
	n, tmax := o.X.Dim(2), o.X.Dim(1)
	var res [][]float32
	for i, f := range o.Frames {
		res = append(res, o.X.Data[i*tmax*n:(i*tmax+f)*n])
	}
	return res
}

func TestGolden(t *testing.T) {
	for _, name := range []string{"gn_post", "ln_pre", "gn_pre_noaux_pth"} {
		t.Run(name, func(t *testing.T) {
			g := openGolden(t, "testdata", name)
			m := g.model
			ctx := context.Background()
			a := nn.NewArena(0)
			for pass := 0; pass < 2; pass++ {
				// Pass 2 runs on a poisoned arena: reading memory a layer did not write fails.
				a.Reset()
				poison := a.Floats(a.Size())
				for i := range poison {
					poison[i] = float32(math.NaN())
				}
				a.Reset()
				// The whole batch at once: each item as torchaudio computes it alone.
				o, err := m.Forward(ctx, a, g.wavs, Options{})
				if err != nil {
					t.Fatal(err)
				}
				g.checkItems(t, itemsOf(o))
			}
			// Layer 0 computed in many small chunks (odd, so that chunk edges fall
			// everywhere) gives the same result.
			extractChunk = 7
			o, err := m.Forward(ctx, nil, g.wavs, Options{})
			extractChunk = 1024
			if err != nil {
				t.Fatal(err)
			}
			g.checkItems(t, itemsOf(o))
			// torchaudio's own batched forward, padding statistics included.
			o, err = m.Forward(ctx, nil, g.wavs, Options{BatchStats: true})
			if err != nil {
				t.Fatal(err)
			}
			ref := g.ref(t, "out.batched")
			lens := g.ref(t, "out.lengths").Int64s()
			rs := ref.Shape()
			if rs[1] != o.X.Dim(1) || rs[2] != o.X.Dim(2) {
				t.Fatalf("batched output %v, torchaudio %v", o.X.Shape(), rs)
			}
			for i, f := range o.Frames {
				if int64(f) != lens[i] {
					t.Fatalf("item %d: %d frames, torchaudio %d", i, f, lens[i])
				}
				n := rs[2]
				checkClose(t, fmt.Sprintf("%s batched item %d", name, i), o.X.Data[i*rs[1]*n:(i*rs[1]+f)*n],
					ref.Float32s()[i*rs[1]*n:(i*rs[1]+f)*n], 1e-4)
			}
			if m.aux == nil {
				if _, err := m.Emissions(ctx, g.wavs); err == nil {
					t.Error("Emissions without a CTC head gave no error")
				}
				return
			}
			// Emissions: per item, in any batch order.
			em, err := m.Emissions(ctx, g.wavs)
			if err != nil {
				t.Fatal(err)
			}
			g.checkItems(t, em)
			for i := range em {
				if len(em[i]) != m.Frames(len(g.wavs[i]))*len(m.Labels()) {
					t.Errorf("item %d: %d emission values for %d frames × %d labels", i, len(em[i]), m.Frames(len(g.wavs[i])), len(m.Labels()))
				}
			}
			rev := slices.Clone(g.wavs)
			slices.Reverse(rev)
			em2, err := m.Emissions(ctx, rev)
			if err != nil {
				t.Fatal(err)
			}
			slices.Reverse(em2)
			g.checkItems(t, em2)
		})
	}
}

// TestGoldenBase compares the full base configuration (WAV2VEC2_ASR_BASE_960H's shape,
// random weights) with torchaudio. The ~380 MB fixture is made by
// `make golden-wav2vec2-base`; without it the test skips.
func TestGoldenBase(t *testing.T) {
	dir := filepath.Join("testdata", "large")
	if _, err := os.Stat(filepath.Join(dir, "base.io.safetensors")); err != nil {
		t.Skip("testdata/large/base.* absent: run `make golden-wav2vec2-base` (/usr/bin/python3 tools/golden/wav2vec2.py --base) to compare the full base model")
	}
	g := openGolden(t, dir, "base")
	em, err := g.model.Emissions(context.Background(), g.wavs)
	if err != nil {
		t.Fatal(err)
	}
	g.checkItems(t, em)
}
