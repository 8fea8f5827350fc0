package builtins

import (
	"context"
	"fmt"
	"math"

	"github.com/plexusml/plexus/core/engine"
	"github.com/plexusml/plexus/core/media"
)

// resample converts audio to one sample rate. Outputs: audio (*media.Audio), rate,
// channels, duration_s.
type resample struct {
	rate int
	mono bool
	lim  media.Limits
}

type resampleConfig struct {
	Rate int  `json:"rate"`
	Mono bool `json:"mono"`
}

func newResample(_ context.Context, s engine.Spec) (engine.Stage, error) {
	c := resampleConfig{Rate: 16000}
	if err := decodeConfig(s, &c); err != nil {
		return nil, err
	}
	if c.Rate < 1000 || c.Rate > 384000 {
		return nil, fmt.Errorf("stage %q: audio.resample: rate %d is outside 1000..384000 Hz", s.Stage.Name, c.Rate)
	}
	return &resample{rate: c.Rate, mono: c.Mono, lim: limits(s)}, nil
}

func (r *resample) Process(ctx context.Context, items []engine.Item, res []engine.Result) error {
	for i := range items {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		a, err := items[i].Audio(r.lim)
		if err != nil {
			res[i].Err = err
			continue
		}
		out := &media.Audio{Rate: r.rate, Channels: a.Channels}
		if r.mono && a.Channels > 1 {
			out.Channels = 1
			out.Samples = Resample(a.Mono(), a.Rate, r.rate)
		} else {
			for c := 0; c < a.Channels; c++ {
				out.Samples = append(out.Samples, Resample(a.Channel(c), a.Rate, r.rate)...)
			}
		}
		res[i].Set("audio", out)
		res[i].Set("rate", out.Rate)
		res[i].Set("channels", out.Channels)
		res[i].Set("duration_s", out.Duration().Seconds())
	}
	return nil
}

// sincZeros is the number of zero crossings of the sinc kept on each side by the
// direct filter, used only for rate pairs whose polyphase filter bank would be too
// large (rates with a tiny common divisor).
const sincZeros = 16

// maxPhases bounds the filter table Resample precomputes: rates whose reduced ratio
// needs more phases than this (rare, e.g. 44099→16000) compute taps on the fly.
const maxPhases = 4096

// Resample converts one channel from rate `from` to rate `to` with a Hann-windowed
// sinc low-pass filter whose cut-off is the lower Nyquist frequency. The output has
// ceil(len(x)·to/from) samples. For the usual rates (8k, 16k, 22.05k, 44.1k, 48k)
// the output positions fall on few fractional phases, so each phase's taps are
// computed once and the inner loop is multiply-adds only.
func Resample(x []float32, from, to int) []float32 {
	if from == to || len(x) == 0 {
		return append([]float32(nil), x...)
	}
	n := int((int64(len(x))*int64(to) + int64(from) - 1) / int64(from))
	out := make([]float32, n)
	fc := math.Min(1, float64(to)/float64(from)) // cut-off relative to the input Nyquist
	half := float64(sincZeros) / fc              // filter half-width in input samples
	g := gcd(from, to)
	l, m := from/g, to/g // output j sits at input position j·l/m
	if m > maxPhases {
		step := float64(from) / float64(to)
		for j := range out {
			t := float64(j) * step
			lo, hi := max(int(math.Ceil(t-half)), 0), min(int(math.Floor(t+half)), len(x)-1)
			var acc float64
			for k := lo; k <= hi; k++ {
				acc += float64(x[k]) * kernel(t-float64(k), fc, half)
			}
			out[j] = float32(acc)
		}
		return out
	}
	// Phase p (fraction p/m of an input sample) uses taps at offsets lo[p]+i from
	// the integer position, weights w[p][i].
	type phase struct {
		lo int
		w  []float32
	}
	phases := make([]phase, m)
	for p := range phases {
		frac := float64(p) / float64(m)
		lo, hi := int(math.Ceil(frac-half)), int(math.Floor(frac+half))
		w := make([]float32, hi-lo+1)
		for i := range w {
			w[i] = float32(kernel(frac-float64(lo+i), fc, half))
		}
		phases[p] = phase{lo, w}
	}
	for j := range out {
		pos := int64(j) * int64(l)
		base, p := int(pos/int64(m)), int(pos%int64(m))
		ph := &phases[p]
		start := base + ph.lo
		w := ph.w
		if start < 0 {
			w = w[min(-start, len(w)):]
			start = 0
		}
		if end := start + len(w); end > len(x) {
			w = w[:max(len(x)-start, 0)]
		}
		var acc float32
		for i, wi := range w {
			acc += x[start+i] * wi
		}
		out[j] = acc
	}
	return out
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func kernel(d, fc, half float64) float64 {
	w := 0.5 * (1 + math.Cos(math.Pi*d/half))
	a := math.Pi * fc * d
	if a == 0 {
		return fc * w
	}
	return fc * math.Sin(a) / a * w
}

var _ engine.Stage = (*resample)(nil)
