package speech

import (
	"fmt"
	"math"
	"sync"
)

// Resampler converts audio between two integer sample rates with a windowed-sinc
// polyphase filter: torchaudio.functional.resample's algorithm (Hann² window,
// lowpass_filter_width zero crossings, roll-off 0.99), so the two agree sample for
// sample. After dividing both rates by their gcd, output sample j = b·to + p uses phase
// p's filter over the input starting at b·from. A Resampler is safe for concurrent use.
type Resampler struct {
	From, To int // reduced by their gcd
	width    int
	// kernels[p] is phase p's filter trimmed to its non-zero taps, the first being tap
	// first[p] of the 2·width + From: the Hann² window vanishes beyond ±width input
	// samples of the phase's centre, so most taps of torchaudio's dense kernel are
	// zero and skipping them is most of the speed.
	kernels  [][]float32
	first    []int
	origFrom int
	origTo   int
}

// ResampleOptions tune the filter; zero values mean torchaudio's defaults.
type ResampleOptions struct {
	LowpassFilterWidth int     // zero crossings kept on each side (default 6)
	Rolloff            float64 // cut-off as a fraction of the lower Nyquist (default 0.99)
}

var resamplers sync.Map // [4]int → *Resampler

// NewResampler builds (or returns a cached) resampler from rate from to rate to.
func NewResampler(from, to int, o ResampleOptions) (*Resampler, error) {
	if from <= 0 || to <= 0 {
		return nil, fmt.Errorf("resample: rates %d → %d must be positive", from, to)
	}
	if o.LowpassFilterWidth == 0 {
		o.LowpassFilterWidth = 6
	}
	if o.Rolloff == 0 {
		o.Rolloff = 0.99
	}
	if o.LowpassFilterWidth < 0 || o.Rolloff < 0 || o.Rolloff > 1 {
		return nil, fmt.Errorf("resample: lowpass filter width %d, rolloff %g", o.LowpassFilterWidth, o.Rolloff)
	}
	key := [4]int{from, to, o.LowpassFilterWidth, int(math.Float64bits(o.Rolloff) >> 1)}
	if r, ok := resamplers.Load(key); ok {
		return r.(*Resampler), nil
	}
	g := gcd(from, to)
	of, nf := from/g, to/g
	lw := float64(o.LowpassFilterWidth)
	base := float64(min(of, nf)) * o.Rolloff
	width := int(math.Ceil(lw * float64(of) / base))
	taps := 2*width + of
	if int64(nf)*int64(taps) > 1<<22 {
		return nil, fmt.Errorf("resample: %d → %d Hz reduces to %d/%d, a filter bank of %d phases × %d taps; resample through an intermediate rate", from, to, nf, of, nf, taps)
	}
	r := &Resampler{From: of, To: nf, width: width, origFrom: from, origTo: to, kernels: make([][]float32, nf)}
	for p := 0; p < nf; p++ {
		k := make([]float32, taps)
		for i := range k {
			t := (-float64(p)/float64(nf) + float64(i-width)/float64(of)) * base
			t = math.Max(-lw, math.Min(lw, t))
			w := math.Cos(t * math.Pi / lw / 2)
			w *= w
			t *= math.Pi
			s := 1.0
			if t != 0 {
				s = math.Sin(t) / t
			}
			k[i] = float32(s * w * base / float64(of))
		}
		lo, hi := 0, len(k)
		for lo < hi && k[lo] == 0 {
			lo++
		}
		for hi > lo && k[hi-1] == 0 {
			hi--
		}
		r.kernels[p] = k[lo:hi]
		r.first = append(r.first, lo)
	}
	// Common rate pairs are cached; an unusual pair with a large filter bank is not,
	// so a stream of odd rates cannot grow memory without bound.
	if nf*len(r.kernels[0]) > 1<<16 {
		return r, nil
	}
	v, _ := resamplers.LoadOrStore(key, r)
	return v.(*Resampler), nil
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// OutLen is the output length for n input samples: ceil(n·to/from).
func (r *Resampler) OutLen(n int) int {
	return int((int64(n)*int64(r.To) + int64(r.From) - 1) / int64(r.From))
}

// Process resamples one channel. The signal is taken as zero outside its ends, as
// torchaudio pads it.
func (r *Resampler) Process(x []float32) []float32 {
	if r.From == r.To {
		return append([]float32(nil), x...)
	}
	n := r.OutLen(len(x))
	out := make([]float32, n)
	for j := range out {
		b, p := j/r.To, j%r.To
		k := r.kernels[p]
		start := b*r.From - r.width + r.first[p] // index into x of the first kept tap
		lo, hi := 0, len(k)
		if start < 0 {
			lo = -start
		}
		if start+hi > len(x) {
			hi = len(x) - start
		}
		var acc float32
		if lo < hi {
			xs := x[start+lo : start+hi]
			ks := k[lo:hi]
			acc = dot(xs, ks)
		}
		out[j] = acc
	}
	return out
}

// dot is a four-way unrolled float32 dot product (float32 accumulation as
// PyTorch's conv1d does).
func dot(x, k []float32) float32 {
	k = k[:len(x)]
	var a0, a1, a2, a3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		a0 += x[i] * k[i]
		a1 += x[i+1] * k[i+1]
		a2 += x[i+2] * k[i+2]
		a3 += x[i+3] * k[i+3]
	}
	for ; i < len(x); i++ {
		a0 += x[i] * k[i]
	}
	return (a0 + a1) + (a2 + a3)
}

// Resample converts one channel from rate from to rate to with the default filter.
func Resample(x []float32, from, to int) ([]float32, error) {
	if from == to {
		return append([]float32(nil), x...), nil
	}
	r, err := NewResampler(from, to, ResampleOptions{})
	if err != nil {
		return nil, err
	}
	return r.Process(x), nil
}
