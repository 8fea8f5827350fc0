package nn

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/plexusml/plexus/core/nn/weights"
	"github.com/plexusml/plexus/core/tensor"
)

func TestArenaGrowsOnceThenReuses(t *testing.T) {
	a := NewArena(8)
	first := a.Floats(5) // overflows the 8-float arena: a new chunk starts
	second := a.Floats(100)
	first[4], second[99] = 1, 2
	if first[4] != 1 || len(second) != 100 || cap(second) != 100 {
		t.Fatalf("slices after growth: %v, len %d cap %d", first, len(second), cap(second))
	}
	if got := a.Size(); got != 16+112 {
		t.Errorf("Size after a pass of 5+100 floats = %d, want 128 (blocks rounded to 16)", got)
	}
	a.Reset()
	x := a.Floats(5)
	y := a.Floats(100)
	if &y[0] != &a.buf[16] || &x[0] != &a.buf[0] {
		t.Error("after Reset the pass does not fit one chunk")
	}
	if len(a.buf) != 128 {
		t.Errorf("consolidated chunk holds %d floats, want 128", len(a.buf))
	}
	a.Reset()
	a.Floats(5)
	m := a.Mark()
	tmp := a.Floats(3)
	a.Release(m)
	if again := a.Floats(3); &again[0] != &tmp[0] {
		t.Error("Release did not give the temporaries back")
	}
}

func TestNilArenaAllocates(t *testing.T) {
	var a *Arena
	if s := a.Floats(7); len(s) != 7 {
		t.Fatalf("nil arena Floats(7) has %d floats", len(s))
	}
	a.Reset()
	a.Release(a.Mark())
	if a.Workspace() != nil {
		t.Error("nil arena has a workspace")
	}
}

func TestActShape(t *testing.T) {
	x := NewAct(make([]float32, 24), 2, 3, 4)
	if x.Rank() != 3 || x.Dim(-1) != 4 || x.Dim(0) != 2 || x.Len() != 24 {
		t.Fatalf("act %v: rank %d, dims %d %d", x, x.Rank(), x.Dim(0), x.Dim(-1))
	}
	if got := x.Reshape(-1, 4).Shape(); !slices.Equal(got, []int{6, 4}) {
		t.Errorf("Reshape(-1, 4) = %v", got)
	}
	for name, f := range map[string]func(){
		"wrong size":  func() { NewAct(make([]float32, 5), 2, 3) },
		"negative":    func() { NewAct(nil, -1, 0) },
		"dim range":   func() { x.Dim(3) },
		"bad reshape": func() { x.Reshape(5, -1) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestParseActivation(t *testing.T) {
	for s, want := range map[string]Activation{"": Identity, "ReLU": ReLU, "gelu": GELU, "tanh": Tanh, "sigmoid": Sigmoid} {
		if got, err := ParseActivation(s); err != nil || got != want {
			t.Errorf("ParseActivation(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseActivation("swish"); err == nil || !strings.Contains(err.Error(), "swish") {
		t.Errorf("ParseActivation(swish) error = %v", err)
	}
	x := []float32{-1, 0, 2}
	ReLU.Apply(x)
	if !slices.Equal(x, []float32{0, 0, 2}) {
		t.Errorf("ReLU.Apply = %v", x)
	}
}

// TestBinderReportsEveryProblem builds a model from a file with a missing tensor, a
// wrong shape and a stray tensor, and expects one error naming all three.
func TestBinderReportsEveryProblem(t *testing.T) {
	st := randomStore(map[string][]int{
		"fc.weight":        {4, 3},
		"fc.bias":          {5}, // wrong: fc has 4 outputs
		"conv.weight":      {2, 3, 3, 3},
		"bn.running_mean":  {2},
		"bn.weight":        {2},
		"bn.bias":          {2},
		"extra.weight":     {1},
		"rnn.weight_ih_l0": {12, 2},
		"rnn.weight_hh_l0": {12, 3},
	})
	b := weights.NewBinder(st)
	fc := NewLinear(b, "fc", LinearConfig{})
	NewConvBN(b, "conv", "bn", Conv2dConfig{}) // bn.running_var missing
	rnn := NewLSTM(b, "rnn", LSTMConfig{})
	NewLayerNorm(b, "ln", 0) // missing entirely
	err := b.Err()
	var me *weights.MismatchError
	if !errors.As(err, &me) {
		t.Fatalf("Err() = %v, want a MismatchError", err)
	}
	if !slices.Equal(me.Missing, []string{"bn.running_var", "ln.weight"}) {
		t.Errorf("missing = %v", me.Missing)
	}
	if !slices.Equal(me.Unexpected, []string{"extra.weight"}) {
		t.Errorf("unexpected = %v", me.Unexpected)
	}
	if len(me.WrongShape) != 1 || me.WrongShape[0].Name != "fc.bias" {
		t.Errorf("wrong shape = %v", me.WrongShape)
	}
	if fc.In != 3 || fc.Out != 4 {
		t.Errorf("Linear sized %d→%d from a 4×3 weight", fc.In, fc.Out)
	}
	if len(rnn.Layers) != 1 || rnn.Hidden != 3 || rnn.In != 2 {
		t.Errorf("LSTM inferred %d layers, hidden %d, input %d", len(rnn.Layers), rnn.Hidden, rnn.In)
	}
}

func TestAttentionHeadsMustDivide(t *testing.T) {
	st := randomStore(map[string][]int{
		"a.in_proj_weight": {30, 10}, "a.in_proj_bias": {30}, "a.out_proj.weight": {10, 10}, "a.out_proj.bias": {10},
	})
	b := weights.NewBinder(st)
	NewMultiheadAttention(b, "a", AttentionConfig{Heads: 3})
	if err := b.Err(); err == nil || !strings.Contains(err.Error(), "a.out_proj.weight") {
		t.Errorf("10 features over 3 heads: Err() = %v", err)
	}
}

func TestGroupNormGroupsMustDivide(t *testing.T) {
	b := weights.NewBinder(randomStore(map[string][]int{"gn.weight": {6}, "gn.bias": {6}}))
	NewGroupNorm(b, "gn", 4, 0)
	if err := b.Err(); err == nil || !strings.Contains(err.Error(), "gn.weight") {
		t.Errorf("6 channels in 4 groups: Err() = %v", err)
	}
}

func TestEmbeddingRejectsBadIDs(t *testing.T) {
	b := weights.NewBinder(randomStore(map[string][]int{"tok.weight": {5, 2}}))
	e := NewEmbedding(b, "tok")
	_, err := e.Forward(nil, []int64{0, 4, 5}, 3)
	if err == nil || !strings.Contains(err.Error(), "tok") || !strings.Contains(err.Error(), "position 2") {
		t.Errorf("id 5 of a 5-row table: %v", err)
	}
	if _, err := e.Forward(nil, []int64{0, 1, 2}, 2, 2); err == nil {
		t.Error("3 ids accepted as shape 2×2")
	}
}

func TestSequential(t *testing.T) {
	b := weights.NewBinder(randomStore(map[string][]int{"0.weight": {3, 2}, "2.weight": {1, 3}}))
	s := Sequential{NewLinear(b, "0", LinearConfig{}), ReLU, NewLinear(b, "2", LinearConfig{})}
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	y := s.Forward(nil, NewAct([]float32{1, 2, 3, 4}, 2, 2))
	if got := y.Shape(); !slices.Equal(got, []int{2, 1}) {
		t.Fatalf("output shape %v", got)
	}
	// Reference by hand: relu(x·W0ᵀ)·W2ᵀ.
	w0, w2 := s[0].(*Linear).Weight, s[2].(*Linear).Weight
	for r := 0; r < 2; r++ {
		var want float32
		for j := 0; j < 3; j++ {
			h := max(0, w0[j*2]*float32(1+2*r)+w0[j*2+1]*float32(2+2*r))
			want += h * w2[j]
		}
		if d := y.Data[r] - want; d > 1e-5 || d < -1e-5 {
			t.Errorf("row %d: %v, want %v", r, y.Data[r], want)
		}
	}
}

func TestLayersRejectWrongInputs(t *testing.T) {
	b := weights.NewBinder(randomStore(map[string][]int{"c.weight": {2, 3, 1, 1}, "fc.weight": {2, 3}}))
	c := NewConv2d(b, "c", Conv2dConfig{})
	fc := NewLinear(b, "fc", LinearConfig{})
	for name, f := range map[string]func(){
		"conv channels": func() { c.Forward(nil, NewAct(make([]float32, 8), 1, 2, 2, 2)) },
		"conv rank":     func() { c.Forward(nil, NewAct(make([]float32, 12), 3, 2, 2)) },
		"linear width":  func() { fc.Forward(nil, NewAct(make([]float32, 4), 2, 2)) },
	} {
		func() {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(r.(string), "nn: ") {
					t.Errorf("%s: panic %v, want an nn: message", name, r)
				}
			}()
			f()
		}()
	}
}

// randomStore builds an in-memory weights store of seeded random tensors.
func randomStore(shapes map[string][]int) weights.Store {
	r := rand.New(rand.NewPCG(1, 2))
	m := map[string]*tensor.Tensor{}
	for name, s := range shapes {
		n := 1
		for _, d := range s {
			n *= d
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(r.NormFloat64()) * 0.3
		}
		if len(name) > 11 && name[len(name)-11:] == "running_var" {
			for i := range data {
				data[i] = 1 + data[i]*data[i]
			}
		}
		m[name] = tensor.FromFloat32(data, s...)
	}
	return weights.NewMapStore("random", m)
}

// TestConcurrentModels runs one set of layers from several goroutines, each with its
// own arena and state, as a plugin serving parallel batches does; results must equal
// the sequential ones bit for bit (and -race must stay quiet).
func TestConcurrentModels(t *testing.T) {
	f, b := load(t, "lstm_2layer_batchfirst")
	rnn := NewLSTM(b, f.cfg.Prefix, LSTMConfig{Layers: f.cfg.Layers, BatchFirst: true})
	bindOK(t, f, b)
	g, gb := load(t, "mha_self_padding")
	mha := NewMultiheadAttention(gb, g.cfg.Prefix, AttentionConfig{Heads: g.cfg.Heads, BatchFirst: true})
	bindOK(t, g, gb)
	x, q := f.in(t, "x1"), g.in(t, "x")
	pad := g.bools(t, "key_padding_mask")
	run := func(a *Arena) []float32 {
		a.Reset()
		y := rnn.Forward(a, x, rnn.NewState(x.Dim(0)))
		z := mha.SelfForward(a, q, AttentionMask{KeyPadding: pad})
		return append(slices.Clone(y.Data), z.Data...)
	}
	want := run(NewArena(0))
	const workers = 4
	errs := make(chan string, workers)
	for w := 0; w < workers; w++ {
		go func() {
			a := NewArena(0)
			for i := 0; i < 5; i++ {
				if got := run(a); !slices.Equal(got, want) {
					errs <- "a concurrent pass differs from the sequential one"
					return
				}
			}
			errs <- ""
		}()
	}
	for w := 0; w < workers; w++ {
		if e := <-errs; e != "" {
			t.Error(e)
		}
	}
}

func FuzzParseActivation(f *testing.F) {
	for _, s := range []string{"", "relu", "GELU", "tanh", "sigmoid", "linear", "swish", "Relu\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		act, err := ParseActivation(s)
		if err != nil {
			return
		}
		// Every accepted name round-trips through String.
		if again, err := ParseActivation(act.String()); err != nil || again != act {
			t.Fatalf("%q parsed as %v, which parses back as %v, %v", s, act, again, err)
		}
	})
}

func TestAddConcat(t *testing.T) {
	x := NewAct([]float32{1, 2, 3, 4, 5, 6}, 1, 2, 3)
	y := NewAct([]float32{10, 20, 30, 40, 50, 60}, 1, 2, 3)
	if got := Add(nil, x, y).Data; !slices.Equal(got, []float32{11, 22, 33, 44, 55, 66}) {
		t.Errorf("Add = %v", got)
	}
	w := NewAct([]float32{7, 8}, 1, 2, 1)
	c := Concat(nil, -1, x, w)
	if !slices.Equal(c.Shape(), []int{1, 2, 4}) || !slices.Equal(c.Data, []float32{1, 2, 3, 7, 4, 5, 6, 8}) {
		t.Errorf("Concat along the last dimension = %v %v", c.Shape(), c.Data)
	}
	c = Concat(nil, 1, x, y)
	if !slices.Equal(c.Shape(), []int{1, 4, 3}) || !slices.Equal(c.Data, append(slices.Clone(x.Data), y.Data...)) {
		t.Errorf("Concat along channels = %v %v", c.Shape(), c.Data)
	}
	if tt := c.Tensor(); !slices.Equal(tt.Shape(), []int{1, 4, 3}) || !slices.Equal(FromTensor(tt).Data, c.Data) {
		t.Errorf("Tensor round trip: %v", tt.Shape())
	}
	defer func() {
		if recover() == nil {
			t.Error("Concat of mismatched shapes did not panic")
		}
	}()
	Concat(nil, 1, x, w)
}
