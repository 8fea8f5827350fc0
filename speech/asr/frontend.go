package asr

import (
	"fmt"
	"math"
	"sync"

	"github.com/plexusml/plexus/core/kernels"
	"github.com/plexusml/plexus/core/nn"
	"github.com/plexusml/plexus/speech"
)

// normEps keeps the per-bin normalisation finite on constant input (silence).
const normEps = 1e-5

// FrontEnd is the log-mel configuration: torchaudio's MelSpectrogram (power 2, Hann
// window, centred frames, HTK mels) then ln(mel + 1e-6). speech.LogMel computes it in
// float64; Features computes the same with two float32 GEMMs.
func (c Config) FrontEnd() speech.LogMelConfig {
	return speech.LogMelConfig{
		MelSpecConfig: speech.MelSpecConfig{
			STFT: speech.STFTConfig{NFFT: c.NFFT, Hop: c.HopLength},
			Mel:  speech.MelConfig{SampleRate: c.SampleRate, NMels: c.NMels},
		},
		Offset: 1e-6,
	}
}

// frontEnd holds the matrices of the GEMM front end: the windowed real DFT (NFFT ×
// 2·bins: cosines, then negated sines) and the mel filterbank (bins × NMels).
type frontEnd struct {
	nfft, hop, bins, mels int
	basis, fb             []float32
	// basisP and fbP are the same matrices packed once for the GEMM kernel, which
	// would otherwise re-pack them on every call.
	basisP, fbP *kernels.PackedB
}

type frontEndKey struct{ rate, nfft, hop, mels int }

// frontEnds caches the matrices per configuration: building the DFT basis costs more
// than transforming a few seconds of audio.
var frontEnds sync.Map // frontEndKey → *frontEnd

func (c Config) frontEnd() (*frontEnd, error) {
	k := frontEndKey{c.SampleRate, c.NFFT, c.HopLength, c.NMels}
	if fe, ok := frontEnds.Load(k); ok {
		return fe.(*frontEnd), nil
	}
	bins := c.NFFT/2 + 1
	fb, err := speech.MelFilterbank(bins, speech.MelConfig{SampleRate: c.SampleRate, NMels: c.NMels})
	if err != nil {
		return nil, err
	}
	win, err := speech.PeriodicWindow(speech.WindowHann, c.NFFT)
	if err != nil {
		return nil, err
	}
	fe := &frontEnd{nfft: c.NFFT, hop: c.HopLength, bins: bins, mels: c.NMels,
		basis: make([]float32, c.NFFT*2*bins), fb: make([]float32, len(fb))}
	for n := 0; n < c.NFFT; n++ {
		for k := 0; k < bins; k++ {
			// Exact phase: n·k mod NFFT keeps the argument small.
			a := 2 * math.Pi * float64((n*k)%c.NFFT) / float64(c.NFFT)
			fe.basis[n*2*bins+k] = float32(win[n] * math.Cos(a))
			fe.basis[n*2*bins+bins+k] = float32(-win[n] * math.Sin(a))
		}
	}
	for i, v := range fb {
		fe.fb[i] = float32(v)
	}
	fe.basisP = kernels.PackB(false, c.NFFT, 2*bins, fe.basis, 2*bins)
	fe.fbP = kernels.PackB(false, bins, c.NMels, fe.fb, c.NMels)
	v, _ := frontEnds.LoadOrStore(k, fe)
	return v.(*frontEnd), nil
}

// Features computes the model's input for one waveform at SampleRate: frames × NMels,
// time-major, each mel bin normalised to zero mean and unit variance over the
// utterance (population variance plus 1e-5). A waveform shorter than the STFT's
// reflection padding (n_fft/2 + 1 samples; torchaudio refuses it) is padded with zeros
// to that length first.
func (c Config) Features(wav []float32) ([]float32, int, error) {
	fe, err := c.frontEnd()
	if err != nil {
		return nil, 0, err
	}
	return fe.features(nil, wav)
}

// features runs the front end with its temporaries (and result) from the arena; a nil
// arena allocates. The power spectrum of every centred, reflection-padded frame is a
// GEMM with the windowed DFT basis, the mel energies a second GEMM; the log and the
// normalisation are in float64.
func (fe *frontEnd) features(a *nn.Arena, wav []float32) ([]float32, int, error) {
	if len(wav) == 0 {
		return nil, 0, fmt.Errorf("asr: empty waveform")
	}
	pad := fe.nfft / 2
	if len(wav) < pad+1 {
		w := a.Zeros(pad + 1)
		copy(w, wav)
		wav = w
	}
	L := len(wav)
	T := 1 + L/fe.hop
	frames := a.Floats(T * fe.nfft)
	for t := 0; t < T; t++ {
		row := frames[t*fe.nfft : (t+1)*fe.nfft]
		s := t*fe.hop - pad
		if s >= 0 && s+fe.nfft <= L {
			copy(row, wav[s:s+fe.nfft])
			continue
		}
		for n := range row {
			i := s + n
			if i < 0 {
				i = -i
			}
			if i >= L {
				i = 2*(L-1) - i
			}
			row[n] = wav[i]
		}
	}
	B := fe.bins
	spec := a.Floats(T * 2 * B)
	kernels.SgemmPacked(false, T, 1, frames, fe.nfft, fe.basisP, 0, spec, 2*B)
	power := frames[:T*B] // the frames are consumed
	for t := 0; t < T; t++ {
		re, im := spec[t*2*B:t*2*B+B], spec[t*2*B+B:(t+1)*2*B]
		p := power[t*B : (t+1)*B]
		for k := range p {
			p[k] = re[k]*re[k] + im[k]*im[k]
		}
	}
	M := fe.mels
	out := a.Floats(T * M)
	kernels.SgemmPacked(false, T, 1, power, B, fe.fbP, 0, out, M)
	mean := make([]float64, 2*M)
	vr := mean[M:]
	mean = mean[:M]
	for t := 0; t < T; t++ {
		row := out[t*M : (t+1)*M]
		for m, v := range row {
			l := math.Log(float64(v) + 1e-6)
			row[m] = float32(l)
			mean[m] += l
		}
	}
	for m := range mean {
		mean[m] /= float64(T)
	}
	for t := 0; t < T; t++ {
		for m, v := range out[t*M : (t+1)*M] {
			d := float64(v) - mean[m]
			vr[m] += d * d
		}
	}
	for m := range vr {
		vr[m] = 1 / math.Sqrt(vr[m]/float64(T)+normEps)
	}
	for t := 0; t < T; t++ {
		row := out[t*M : (t+1)*M]
		for m, v := range row {
			row[m] = float32((float64(v) - mean[m]) * vr[m])
		}
	}
	return out, T, nil
}
