package speech

import (
	"fmt"
	"math"
)

// FbankConfig holds the options of Kaldi's compute-fbank-feats as
// torchaudio.compliance.kaldi.fbank names them. DefaultFbank gives Kaldi's defaults;
// dithering is not offered, since features must be reproducible (torchaudio's
// default dither is 0 too).
type FbankConfig struct {
	SampleRate        float64
	FrameLengthMs     float64
	FrameShiftMs      float64
	NumMelBins        int
	LowFreq, HighFreq float64 // HighFreq ≤ 0 is an offset from the Nyquist frequency
	Preemphasis       float64
	Window            string // povey, hanning, hamming, rectangular, blackman
	BlackmanCoeff     float64
	RemoveDCOffset    bool
	RawEnergy         bool
	RoundToPowerOfTwo bool
	SnipEdges         bool
	UsePower          bool
	UseLogFbank       bool
	UseEnergy         bool
	EnergyFloor       float64
	HTKCompat         bool
	SubtractMean      bool
}

// DefaultFbank returns Kaldi's (and torchaudio's) defaults at the given rate.
func DefaultFbank(rate float64) FbankConfig {
	return FbankConfig{SampleRate: rate, FrameLengthMs: 25, FrameShiftMs: 10, NumMelBins: 23,
		LowFreq: 20, Preemphasis: 0.97, Window: "povey", BlackmanCoeff: 0.42, RemoveDCOffset: true,
		RawEnergy: true, RoundToPowerOfTwo: true, SnipEdges: true, UsePower: true, UseLogFbank: true,
		EnergyFloor: 1}
}

// float32Eps is std::numeric_limits<float>::epsilon(), Kaldi's floor before a log.
const float32Eps = 1.1920928955078125e-07

func kaldiWindow(kind string, n int, blackman float64) ([]float64, error) {
	w := make([]float64, n)
	a := 2 * math.Pi / float64(n-1)
	for i := range w {
		x := a * float64(i)
		switch kind {
		case "hanning":
			w[i] = 0.5 - 0.5*math.Cos(x)
		case "povey":
			w[i] = math.Pow(0.5-0.5*math.Cos(x), 0.85)
		case "hamming":
			w[i] = 0.54 - 0.46*math.Cos(x)
		case "rectangular":
			w[i] = 1
		case "blackman":
			w[i] = blackman - 0.5*math.Cos(x) + (0.5-blackman)*math.Cos(2*x)
		default:
			return nil, fmt.Errorf("fbank: unknown window %q (povey, hanning, hamming, rectangular, blackman)", kind)
		}
	}
	return w, nil
}

func kaldiMel(f float64) float64 { return 1127 * math.Log(1+f/700) }

// kaldiMelBanks is get_mel_banks without VTLN warping: bins × (padded/2) weights.
func kaldiMelBanks(bins, padded int, rate, low, high float64) ([]float64, error) {
	nyq := rate / 2
	if high <= 0 {
		high += nyq
	}
	if !(low >= 0 && low < nyq && high > 0 && high <= nyq && low < high) {
		return nil, fmt.Errorf("fbank: low_freq %g and high_freq %g against Nyquist %g", low, high, nyq)
	}
	nfft := padded / 2
	width := rate / float64(padded)
	mLow, mHigh := kaldiMel(low), kaldiMel(high)
	delta := (mHigh - mLow) / float64(bins+1)
	w := make([]float64, bins*nfft)
	for b := 0; b < bins; b++ {
		left := mLow + float64(b)*delta
		center := mLow + float64(b+1)*delta
		right := mLow + float64(b+2)*delta
		for i := 0; i < nfft; i++ {
			m := kaldiMel(width * float64(i))
			up := (m - left) / (center - left)
			down := (right - m) / (right - center)
			w[b*nfft+i] = math.Max(0, math.Min(up, down))
		}
	}
	return w, nil
}

// Fbank computes Kaldi filterbank features as torchaudio.compliance.kaldi.fbank does:
// frames × (NumMelBins [+1 with UseEnergy]), returned as a Features with Rows = frames
// and Frames = the feature dimension (Kaldi's frame-major layout).
func Fbank(x []float32, c FbankConfig) (*Features, error) {
	shift := int(c.SampleRate * c.FrameShiftMs * 0.001)
	size := int(c.SampleRate * c.FrameLengthMs * 0.001)
	padded := size
	if c.RoundToPowerOfTwo {
		padded = 1
		for padded < size {
			padded *= 2
		}
	}
	switch {
	case size < 2 || size > len(x):
		return nil, fmt.Errorf("fbank: window of %d samples for %d samples of audio", size, len(x))
	case shift < 1:
		return nil, fmt.Errorf("fbank: frame shift %g ms is under one sample", c.FrameShiftMs)
	case padded%2 != 0:
		return nil, fmt.Errorf("fbank: padded window %d is odd; use round_to_power_of_two or change frame_length", padded)
	case c.Preemphasis < 0 || c.Preemphasis > 1:
		return nil, fmt.Errorf("fbank: preemphasis %g is outside [0, 1]", c.Preemphasis)
	case c.NumMelBins < 1:
		return nil, fmt.Errorf("fbank: %d mel bins", c.NumMelBins)
	}
	win, err := kaldiWindow(c.Window, size, c.BlackmanCoeff)
	if err != nil {
		return nil, err
	}
	banks, err := kaldiMelBanks(c.NumMelBins, padded, c.SampleRate, c.LowFreq, c.HighFreq)
	if err != nil {
		return nil, err
	}
	sig := make([]float64, len(x))
	for i, v := range x {
		sig[i] = float64(v)
	}
	var m int
	if c.SnipEdges {
		m = 1 + (len(sig)-size)/shift
	} else {
		// Kaldi reflects the signal at both ends (repeating the edge sample) so that
		// the frame count depends only on the shift.
		m = (len(sig) + shift/2) / shift
		pad := size/2 - shift/2
		n := len(sig)
		rev := make([]float64, n)
		for i := range rev {
			rev[i] = sig[n-1-i]
		}
		var ext []float64
		if pad > 0 {
			ext = append(append(append(ext, rev[n-pad:]...), sig...), rev...)
		} else {
			ext = append(append(ext, sig[-pad:]...), rev...)
		}
		sig = ext
	}
	dim := c.NumMelBins
	if c.UseEnergy {
		dim++
	}
	out := make([]float64, m*dim)
	frame := make([]float64, padded)
	in := make([]complex128, padded)
	spec := make([]complex128, padded)
	fft := NewFFT(padded)
	nfft := padded / 2
	for t := 0; t < m; t++ {
		clear(frame)
		copy(frame, sig[t*shift:t*shift+size])
		f := frame[:size]
		if c.RemoveDCOffset {
			var mean float64
			for _, v := range f {
				mean += v
			}
			mean /= float64(size)
			for i := range f {
				f[i] -= mean
			}
		}
		energy := func() float64 {
			var e float64
			for _, v := range frame {
				e += v * v
			}
			le := math.Log(math.Max(e, float32Eps))
			if c.EnergyFloor != 0 {
				le = math.Max(le, math.Log(c.EnergyFloor))
			}
			return le
		}
		var logE float64
		if c.RawEnergy {
			logE = energy()
		}
		if c.Preemphasis != 0 {
			for i := size - 1; i > 0; i-- {
				f[i] -= c.Preemphasis * f[i-1]
			}
			f[0] -= c.Preemphasis * f[0]
		}
		for i := range f {
			f[i] *= win[i]
		}
		if !c.RawEnergy {
			logE = energy()
		}
		for i, v := range frame {
			in[i] = complex(v, 0)
		}
		fft.Forward(in, spec)
		row := out[t*dim : (t+1)*dim]
		mel := row
		if c.UseEnergy {
			if c.HTKCompat {
				row[dim-1] = logE
				mel = row[:dim-1]
			} else {
				row[0] = logE
				mel = row[1:]
			}
		}
		for b := range mel {
			var acc float64
			wb := banks[b*nfft : (b+1)*nfft]
			for i, w := range wb {
				if w == 0 {
					continue
				}
				s := spec[i]
				p := real(s)*real(s) + imag(s)*imag(s)
				if !c.UsePower {
					p = math.Sqrt(p)
				}
				acc += w * p
			}
			if c.UseLogFbank {
				acc = math.Log(math.Max(acc, float32Eps))
			}
			mel[b] = acc
		}
	}
	if c.SubtractMean && m > 0 {
		for j := 0; j < dim; j++ {
			var mean float64
			for t := 0; t < m; t++ {
				mean += out[t*dim+j]
			}
			mean /= float64(m)
			for t := 0; t < m; t++ {
				out[t*dim+j] -= mean
			}
		}
	}
	return toFeatures(out, m, dim), nil
}
