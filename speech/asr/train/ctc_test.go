package train

import (
	"math"
	"path/filepath"
	"testing"

	"gorgonia.org/gorgonia"
	gtensor "gorgonia.org/tensor"

	"github.com/plexusml/plexus/core/nn/weights"
)

// ctcFixture is tools/golden/asr.py's CTC case: logits B × T × C, targets, lengths,
// and torch's loss and gradient.
type ctcFixture struct {
	B, T, C       int
	logits, grad  []float32
	loss          float64
	lens, tlens   []int
	targets       [][]int
	targetsPadded []int // B × S
	S             int
}

func loadCTCFixture(t *testing.T) *ctcFixture {
	t.Helper()
	path := filepath.Join("testdata", "ctc.safetensors")
	st, err := weights.OpenSafetensors(path)
	if err != nil {
		t.Fatalf("fixture %s: %v (regenerate with /usr/bin/python3 tools/golden/asr.py)", path, err)
	}
	defer st.Close()
	get := func(n string) ([]float32, []int) {
		x, ok := st.Get(n)
		if !ok {
			t.Fatalf("%s has no %s", path, n)
		}
		return append([]float32(nil), x.ToFloat32().Contiguous().Float32s()...), x.Shape()
	}
	ints := func(n string) []int {
		v, _ := get(n)
		out := make([]int, len(v))
		for i, x := range v {
			out[i] = int(x)
		}
		return out
	}
	f := &ctcFixture{}
	var s []int
	f.logits, s = get("logits")
	f.B, f.T, f.C = s[0], s[1], s[2]
	f.grad, _ = get("grad")
	l, _ := get("loss")
	f.loss = float64(l[0])
	f.lens, f.tlens = ints("input_lengths"), ints("target_lengths")
	f.targetsPadded = ints("targets")
	f.S = len(f.targetsPadded) / f.B
	for b := 0; b < f.B; b++ {
		f.targets = append(f.targets, f.targetsPadded[b*f.S:b*f.S+f.tlens[b]])
	}
	return f
}

// TestCTCLossAgainstTorch: the loss and its gradient with respect to the logits equal
// torch.nn.functional.ctc_loss after log_softmax (sum over the batch / B, infeasible
// items zeroed), padded frames included.
func TestCTCLossAgainstTorch(t *testing.T) {
	f := loadCTCFixture(t)
	g := gorgonia.NewGraph()
	x := gorgonia.NewMatrix(g, gorgonia.Float32, gorgonia.WithShape(f.B*f.T, f.C), gorgonia.WithName("x"),
		gorgonia.WithValue(gtensor.New(gtensor.WithShape(f.B*f.T, f.C), gtensor.WithBacking(append([]float32(nil), f.logits...)))))
	var st ctcStats
	loss, err := ctcLoss(x, f.B, f.T, &ctcBatch{lens: f.lens, targets: f.targets}, &st)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gorgonia.Grad(loss, x); err != nil {
		t.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g, gorgonia.BindDualValues(x))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	got := float64(loss.Value().Data().(float32))
	if math.Abs(got-f.loss) > 1e-4*math.Abs(f.loss) {
		t.Errorf("loss %.6f, torch %.6f", got, f.loss)
	}
	if st.infeasible != 1 {
		t.Errorf("%d infeasible items, the fixture has 1", st.infeasible)
	}
	dv, err := x.Grad()
	if err != nil {
		t.Fatal(err)
	}
	if e := relDiff(dv.Data().([]float32), f.grad); e > 1e-4 {
		t.Errorf("gradient relative error %.2g", e)
	}
}

// TestGorgoniaCTCLoss records why the trainer does not use gorgonia.CTCLoss (v0.9.18)
// on the same fixture: its loss agrees with torch on the items that fit, but its
// gradient leaves −Inf (NaN after the log-softmax) in every frame past an item's
// length. If this test fails, gorgonia has changed: revisit ctcLoss's comment.
func TestGorgoniaCTCLoss(t *testing.T) {
	f := loadCTCFixture(t)
	B := 3 // the feasible items: gorgonia has no zero_infinity
	g := gorgonia.NewGraph()
	// log-softmax, laid out T × B × C as gorgonia.CTCLoss wants.
	lp := make([]float32, f.T*B*f.C)
	for b := 0; b < B; b++ {
		for t := 0; t < f.T; t++ {
			row := f.logits[(b*f.T+t)*f.C : (b*f.T+t+1)*f.C]
			var mx, s float64 = math.Inf(-1), 0
			for _, v := range row {
				mx = math.Max(mx, float64(v))
			}
			for _, v := range row {
				s += math.Exp(float64(v) - mx)
			}
			for c, v := range row {
				lp[(t*B+b)*f.C+c] = float32(float64(v) - mx - math.Log(s))
			}
		}
	}
	x := gorgonia.NewTensor(g, gorgonia.Float32, 3, gorgonia.WithShape(f.T, B, f.C), gorgonia.WithName("lp"),
		gorgonia.WithValue(gtensor.New(gtensor.WithShape(f.T, B, f.C), gtensor.WithBacking(lp))))
	ints := func(name string, v []int, shape ...int) *gorgonia.Node {
		return gorgonia.NewTensor(g, gorgonia.Int, len(shape), gorgonia.WithShape(shape...), gorgonia.WithName(name),
			gorgonia.WithValue(gtensor.New(gtensor.WithShape(shape...), gtensor.WithBacking(append([]int(nil), v...)))))
	}
	tg := ints("targets", f.targetsPadded[:B*f.S], B, f.S)
	il := ints("lens", f.lens[:B], B)
	tl := ints("tlens", f.tlens[:B], B)
	loss, err := gorgonia.CTCLoss(x, tg, il, tl, gorgonia.ReductionSum)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gorgonia.Grad(loss, x); err != nil {
		t.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g, gorgonia.BindDualValues(x))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	// Ours on the same three items, summed.
	var want float64
	grads := make([][]float32, B)
	for b := 0; b < B; b++ {
		grads[b] = make([]float32, f.T*f.C)
		nll, ok := ctcItem(f.logits[b*f.T*f.C:(b+1)*f.T*f.C], grads[b], f.C, f.lens[b], f.targets[b], 1)
		if !ok {
			t.Fatalf("item %d infeasible", b)
		}
		want += nll
	}
	got := float64(loss.Value().Data().(float32))
	if math.Abs(got-want) > 1e-4*want {
		t.Errorf("gorgonia's loss %.6f, ours %.6f", got, want)
	}
	dv, err := x.Grad()
	if err != nil {
		t.Fatal(err)
	}
	gd := dv.Data().([]float32)
	// Inside each item's frames gorgonia's gradient (torch's formula, the gradient with
	// respect to the logits) agrees with ours.
	var worst float64
	for b := 0; b < B; b++ {
		for t := 0; t < f.lens[b]; t++ {
			for c := 0; c < f.C; c++ {
				worst = math.Max(worst, math.Abs(float64(gd[(t*B+b)*f.C+c]-grads[b][t*f.C+c])))
			}
		}
	}
	if worst > 1e-4 {
		t.Errorf("gorgonia's gradient inside the frames differs from ours by %.2g", worst)
	}
	// Item 2 has 7 of 14 frames: gorgonia's gradient rows past them.
	nonFinite := 0
	for t := f.lens[2]; t < f.T; t++ {
		for c := 0; c < f.C; c++ {
			if v := float64(gd[(t*B+2)*f.C+c]); math.IsInf(v, 0) || math.IsNaN(v) {
				nonFinite++
			}
		}
	}
	t.Logf("gorgonia.CTCLoss: loss %.5f (ours %.5f); %d non-finite gradient values in item 2's padded frames", got, want, nonFinite)
	if nonFinite == 0 {
		t.Error("gorgonia.CTCLoss's gradient is finite past the input length now: it may be usable")
	}
}
