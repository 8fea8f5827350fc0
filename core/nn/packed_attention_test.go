package nn

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/plexusml/plexus/core/nn/weights"
)

// sinAct is a deterministic activation of the given shape.
func sinAct(shape ...int) Act {
	n := 1
	for _, d := range shape {
		n *= d
	}
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(math.Sin(0.37 * float64(i)))
	}
	return NewAct(x, shape...)
}

// replaced returns a new slice of w's length with other values.
func replaced(w []float32, seed int) []float32 {
	nw := make([]float32, len(w))
	for i := range nw {
		nw[i] = float32((i*7+seed)%11-5) * 0.05
	}
	return nw
}

// attentionPaths runs m over every projection path Forward has (fused query, key and
// value; fused key and value; three projections) at several rows and returns the
// outputs, concatenated.
func attentionPaths(m *MultiHeadAttention) []float32 {
	var out []float32
	for _, lq := range []int{1, 2, 5} {
		q := sinAct(2, lq, m.Embed)
		kv := sinAct(2, 3, m.Embed)
		k, v := NewAct(slices.Clone(kv.Data), kv.Shape()...), NewAct(slices.Clone(kv.Data), kv.Shape()...)
		out = append(out, m.SelfForward(nil, q, AttentionMask{Causal: true}).Data...)
		out = append(out, m.Forward(nil, q, kv, kv, AttentionMask{}).Data...)
		out = append(out, m.Forward(nil, q, k, v, AttentionMask{}).Data...)
	}
	// One sequence of one token: the single-row products that are not packed.
	x := sinAct(1, 1, m.Embed)
	return append(out, m.SelfForward(nil, x, AttentionMask{}).Data...)
}

// lstmRuns runs l over batches of one and three sequences, full and padded, and returns
// the outputs and final states, concatenated.
func lstmRuns(l *LSTM) []float32 {
	var out []float32
	for _, batch := range []int{1, 3} {
		x := sinAct(batch, 4, l.In)
		st := l.NewState(batch)
		out = append(out, l.Forward(nil, x, st).Data...)
		out = append(out, st.H...)
		var lengths []int
		for b := range batch {
			lengths = append(lengths, 4-b)
		}
		out = append(out, l.ForwardLengths(nil, x, nil, lengths).Data...)
	}
	return out
}

var packedShapes = map[string][]int{
	"attn.in_proj_weight": {48, 16}, "attn.in_proj_bias": {48}, "attn.out_proj.weight": {16, 16}, "attn.out_proj.bias": {16},
	"rnn.weight_ih_l0": {32, 6}, "rnn.weight_hh_l0": {32, 8}, "rnn.bias_ih_l0": {32}, "rnn.bias_hh_l0": {32},
	"rnn.weight_ih_l0_reverse": {32, 6}, "rnn.weight_hh_l0_reverse": {32, 8},
	"rnn.weight_ih_l1": {32, 16}, "rnn.weight_hh_l1": {32, 8}, "rnn.bias_ih_l1": {32}, "rnn.bias_hh_l1": {32},
	"rnn.weight_ih_l1_reverse": {32, 16}, "rnn.weight_hh_l1_reverse": {32, 8},
}

// bindPacked binds fresh layers on st's weights.
func bindPacked(t *testing.T, st weights.Store) (*MultiHeadAttention, *LSTM) {
	t.Helper()
	b := weights.NewBinder(st)
	m := NewMultiheadAttention(b, "attn", AttentionConfig{Heads: 4, BatchFirst: true})
	l := NewLSTM(b, "rnn", LSTMConfig{BatchFirst: true})
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	return m, l
}

// TestPackedProjectionsFollowReplacement: attention and LSTM results after their
// weights are replaced by new slices equal those of fresh layers built on the new
// weights, so no product keeps using a stale packed copy.
func TestPackedProjectionsFollowReplacement(t *testing.T) {
	st := randomStore(packedShapes)
	m, l := bindPacked(t, st)
	attentionPaths(m) // packs every projection
	lstmRuns(l)

	e := m.Embed
	m.QKVWeight = replaced(m.QKVWeight, 1)
	m.WQ, m.WK, m.WV = m.QKVWeight[:e*e], m.QKVWeight[e*e:2*e*e], m.QKVWeight[2*e*e:]
	for i := range l.Layers {
		l.Layers[i].WIH = replaced(l.Layers[i].WIH, 2*i)
		l.Layers[i].WHH = replaced(l.Layers[i].WHH, 2*i+1)
	}

	fm, fl := bindPacked(t, st)
	fm.QKVWeight = slices.Clone(m.QKVWeight)
	fm.WQ, fm.WK, fm.WV = fm.QKVWeight[:e*e], fm.QKVWeight[e*e:2*e*e], fm.QKVWeight[2*e*e:]
	for i := range fl.Layers {
		fl.Layers[i].WIH = slices.Clone(l.Layers[i].WIH)
		fl.Layers[i].WHH = slices.Clone(l.Layers[i].WHH)
	}
	if got, want := attentionPaths(m), attentionPaths(fm); !slices.Equal(got, want) {
		t.Errorf("attention after replacing its weights: relative difference %.3g from a fresh layer", maxRelDiff(got, want))
	}
	if got, want := lstmRuns(l), lstmRuns(fl); !slices.Equal(got, want) {
		t.Errorf("lstm after replacing its weights: relative difference %.3g from a fresh layer", maxRelDiff(got, want))
	}
}

// TestPackedFirstCallsConcurrent makes the first, packing calls of fresh layers from
// several goroutines at once: every result must equal the sequential one bit for bit
// (and -race must stay quiet).
func TestPackedFirstCallsConcurrent(t *testing.T) {
	st := randomStore(packedShapes)
	m, l := bindPacked(t, st)
	want := append(attentionPaths(m), lstmRuns(l)...)
	m, l = bindPacked(t, st)
	const workers = 4
	got := make([][]float32, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { got[w] = append(attentionPaths(m), lstmRuns(l)...) })
	}
	wg.Wait()
	for w, g := range got {
		if !slices.Equal(g, want) {
			t.Errorf("goroutine %d: relative difference %.3g from the sequential pass", w, maxRelDiff(g, want))
		}
	}
}

// BenchmarkAttentionProjections is self-attention (512 wide, 8 heads) over one short
// sequence, where packing the projection weights on every call costs more than the
// product, and over a batch of long ones, where it does not.
func BenchmarkAttentionProjections(b *testing.B) {
	const e = 512
	bd := weights.NewBinder(randomStore(map[string][]int{"attn.in_proj_weight": {3 * e, e}, "attn.in_proj_bias": {3 * e},
		"attn.out_proj.weight": {e, e}, "attn.out_proj.bias": {e}}))
	m := NewMultiheadAttention(bd, "attn", AttentionConfig{Heads: 8, BatchFirst: true})
	for _, s := range [][2]int{{1, 8}, {8, 128}} {
		b.Run(fmt.Sprintf("%dx%dx%d", s[0], s[1], e), func(b *testing.B) {
			x := sinAct(s[0], s[1], e)
			a := NewArena(0)
			b.ReportAllocs()
			for b.Loop() {
				a.Reset()
				m.SelfForward(a, x, AttentionMask{})
			}
		})
	}
}

// BenchmarkLSTMBatch is a 2-layer, 512-wide LSTM over a batch of 8 sequences of 16
// steps: every step's recurrent product has 8 rows.
func BenchmarkLSTMBatch(b *testing.B) {
	shapes := map[string][]int{}
	for _, l := range []string{"0", "1"} {
		shapes["rnn.weight_ih_l"+l] = []int{2048, 512}
		shapes["rnn.weight_hh_l"+l] = []int{2048, 512}
		shapes["rnn.bias_ih_l"+l] = []int{2048}
		shapes["rnn.bias_hh_l"+l] = []int{2048}
	}
	rnn := NewLSTM(weights.NewBinder(randomStore(shapes)), "rnn", LSTMConfig{BatchFirst: true})
	st := rnn.NewState(8)
	x := sinAct(8, 16, 512)
	a := NewArena(0)
	b.ReportAllocs()
	for b.Loop() {
		a.Reset()
		rnn.Forward(a, x, st)
	}
}
