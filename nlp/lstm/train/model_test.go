package train

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/plexusml/plexus/core/nn"
	"github.com/plexusml/plexus/core/nn/weights"
	"github.com/plexusml/plexus/nlp/lstm"
)

func tinyNet(t *testing.T, layers int) *net {
	t.Helper()
	nt, err := buildNet(7, 5, 6, layers, 3, 4, 0, rand.New(rand.NewPCG(1, 2)), rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	for i := range nt.ids {
		nt.ids[i], nt.targets[i] = r.IntN(7), r.IntN(7)
	}
	for _, s := range nt.state {
		for i := range s {
			s[i] = float32(r.Float64() - 0.5)
		}
	}
	return nt
}

// TestGradients compares every parameter's gradient with central differences of the
// loss, in float64 sums over a float32 graph, so the tolerance is loose but a wrong
// formula (a sign, a missing term) is off by far more.
func TestGradients(t *testing.T) {
	for _, layers := range []int{1, 2} {
		nt := tinyNet(t, layers)
		state0 := make([][]float32, len(nt.state))
		for l, s := range nt.state {
			state0[l] = append([]float32(nil), s...)
		}
		loss := func() float64 {
			for l := range nt.state {
				copy(nt.state[l], state0[l])
			}
			for _, p := range nt.params {
				if g, err := p.node.Grad(); err == nil && g != nil {
					clear(g.Data().([]float32))
				}
			}
			v, err := nt.step()
			if err != nil {
				t.Fatal(err)
			}
			return v / float64(nt.batch*nt.steps)
		}
		loss()
		grads := map[string][]float32{}
		for _, p := range nt.params {
			g, _ := p.node.Grad()
			grads[p.name] = append([]float32(nil), g.Data().([]float32)...)
		}
		r := rand.New(rand.NewPCG(9, 9))
		for _, p := range nt.params {
			w := p.values()
			for k := 0; k < 6; k++ {
				i := r.IntN(len(w))
				old := w[i]
				const eps = 1e-2
				w[i] = old + eps
				up := loss()
				w[i] = old - eps
				down := loss()
				w[i] = old
				num := (up - down) / (2 * eps)
				got := float64(grads[p.name][i])
				if math.Abs(num-got) > 2e-3+0.02*math.Abs(num) {
					t.Errorf("layers %d %s[%d]: gradient %g, numeric %g", layers, p.name, i, got, num)
				}
			}
		}
	}
}

// TestMatchesInference checks the graph's loss against the inference model loaded
// from the graph's state dict: the same weights under PyTorch names give the same
// log-probabilities, and the carried state is the inference model's final state.
func TestMatchesInference(t *testing.T) {
	nt := tinyNet(t, 2)
	for l := range nt.state {
		clear(nt.state[l])
	}
	got, err := nt.step()
	if err != nil {
		t.Fatal(err)
	}
	m, err := lstm.New(weights.NewBinder(weights.NewMapStore("", nt.stateDict())), nil)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, nt.batch*nt.steps) // batch-major for the inference model
	for tt := 0; tt < nt.steps; tt++ {
		for b := 0; b < nt.batch; b++ {
			ids[b*nt.steps+tt] = int64(nt.ids[tt*nt.batch+b])
		}
	}
	st := m.NewState(nt.batch)
	logits, err := m.Forward(nn.NewArena(0), ids, nt.batch, nt.steps, st)
	if err != nil {
		t.Fatal(err)
	}
	var want float64
	v := nt.vocab
	for b := 0; b < nt.batch; b++ {
		for tt := 0; tt < nt.steps; tt++ {
			z := logits.Data[(b*nt.steps+tt)*v : (b*nt.steps+tt+1)*v]
			mx := math.Inf(-1)
			for _, x := range z {
				mx = math.Max(mx, float64(x))
			}
			var s float64
			for _, x := range z {
				s += math.Exp(float64(x) - mx)
			}
			want -= float64(z[nt.targets[tt*nt.batch+b]]) - mx - math.Log(s)
		}
	}
	if math.Abs(got-want) > 1e-4*math.Abs(want) {
		t.Fatalf("graph loss %g, inference %g", got, want)
	}
	H := nt.hidden
	for l := 0; l < nt.layers; l++ {
		for b := 0; b < nt.batch; b++ {
			for j := 0; j < H; j++ {
				gh, gc := nt.state[l][b*2*H+j], nt.state[l][b*2*H+H+j]
				wh, wc := st.H[(l*nt.batch+b)*H+j], st.C[(l*nt.batch+b)*H+j]
				if math.Abs(float64(gh-wh)) > 1e-5 || math.Abs(float64(gc-wc)) > 1e-5 {
					t.Fatalf("layer %d batch %d unit %d: state (%g, %g), inference (%g, %g)", l, b, j, gh, gc, wh, wc)
				}
			}
		}
	}
}
