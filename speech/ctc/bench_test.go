package ctc

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// peaky returns emissions shaped like a trained model's: mostly blank, one confident
// label per few frames, and noise on the rest (10 s of wav2vec2 output: 500 frames).
func peaky(frames int, labels []string) []float32 {
	rng := rand.New(rand.NewPCG(1, 1))
	c := len(labels)
	em := make([]float32, frames*c)
	for f := 0; f < frames; f++ {
		row := em[f*c : (f+1)*c]
		for j := range row {
			row[j] = float32(rng.NormFloat64())
		}
		if rng.IntN(10) < 7 {
			row[0] += 8
		} else {
			row[1+rng.IntN(c-1)] += 6
		}
	}
	return em
}

var w2vLabels = strings.Split("-|ETAONIHSRDLUMWCFGYPBVK'XJQZ", "")

func benchDecode(b *testing.B, o Options) {
	em := peaky(500, w2vLabels)
	d, err := NewDecoder(w2vLabels, o)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Decode(em, 500); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(10*float64(b.N)/b.Elapsed().Seconds(), "audio-s/s")
}

func BenchmarkGreedy10s(b *testing.B) { benchDecode(b, Options{}) }
func BenchmarkBeam16(b *testing.B)    { benchDecode(b, Options{Method: Beam, BeamWidth: 16}) }
func BenchmarkBeam64(b *testing.B)    { benchDecode(b, Options{Method: Beam, BeamWidth: 64}) }

func BenchmarkBeam16LM(b *testing.B) {
	var text strings.Builder
	rng := rand.New(rand.NewPCG(2, 2))
	words := strings.Fields("THE OF AND TO IN IS YOU THAT IT HE WAS FOR ON ARE AS WITH HIS THEY AT BE THIS HAVE FROM OR ONE HAD BY WORD BUT NOT WHAT ALL WERE WE WHEN YOUR CAN SAID THERE USE AN EACH WHICH SHE DO HOW THEIR IF")
	for i := 0; i < 5000; i++ {
		for j := 3 + rng.IntN(8); j > 0; j-- {
			text.WriteString(words[rng.IntN(len(words))] + " ")
		}
		text.WriteString("\n")
	}
	lm, err := TrainCharLM(strings.NewReader(text.String()), 6, CharLMOptions{})
	if err != nil {
		b.Fatal(err)
	}
	benchDecode(b, Options{Method: Beam, BeamWidth: 16, LM: lm, LMWeight: 0.5, WordBonus: 1})
}

func BenchmarkBeam16Pruned(b *testing.B) {
	benchDecode(b, Options{Method: Beam, BeamWidth: 16, TokenMinLogProb: -8})
}
