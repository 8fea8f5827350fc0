package speech

import (
	"fmt"
	"math"
)

// Mel scales.
const (
	ScaleHTK    = "htk"    // 2595·log10(1 + f/700)
	ScaleSlaney = "slaney" // linear below 1 kHz, logarithmic above (Auditory Toolbox)
)

// HzToMel converts a frequency to mels on scale (ScaleHTK or ScaleSlaney).
func HzToMel(f float64, scale string) float64 {
	if scale == ScaleHTK {
		return 2595 * math.Log10(1+f/700)
	}
	const fSp, minLogHz, minLogMel = 200.0 / 3, 1000.0, 15.0
	logstep := math.Log(6.4) / 27
	if f >= minLogHz {
		return minLogMel + math.Log(f/minLogHz)/logstep
	}
	return f / fSp
}

// MelToHz is HzToMel's inverse.
func MelToHz(m float64, scale string) float64 {
	if scale == ScaleHTK {
		return 700 * (math.Pow(10, m/2595) - 1)
	}
	const fSp, minLogHz, minLogMel = 200.0 / 3, 1000.0, 15.0
	logstep := math.Log(6.4) / 27
	if m >= minLogMel {
		return minLogHz * math.Exp(logstep*(m-minLogMel))
	}
	return fSp * m
}

// MelConfig is torchaudio.transforms.MelScale's configuration. Zero FMax means the
// Nyquist frequency; empty Scale is HTK; Norm "slaney" scales each triangle to unit
// area (torchaudio's norm="slaney"), "" leaves peaks at 1.
type MelConfig struct {
	SampleRate int
	NMels      int
	FMin, FMax float64
	Scale      string
	Norm       string
}

// MelFilterbank returns torchaudio.functional.melscale_fbanks(nFreqs, …): an
// nFreqs × NMels matrix, row-major, of triangular filters.
func MelFilterbank(nFreqs int, c MelConfig) ([]float64, error) {
	if c.Scale == "" {
		c.Scale = ScaleHTK
	}
	if c.Scale != ScaleHTK && c.Scale != ScaleSlaney {
		return nil, fmt.Errorf("mel: unknown scale %q (htk, slaney)", c.Scale)
	}
	if c.Norm != "" && c.Norm != "slaney" {
		return nil, fmt.Errorf("mel: unknown norm %q (slaney or none)", c.Norm)
	}
	if c.FMax == 0 {
		c.FMax = float64(c.SampleRate) / 2
	}
	if c.NMels < 1 || c.SampleRate < 1 || c.FMin < 0 || c.FMin >= c.FMax || nFreqs < 2 {
		return nil, fmt.Errorf("mel: n_mels %d, sample rate %d, f_min %g, f_max %g, %d frequencies", c.NMels, c.SampleRate, c.FMin, c.FMax, nFreqs)
	}
	// torchaudio spaces the bins over [0, sample_rate // 2] with integer division.
	top := float64(c.SampleRate / 2)
	freqs := make([]float64, nFreqs)
	for i := range freqs {
		freqs[i] = top * float64(i) / float64(nFreqs-1)
	}
	mMin, mMax := HzToMel(c.FMin, c.Scale), HzToMel(c.FMax, c.Scale)
	fPts := make([]float64, c.NMels+2)
	for i := range fPts {
		fPts[i] = MelToHz(mMin+(mMax-mMin)*float64(i)/float64(c.NMels+1), c.Scale)
	}
	fb := make([]float64, nFreqs*c.NMels)
	for i, f := range freqs {
		for m := 0; m < c.NMels; m++ {
			down := (f - fPts[m]) / (fPts[m+1] - fPts[m])
			up := (fPts[m+2] - f) / (fPts[m+2] - fPts[m+1])
			v := math.Max(0, math.Min(down, up))
			if c.Norm == "slaney" {
				v *= 2 / (fPts[m+2] - fPts[m])
			}
			fb[i*c.NMels+m] = v
		}
	}
	return fb, nil
}

// MelSpecConfig is torchaudio.transforms.MelSpectrogram's configuration: the STFT,
// the power (2 for power, 1 for magnitude; zero means 2) and the mel scale.
type MelSpecConfig struct {
	STFT  STFTConfig
	Power float64
	Mel   MelConfig
}

// Features is a feature matrix in torchaudio's layout: Rows (mels, coefficients)
// × Frames, row-major.
type Features struct {
	Rows, Frames int
	Data         []float32
}

// At returns row r at frame t.
func (f *Features) At(r, t int) float32 { return f.Data[r*f.Frames+t] }

// Transpose returns the Frames × Rows layout (one feature vector per frame).
func (f *Features) Transpose() []float32 {
	out := make([]float32, len(f.Data))
	for r := 0; r < f.Rows; r++ {
		for t := 0; t < f.Frames; t++ {
			out[t*f.Rows+r] = f.Data[r*f.Frames+t]
		}
	}
	return out
}

// melPower computes the mel spectrogram in float64, nMels × frames.
func melPower(x []float32, c MelSpecConfig) ([]float64, int, error) {
	st, err := STFT(x, c.STFT)
	if err != nil {
		return nil, 0, err
	}
	p := c.Power
	if p == 0 {
		p = 2
	}
	spec := st.Power(p) // bins × frames
	fb, err := MelFilterbank(st.Bins, c.Mel)
	if err != nil {
		return nil, 0, err
	}
	nm := c.Mel.NMels
	out := make([]float64, nm*st.Frames)
	for k := 0; k < st.Bins; k++ {
		row := spec[k*st.Frames : (k+1)*st.Frames]
		for m := 0; m < nm; m++ {
			w := fb[k*nm+m]
			if w == 0 {
				continue
			}
			o := out[m*st.Frames : (m+1)*st.Frames]
			for t, v := range row {
				o[t] += w * v
			}
		}
	}
	return out, st.Frames, nil
}

// MelSpectrogram is torchaudio.transforms.MelSpectrogram: NMels × frames.
func MelSpectrogram(x []float32, c MelSpecConfig) (*Features, error) {
	m, frames, err := melPower(x, c)
	if err != nil {
		return nil, err
	}
	return toFeatures(m, c.Mel.NMels, frames), nil
}

func toFeatures(v []float64, rows, frames int) *Features {
	f := &Features{Rows: rows, Frames: frames, Data: make([]float32, len(v))}
	for i, x := range v {
		f.Data[i] = float32(x)
	}
	return f
}

// DBConfig is torchaudio.transforms.AmplitudeToDB: Multiplier 10 for power, 20 for
// magnitude (zero means 10); Amin clamps the input (zero means 1e-10); TopDB, when
// positive, floors the result at max − TopDB over the whole matrix.
type DBConfig struct {
	Multiplier float64
	Amin       float64
	Ref        float64 // zero means 1
	TopDB      float64
}

// toDB converts in place, as torchaudio.functional.amplitude_to_DB.
func toDB(v []float64, c DBConfig) {
	if c.Multiplier == 0 {
		c.Multiplier = 10
	}
	if c.Amin == 0 {
		c.Amin = 1e-10
	}
	if c.Ref == 0 {
		c.Ref = 1
	}
	off := c.Multiplier * math.Log10(math.Max(c.Amin, c.Ref))
	peak := math.Inf(-1)
	for i, x := range v {
		v[i] = c.Multiplier*math.Log10(math.Max(x, c.Amin)) - off
		peak = math.Max(peak, v[i])
	}
	if c.TopDB > 0 {
		floor := peak - c.TopDB
		for i, x := range v {
			v[i] = math.Max(x, floor)
		}
	}
}

// LogMelConfig chooses the log compression of LogMel: with DB set, decibels as
// AmplitudeToDB (the MFCC path); otherwise ln(mel + Offset) (Offset zero means 1e-6,
// torchaudio MFCC's log_mels=True), the usual vocoder conditioning.
type LogMelConfig struct {
	MelSpecConfig
	DB     *DBConfig
	Offset float64
}

// LogMel computes a log-mel spectrogram, NMels × frames.
func LogMel(x []float32, c LogMelConfig) (*Features, error) {
	m, frames, err := melPower(x, c.MelSpecConfig)
	if err != nil {
		return nil, err
	}
	logCompress(m, c)
	return toFeatures(m, c.Mel.NMels, frames), nil
}

func logCompress(m []float64, c LogMelConfig) {
	if c.DB != nil {
		toDB(m, *c.DB)
		return
	}
	off := c.Offset
	if off == 0 {
		off = 1e-6
	}
	for i, v := range m {
		m[i] = math.Log(v + off)
	}
}

// MFCCConfig is torchaudio.transforms.MFCC: NMFCC coefficients (zero means 40) from a
// DCT-II with orthonormal scaling (Norm "ortho", the default; "none" for unscaled) of
// the log-mel spectrogram, which is 10·log10 with top_db 80 unless LogMels asks for
// ln(mel + 1e-6).
type MFCCConfig struct {
	MelSpec MelSpecConfig
	NMFCC   int
	Norm    string
	LogMels bool
}

// DCTMatrix returns torchaudio.functional.create_dct(nMFCC, nMels, norm): an
// nMels × nMFCC matrix, row-major.
func DCTMatrix(nMFCC, nMels int, ortho bool) []float64 {
	d := make([]float64, nMels*nMFCC)
	for n := 0; n < nMels; n++ {
		for k := 0; k < nMFCC; k++ {
			v := math.Cos(math.Pi / float64(nMels) * (float64(n) + 0.5) * float64(k))
			if ortho {
				if k == 0 {
					v *= 1 / math.Sqrt(2)
				}
				v *= math.Sqrt(2 / float64(nMels))
			} else {
				v *= 2
			}
			d[n*nMFCC+k] = v
		}
	}
	return d
}

// MFCC computes NMFCC × frames cepstral coefficients.
func MFCC(x []float32, c MFCCConfig) (*Features, error) {
	if c.NMFCC == 0 {
		c.NMFCC = 40
	}
	nm := c.MelSpec.Mel.NMels
	if c.NMFCC > nm {
		return nil, fmt.Errorf("mfcc: %d coefficients from %d mels", c.NMFCC, nm)
	}
	if c.Norm != "" && c.Norm != "ortho" && c.Norm != "none" {
		return nil, fmt.Errorf("mfcc: unknown norm %q (ortho, none)", c.Norm)
	}
	m, frames, err := melPower(x, c.MelSpec)
	if err != nil {
		return nil, err
	}
	lc := LogMelConfig{DB: &DBConfig{TopDB: 80}}
	if c.LogMels {
		lc.DB = nil
	}
	logCompress(m, lc)
	dct := DCTMatrix(c.NMFCC, nm, c.Norm != "none")
	out := make([]float64, c.NMFCC*frames)
	for n := 0; n < nm; n++ {
		row := m[n*frames : (n+1)*frames]
		for k := 0; k < c.NMFCC; k++ {
			w := dct[n*c.NMFCC+k]
			o := out[k*frames : (k+1)*frames]
			for t, v := range row {
				o[t] += w * v
			}
		}
	}
	return toFeatures(out, c.NMFCC, frames), nil
}
