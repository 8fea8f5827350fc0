package speech

import "math"

// PreEmphasis applies y[t] = x[t] − coeff·x[t−1] in place (x[−1] = 0), as
// torchaudio.functional.preemphasis does; DeEmphasis undoes it.
func PreEmphasis(x []float32, coeff float32) {
	for i := len(x) - 1; i > 0; i-- {
		x[i] -= coeff * x[i-1]
	}
}

// DeEmphasis applies y[t] = x[t] + coeff·y[t−1] in place.
func DeEmphasis(x []float32, coeff float32) {
	for i := 1; i < len(x); i++ {
		x[i] += coeff * x[i-1]
	}
}

// PeakNormalize scales x in place so that its largest magnitude is peak (a silent
// signal is left alone) and returns the gain applied.
func PeakNormalize(x []float32, peak float32) float32 {
	var m float32
	for _, v := range x {
		m = max(m, abs32(v))
	}
	if m == 0 {
		return 1
	}
	g := peak / m
	for i := range x {
		x[i] *= g
	}
	return g
}

// RMSNormalize scales x in place to the given RMS level (in dBFS, e.g. −20) and
// returns the gain applied; a silent signal is left alone.
func RMSNormalize(x []float32, dbfs float64) float32 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	if s == 0 || len(x) == 0 {
		return 1
	}
	rms := math.Sqrt(s / float64(len(x)))
	g := float32(math.Pow(10, dbfs/20) / rms)
	for i := range x {
		x[i] *= g
	}
	return g
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}

// MuLawEncode quantizes x (clipped to [−1, 1]) to quantizationChannels levels with
// μ-law companding, as torchaudio.functional.mu_law_encoding: the WaveNet target.
func MuLawEncode(x float32, quantizationChannels int) int {
	mu := float64(quantizationChannels - 1)
	v := math.Max(-1, math.Min(1, float64(x)))
	y := math.Copysign(math.Log1p(mu*math.Abs(v))/math.Log1p(mu), v)
	return int((y+1)/2*mu + 0.5)
}

// MuLawDecode is MuLawEncode's inverse (torchaudio.functional.mu_law_decoding).
func MuLawDecode(q int, quantizationChannels int) float32 {
	mu := float64(quantizationChannels - 1)
	y := float64(q)/mu*2 - 1
	return float32(math.Copysign(1, y) * (math.Exp(math.Abs(y)*math.Log1p(mu)) - 1) / mu)
}
