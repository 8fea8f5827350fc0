package speech

import (
	"fmt"
	"math"
	"math/cmplx"
	"math/rand/v2"
)

// ISTFT inverts an STFT made with cfg by windowed overlap-add, as torch.istft does:
// each frame's inverse DFT is windowed, summed into place and the sum divided by the
// summed squared window; with centred framing the NFFT/2 padding is cut off. length
// is the output length (zero: as many samples as the frames cover).
func ISTFT(s *Spectrogram, cfg STFTConfig, length int) ([]float32, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if s.Bins != c.NFFT/2+1 {
		return nil, fmt.Errorf("istft: %d bins for n_fft %d", s.Bins, c.NFFT)
	}
	win, err := PeriodicWindow(c.Window, c.WinLength)
	if err != nil {
		return nil, err
	}
	full := make([]float64, c.NFFT)
	copy(full[(c.NFFT-c.WinLength)/2:], win)
	total := c.NFFT + c.Hop*(s.Frames-1)
	y := make([]float64, total)
	wsum := make([]float64, total)
	f := NewFFT(c.NFFT)
	spec := make([]complex128, c.NFFT)
	frame := make([]complex128, c.NFFT)
	for t := 0; t < s.Frames; t++ {
		row := s.Data[t*s.Bins : (t+1)*s.Bins]
		copy(spec, row)
		// The negative frequencies of a real signal's spectrum are the conjugates.
		for k := s.Bins; k < c.NFFT; k++ {
			spec[k] = cmplx.Conj(row[c.NFFT-k])
		}
		f.Inverse(spec, frame)
		for i, v := range frame {
			y[t*c.Hop+i] += real(v) * full[i]
			wsum[t*c.Hop+i] += full[i] * full[i]
		}
	}
	start := 0
	if !c.NoCenter {
		start = c.NFFT / 2
	}
	if length <= 0 {
		length = total - 2*start
	}
	out := make([]float32, length)
	for i := range out {
		j := start + i
		if j >= total {
			break
		}
		if wsum[j] > 1e-11 {
			out[i] = float32(y[j] / wsum[j])
		}
	}
	return out, nil
}

// InverseMel estimates a non-negative bins × frames spectrogram whose mel projection
// (MelFilterbank with c) is mel (NMels × frames): multiplicative non-negative least
// squares updates from a transposed-filterbank start, the usual way back from a
// mel spectrogram for Griffin-Lim.
func InverseMel(mel []float64, frames, nFreqs int, c MelConfig, iters int) ([]float64, error) {
	fb, err := MelFilterbank(nFreqs, c)
	if err != nil {
		return nil, err
	}
	nm := c.NMels
	if len(mel) != nm*frames {
		return nil, fmt.Errorf("inverse mel: %d values for %d mels × %d frames", len(mel), nm, frames)
	}
	s := make([]float64, nFreqs*frames)
	// Start: each bin takes the mel energy of the filters over it.
	for k := 0; k < nFreqs; k++ {
		for m := 0; m < nm; m++ {
			w := fb[k*nm+m]
			if w == 0 {
				continue
			}
			for t := 0; t < frames; t++ {
				s[k*frames+t] += w * mel[m*frames+t]
			}
		}
	}
	proj := make([]float64, nm*frames)
	for it := 0; it < iters; it++ {
		clear(proj)
		for k := 0; k < nFreqs; k++ {
			for m := 0; m < nm; m++ {
				if w := fb[k*nm+m]; w != 0 {
					for t := 0; t < frames; t++ {
						proj[m*frames+t] += w * s[k*frames+t]
					}
				}
			}
		}
		for k := 0; k < nFreqs; k++ {
			for t := 0; t < frames; t++ {
				var num, den float64
				for m := 0; m < nm; m++ {
					if w := fb[k*nm+m]; w != 0 {
						num += w * mel[m*frames+t]
						den += w * proj[m*frames+t]
					}
				}
				if den > 1e-20 {
					s[k*frames+t] *= num / den
				}
			}
		}
	}
	return s, nil
}

// GriffinLim reconstructs a waveform of the given length from a bins × frames
// magnitude spectrogram: iterative phase retrieval with torchaudio's momentum 0.99
// ("fast Griffin-Lim"), starting from random phases drawn from seed.
func GriffinLim(mag []float64, frames int, cfg STFTConfig, iters, length int, seed uint64) ([]float32, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	bins := c.NFFT/2 + 1
	if len(mag) != bins*frames {
		return nil, fmt.Errorf("griffin-lim: %d magnitudes for %d bins × %d frames", len(mag), bins, frames)
	}
	r := rand.New(rand.NewPCG(seed, 3))
	spec := &Spectrogram{Frames: frames, Bins: bins, Data: make([]complex128, frames*bins)}
	for t := 0; t < frames; t++ {
		for k := 0; k < bins; k++ {
			spec.Data[t*bins+k] = cmplx.Rect(mag[k*frames+t], 2*math.Pi*r.Float64())
		}
	}
	const momentum = 0.99
	prev := make([]complex128, len(spec.Data))
	var x []float32
	for it := 0; it < iters; it++ {
		if x, err = ISTFT(spec, c, length); err != nil {
			return nil, err
		}
		re, err := STFT(x, c)
		if err != nil {
			return nil, err
		}
		if re.Frames != frames {
			return nil, fmt.Errorf("griffin-lim: %d samples give %d frames, want %d", length, re.Frames, frames)
		}
		for i, v := range re.Data {
			ang := v - complex(momentum/(1+momentum), 0)*prev[i]
			prev[i] = v
			a := cmplx.Abs(ang)
			if a < 1e-16 {
				ang, a = 1, 1
			}
			k, t := i%bins, i/bins
			spec.Data[i] = ang / complex(a, 0) * complex(mag[k*frames+t], 0)
		}
	}
	return ISTFT(spec, c, length)
}
