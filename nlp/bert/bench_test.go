package bert

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/plexusml/plexus/core/nn"
	"github.com/plexusml/plexus/core/nn/weights"
	"github.com/plexusml/plexus/core/tensor"
)

// BenchmarkBaseForward is BERT-base (random weights) on 8 sequences of 128 tokens.
func BenchmarkBaseForward(b *testing.B) {
	c := &Config{VocabSize: 30522, HiddenSize: 768, NumHiddenLayers: 12, NumAttentionHeads: 12, IntermediateSize: 3072,
		HiddenAct: "gelu", MaxPositionEmbeddings: 512, TypeVocabSize: 2, LayerNormEps: 1e-12}
	rng := rand.New(rand.NewPCG(1, 1))
	sd := map[string]*tensor.Tensor{}
	add := func(name string, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = (rng.Float32()*2 - 1) * 0.035
			if len(shape) == 1 && name[len(name)-6:] == "weight" {
				v[i] += 1
			}
		}
		sd[name] = tensor.FromFloat32(v, shape...)
	}
	d, f := 768, 3072
	add("embeddings.word_embeddings.weight", c.VocabSize, d)
	add("embeddings.position_embeddings.weight", 512, d)
	add("embeddings.token_type_embeddings.weight", 2, d)
	add("embeddings.LayerNorm.weight", d)
	add("embeddings.LayerNorm.bias", d)
	add("pooler.dense.weight", d, d)
	add("pooler.dense.bias", d)
	for i := 0; i < 12; i++ {
		p := fmt.Sprintf("encoder.layer.%d.", i)
		for _, l := range []string{"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"} {
			add(p+l+".weight", d, d)
			add(p+l+".bias", d)
		}
		add(p+"intermediate.dense.weight", f, d)
		add(p+"intermediate.dense.bias", f)
		add(p+"output.dense.weight", d, f)
		add(p+"output.dense.bias", d)
		for _, l := range []string{"attention.output.LayerNorm", "output.LayerNorm"} {
			add(p+l+".weight", d)
			add(p+l+".bias", d)
		}
	}
	m, err := New(weights.NewMapStore("", sd), c, Options{})
	if err != nil {
		b.Fatal(err)
	}
	in := Batch{Batch: 8, Len: 128, IDs: make([]int64, 8*128)}
	for i := range in.IDs {
		in.IDs[i] = int64(rng.IntN(c.VocabSize))
	}
	a := nn.NewArena(0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a.Reset()
		if _, err := m.Forward(a, in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(8*b.N)/b.Elapsed().Seconds(), "sequences/s")
}
