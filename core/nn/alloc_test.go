//go:build !race

package nn

import (
	"testing"

	"github.com/plexusml/plexus/core/nn/weights"
)

// TestSteadyStateZeroAllocs runs a small conv net, an LSTM step and a transformer-style
// attention block from these layers through one arena: after the first pass has sized
// it, a pass allocates nothing.
func TestSteadyStateZeroAllocs(t *testing.T) {
	st := randomStore(map[string][]int{
		"conv1.weight": {8, 3, 3, 3}, "bn1.weight": {8}, "bn1.bias": {8}, "bn1.running_mean": {8}, "bn1.running_var": {8},
		"conv2.weight": {8, 8, 3, 3}, "conv2.bias": {8},
		"gn.weight": {8}, "gn.bias": {8},
		"fc.weight": {5, 8}, "fc.bias": {5},
		"emb.weight":       {11, 16},
		"rnn.weight_ih_l0": {64, 16}, "rnn.weight_hh_l0": {64, 16}, "rnn.bias_ih_l0": {64}, "rnn.bias_hh_l0": {64},
		"rnn.weight_ih_l1": {64, 16}, "rnn.weight_hh_l1": {64, 16}, "rnn.bias_ih_l1": {64}, "rnn.bias_hh_l1": {64},
		"attn.in_proj_weight": {48, 16}, "attn.in_proj_bias": {48}, "attn.out_proj.weight": {16, 16}, "attn.out_proj.bias": {16},
		"ln.weight": {16}, "ln.bias": {16},
	})
	b := weights.NewBinder(st)
	conv1 := NewConvBN(b, "conv1", "bn1", Conv2dConfig{Padding: Sq(1), ReLU: true})
	conv2 := NewConv2d(b, "conv2", Conv2dConfig{Padding: Sq(1), ReLU: true})
	gn := NewGroupNorm(b, "gn", 2, 0)
	pool := AdaptiveAvgPool2d{Out: [2]int{1, 1}}
	fc := NewLinear(b, "fc", LinearConfig{})
	emb := NewEmbedding(b, "emb")
	rnn := NewLSTM(b, "rnn", LSTMConfig{BatchFirst: true})
	attn := NewMultiheadAttention(b, "attn", AttentionConfig{Heads: 4, BatchFirst: true})
	ln := NewLayerNorm(b, "ln", 0)
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}

	img := NewAct(make([]float32, 2*3*9*9), 2, 3, 9, 9)
	for i := range img.Data {
		img.Data[i] = float32(i%13) * 0.1
	}
	ids := []int64{1, 4, 9}
	state := rnn.NewState(3)
	pad := []bool{false, false, true, false, false, false}
	a := NewArena(0)

	convNet := func() {
		a.Reset()
		h := conv1.Forward(a, img)
		h = conv2.ForwardAdd(a, h, h)
		h = gn.Forward(a, h)
		_ = Concat(a, 1, h, Add(a, h, h)).Reshape(2, -1)
		h = MaxPool2d{Kernel: Sq(3), Stride: Sq(2), Padding: Sq(1)}.Forward(a, h)
		h = pool.Forward(a, h).Reshape(2, 8)
		_ = fc.Forward(a, h)
	}
	lstmStep := func() {
		a.Reset()
		x, err := emb.Forward(a, ids, 3, 1)
		if err != nil {
			t.Fatal(err)
		}
		_ = rnn.Forward(a, x, state)
	}
	attention := func() {
		a.Reset()
		x, _ := emb.Forward(a, []int64{1, 2, 3, 4, 5, 6}, 2, 3)
		y := attn.SelfForward(a, x, AttentionMask{KeyPadding: pad, Causal: true})
		_ = ln.Forward(a, y)
	}
	for name, f := range map[string]func(){"conv net": convNet, "lstm step": lstmStep, "attention": attention} {
		f() // the first pass sizes the arena and the kernels' buffers
		f()
		if n := testing.AllocsPerRun(20, f); n != 0 {
			t.Errorf("%s: %v allocations per steady-state pass, want 0", name, n)
		}
	}
}
