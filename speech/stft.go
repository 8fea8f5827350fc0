package speech

import (
	"fmt"
	"math"
)

// Window kinds for STFT frames.
const (
	WindowHann    = "hann"    // periodic Hann, torch.hann_window's default
	WindowHamming = "hamming" // periodic Hamming
	WindowRect    = "rectangular"
)

// STFTConfig follows torch.stft and torchaudio.transforms.Spectrogram. Zero WinLength
// means NFFT and zero Hop means WinLength/2, as in torchaudio.
type STFTConfig struct {
	NFFT      int
	WinLength int
	Hop       int
	Window    string // WindowHann (default), WindowHamming, WindowRect
	// NoCenter turns off torchaudio's default framing, which pads NFFT/2 samples on
	// both sides by reflection so that frame t is centred on sample t·Hop.
	NoCenter bool
	// Normalized divides by the window's L2 norm (torchaudio's normalized=True).
	Normalized bool
}

func (c STFTConfig) withDefaults() (STFTConfig, error) {
	if c.NFFT < 2 {
		return c, fmt.Errorf("stft: n_fft %d is below 2", c.NFFT)
	}
	if c.WinLength == 0 {
		c.WinLength = c.NFFT
	}
	if c.Hop == 0 {
		c.Hop = c.WinLength / 2
	}
	if c.Window == "" {
		c.Window = WindowHann
	}
	if c.WinLength > c.NFFT || c.WinLength < 1 || c.Hop < 1 {
		return c, fmt.Errorf("stft: win_length %d, hop %d for n_fft %d", c.WinLength, c.Hop, c.NFFT)
	}
	return c, nil
}

// PeriodicWindow returns a periodic window of length n (torch.hann_window(n) and
// torch.hamming_window(n) with periodic=True): the symmetric window of length n+1 with
// its last point dropped, which is what PyTorch and librosa use for spectra.
func PeriodicWindow(kind string, n int) ([]float64, error) {
	w := make([]float64, n)
	for i := range w {
		x := 2 * math.Pi * float64(i) / float64(n)
		switch kind {
		case WindowHann, "":
			w[i] = 0.5 - 0.5*math.Cos(x)
		case WindowHamming:
			w[i] = 0.54 - 0.46*math.Cos(x)
		case WindowRect:
			w[i] = 1
		default:
			return nil, fmt.Errorf("stft: unknown window %q (hann, hamming, rectangular)", kind)
		}
	}
	return w, nil
}

// Spectrogram is a frames × (NFFT/2+1) complex STFT, row-major.
type Spectrogram struct {
	Frames, Bins int
	Data         []complex128
}

// STFT computes the short-time Fourier transform of x as torch.stft(x, n_fft, hop,
// win_length, window, center, pad_mode="reflect", onesided=True) does.
func STFT(x []float32, cfg STFTConfig) (*Spectrogram, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	win, err := PeriodicWindow(c.Window, c.WinLength)
	if err != nil {
		return nil, err
	}
	// torch.stft centres a shorter window inside the n_fft frame.
	full := make([]float64, c.NFFT)
	left := (c.NFFT - c.WinLength) / 2
	copy(full[left:], win)
	var norm float64
	for _, v := range win {
		norm += v * v
	}
	norm = math.Sqrt(norm)

	sig := make([]float64, len(x))
	for i, v := range x {
		sig[i] = float64(v)
	}
	if !c.NoCenter {
		pad := c.NFFT / 2
		if len(x) <= pad {
			return nil, fmt.Errorf("stft: %d samples are too few to reflect-pad by %d (n_fft %d)", len(x), pad, c.NFFT)
		}
		sig = reflectPad(sig, pad)
	}
	if len(sig) < c.NFFT {
		return nil, fmt.Errorf("stft: %d samples are shorter than n_fft %d", len(sig), c.NFFT)
	}
	frames := 1 + (len(sig)-c.NFFT)/c.Hop
	bins := c.NFFT/2 + 1
	s := &Spectrogram{Frames: frames, Bins: bins, Data: make([]complex128, frames*bins)}
	f := NewFFT(c.NFFT)
	in := make([]complex128, c.NFFT)
	out := make([]complex128, c.NFFT)
	for t := 0; t < frames; t++ {
		seg := sig[t*c.Hop : t*c.Hop+c.NFFT]
		for i := range in {
			in[i] = complex(seg[i]*full[i], 0)
		}
		f.Forward(in, out)
		row := s.Data[t*bins : (t+1)*bins]
		copy(row, out)
		if c.Normalized {
			for i := range row {
				row[i] /= complex(norm, 0)
			}
		}
	}
	return s, nil
}

// reflectPad pads pad samples on each side, mirroring without repeating the edge
// sample (numpy's and PyTorch's "reflect").
func reflectPad(x []float64, pad int) []float64 {
	n := len(x)
	out := make([]float64, n+2*pad)
	copy(out[pad:], x)
	for i := 0; i < pad; i++ {
		out[pad-1-i] = x[i+1]
		out[pad+n+i] = x[n-2-i]
	}
	return out
}

// Power returns |X|^p per bin, transposed to bins × frames (torchaudio's layout):
// p = 2 is the power spectrogram, p = 1 the magnitude.
func (s *Spectrogram) Power(p float64) []float64 {
	out := make([]float64, s.Frames*s.Bins)
	for t := 0; t < s.Frames; t++ {
		for k := 0; k < s.Bins; k++ {
			v := s.Data[t*s.Bins+k]
			m2 := real(v)*real(v) + imag(v)*imag(v)
			switch p {
			case 2:
				out[k*s.Frames+t] = m2
			case 1:
				out[k*s.Frames+t] = math.Sqrt(m2)
			default:
				out[k*s.Frames+t] = math.Pow(m2, p/2)
			}
		}
	}
	return out
}
