//go:build !race

package nn

import (
	"testing"

	"github.com/plexusml/plexus/core/nn/weights"
)

// TestTransformerLayerZeroAllocs: after the first pass has sized the arena, a padded
// batch through a post-norm and a pre-norm layer allocates nothing.
func TestTransformerLayerZeroAllocs(t *testing.T) {
	shapes := map[string][]int{}
	for _, p := range []string{"post.", "pre."} {
		for k, v := range map[string][]int{
			"self_attn.in_proj_weight": {48, 16}, "self_attn.in_proj_bias": {48},
			"self_attn.out_proj.weight": {16, 16}, "self_attn.out_proj.bias": {16},
			"norm1.weight": {16}, "norm1.bias": {16}, "norm2.weight": {16}, "norm2.bias": {16},
			"linear1.weight": {24, 16}, "linear1.bias": {24}, "linear2.weight": {16, 24}, "linear2.bias": {16},
		} {
			shapes[p+k] = v
		}
	}
	b := weights.NewBinder(randomStore(shapes))
	post := NewTransformerLayer(b, "post", TorchEncoderLayerNames, TransformerConfig{Heads: 4, Activation: GELU})
	pre := NewTransformerLayer(b, "pre", TorchEncoderLayerNames, TransformerConfig{Heads: 4, PreNorm: true, Activation: ReLU})
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	x := NewAct(make([]float32, 2*5*16), 2, 5, 16)
	for i := range x.Data {
		x.Data[i] = float32(i%11)*0.1 - 0.5
	}
	pad := KeyPaddingFromLengths(nil, []int{5, 3}, 5)
	a := NewArena(0)
	pass := func() {
		a.Reset()
		h := post.Forward(a, x, AttentionMask{KeyPadding: pad})
		_ = pre.Forward(a, h, AttentionMask{KeyPadding: pad})
	}
	pass()
	pass()
	if n := testing.AllocsPerRun(20, pass); n != 0 {
		t.Errorf("%v allocations per steady-state pass, want 0", n)
	}
}
