package train

import "testing"

// BenchmarkStep is one training step of the fortunes model (embedding 64, two layers
// of 384, 32 sequences of 100 characters); tokens/s = 3200 / (ns/op · 1e-9).
func BenchmarkStep(b *testing.B) {
	s, err := NewStepper(113, 64, 384, 2, 32, 100, 0.15)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Step(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(s.Tokens()*b.N)/b.Elapsed().Seconds(), "tokens/s")
}
