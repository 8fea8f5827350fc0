package lstm

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/plexusml/plexus/core/nn/weights"
	"github.com/plexusml/plexus/core/tensor"
	"github.com/plexusml/plexus/nlp/tokenize"
)

// benchModel is the `plexus bench nlp` model: bytes, embedding 256, two layers of 512.
func benchModel(b *testing.B) *Model {
	rng := rand.New(rand.NewPCG(1, 1))
	sd := map[string]*tensor.Tensor{}
	add := func(name string, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.Float64()*2-1) * 0.044
		}
		sd[name] = tensor.FromFloat32(v, shape...)
	}
	add("embedding.weight", 256, 256)
	for l := 0; l < 2; l++ {
		in := 256
		if l > 0 {
			in = 512
		}
		add(fmt.Sprintf("lstm.weight_ih_l%d", l), 2048, in)
		add(fmt.Sprintf("lstm.weight_hh_l%d", l), 2048, 512)
		add(fmt.Sprintf("lstm.bias_ih_l%d", l), 2048)
		add(fmt.Sprintf("lstm.bias_hh_l%d", l), 2048)
	}
	add("fc.weight", 256, 512)
	add("fc.bias", 256)
	m, err := New(weights.NewBinder(weights.NewMapStore("", sd)), nil)
	if err != nil {
		b.Fatal(err)
	}
	m.Tokenizer = tokenize.Byte{}
	return m
}

func BenchmarkGenerate(b *testing.B) {
	m := benchModel(b)
	o := GenerateOptions{MaxTokens: 100, Temperature: 0.8}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.Generate(context.Background(), []string{"A"}, []uint64{uint64(i)}, o); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "tokens/s")
}
