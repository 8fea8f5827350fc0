package wavenet

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/plexusml/plexus/core/kernels"
	"github.com/plexusml/plexus/speech"
)

// fastWeights is the generation layout of a model's weights: every matrix transposed
// to in × out, so one generation step is a chain of gemvAcc calls.
type fastWeights struct {
	in, R, G, S, out, half int
	first, firstB          []float32 // in × R
	layers                 []fastLayer
	condC                  []float32 // (L·G) × cin, every layer's conv1x1c stacked
	last1, last1B          []float32 // S × S
	last2, last2B          []float32 // S × out
}

type fastLayer struct {
	d, size     int       // dilation; queue length (K−1)·d + 1
	conv, convB []float32 // K taps of R × G (tap j reads the input (K−1−j)·d steps back)
	os, osB     []float32 // half × (R+S): conv1x1_out and conv1x1_skip side by side
	condG       []float32 // G × gin (nil without speaker conditioning)
}

// transpose returns the in × out layout of an out × in matrix (tap k of a K-tap
// kernel out × in × K when K > 1).
func transpose(w []float32, out, in, K, k int) []float32 {
	t := make([]float32, in*out)
	for o := 0; o < out; o++ {
		for i := 0; i < in; i++ {
			t[i*out+o] = w[(o*in+i)*K+k]
		}
	}
	return t
}

func orZeros(b []float32, n int) []float32 {
	if b == nil {
		return make([]float32, n)
	}
	return b
}

func (m *Model) buildFast() *fastWeights {
	c := m.Config
	f := &fastWeights{in: m.first.In, R: c.ResidualChannels, G: c.GateChannels, S: c.SkipChannels, out: c.OutChannels, half: c.GateChannels / 2}
	f.first = transpose(m.first.Weight, f.R, f.in, 1, 0)
	f.firstB = orZeros(m.first.Bias, f.R)
	for _, l := range m.layers {
		fl := fastLayer{d: l.dilation, size: (c.KernelSize-1)*l.dilation + 1, convB: orZeros(l.conv.Bias, f.G)}
		for k := 0; k < c.KernelSize; k++ {
			fl.conv = append(fl.conv, transpose(l.conv.Weight, f.G, f.R, c.KernelSize, k)...)
		}
		ot := transpose(l.out.Weight, f.R, f.half, 1, 0)
		st := transpose(l.skip.Weight, f.S, f.half, 1, 0)
		w := f.R + f.S
		fl.os = make([]float32, f.half*w)
		for i := 0; i < f.half; i++ {
			copy(fl.os[i*w:], ot[i*f.R:(i+1)*f.R])
			copy(fl.os[i*w+f.R:], st[i*f.S:(i+1)*f.S])
		}
		fl.osB = append(append([]float32(nil), orZeros(l.out.Bias, f.R)...), orZeros(l.skip.Bias, f.S)...)
		if l.condC != nil {
			f.condC = append(f.condC, l.condC.Weight...)
		}
		if l.condG != nil {
			fl.condG = l.condG.Weight
		}
		f.layers = append(f.layers, fl)
	}
	f.last1 = transpose(m.last1.Weight, f.S, f.S, 1, 0)
	f.last1B = orZeros(m.last1.Bias, f.S)
	f.last2 = transpose(m.last2.Weight, f.out, f.S, 1, 0)
	f.last2B = orZeros(m.last2.Bias, f.out)
	return f
}

// Request is one utterance to generate.
type Request struct {
	// Mel is the cin × Frames conditioning (log-mel frames), required when the model
	// has local conditioning; the output then has Frames·Hop samples unless Length
	// says fewer.
	Mel    []float32
	Frames int
	// Speaker is the speaker id for a model with global conditioning.
	Speaker int64
	// Length is the number of samples; required without local conditioning.
	Length int
	// Seed seeds this item's sampler; the same seed gives the same samples.
	Seed uint64
}

// Options control sampling.
type Options struct {
	// Temperature divides the logits (mu-law) or the mixture logits and logistic
	// noise (MoL); zero means 1, a negative value picks the most likely sample.
	Temperature float32
	// Workers bounds the goroutines of a batched generation (zero: GOMAXPROCS). Items
	// are split between them, each generated step by step on its own.
	Workers int
	// trace, when set, receives every step's outputs (tests compare them with the
	// full forward pass).
	trace func(item, t int, out []float32)
}

// Result is one generated utterance: the waveform in [−1, 1] and, for a mu-law
// model, the sampled classes.
type Result struct {
	Audio   []float32
	Classes []int
}

// state is one utterance's generation state: the activation queues of every layer
// and the step buffers.
type state struct {
	req      Request
	n        int
	rng      *rand.Rand
	cond     []float32 // T × cin upsampled conditioning, time-major
	gproj    []float32 // L × G speaker projection
	queues   [][]float32
	h, gate  []float32
	os, skip []float32
	hid, out []float32
	res      Result
}

// chunk is how many steps of conditioning projections are computed at once: one
// GEMM per chunk instead of one GEMV per layer per step.
const chunk = 128

// Generate produces one waveform per request, step by step with per-layer activation
// queues, so each step costs one pass over the weights and nothing is recomputed.
func (m *Model) Generate(ctx context.Context, reqs []Request, o Options) ([]Result, error) {
	states := make([]*state, len(reqs))
	for i, r := range reqs {
		s, err := m.newState(r)
		if err != nil {
			return nil, fmt.Errorf("wavenet: item %d: %w", i, err)
		}
		states[i] = s
	}
	w := o.Workers
	if w <= 0 {
		w = runtime.GOMAXPROCS(0)
	}
	w = min(w, len(states))
	var wg sync.WaitGroup
	errs := make([]error, w)
	for g := 0; g < w; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			var mine []int
			for i := g; i < len(states); i += w {
				mine = append(mine, i)
			}
			errs[g] = m.run(ctx, states, mine, o)
		}(g)
	}
	wg.Wait()
	for _, e := range errs {
		if e != nil {
			return nil, e
		}
	}
	out := make([]Result, len(states))
	for i, s := range states {
		out[i] = s.res
	}
	return out, nil
}

func (m *Model) newState(r Request) (*state, error) {
	c := m.Config
	f := m.fast
	s := &state{req: r, rng: rand.New(rand.NewPCG(r.Seed, 0x9e3779b97f4a7c15))}
	if c.CinChannels > 0 {
		if r.Frames < 1 || len(r.Mel) != c.CinChannels*r.Frames {
			return nil, fmt.Errorf("conditioning of %d values is not %d channels × %d frames", len(r.Mel), c.CinChannels, r.Frames)
		}
		L := r.Frames * c.Hop()
		s.n = L
		if r.Length > 0 {
			s.n = min(r.Length, L)
		}
		up := m.Upsample(r.Mel, 1, r.Frames)
		s.cond = make([]float32, s.n*c.CinChannels)
		for ch := 0; ch < c.CinChannels; ch++ {
			row := up[ch*L : ch*L+s.n]
			for t, v := range row {
				s.cond[t*c.CinChannels+ch] = v
			}
		}
	} else {
		if r.Length < 1 {
			return nil, fmt.Errorf("length %d: a model without local conditioning needs a length", r.Length)
		}
		s.n = r.Length
	}
	if c.GinChannels > 0 {
		if r.Speaker < 0 || int(r.Speaker) >= c.NSpeakers {
			return nil, fmt.Errorf("speaker %d is outside 0..%d", r.Speaker, c.NSpeakers-1)
		}
		emb := m.speakers.Weight[int(r.Speaker)*c.GinChannels : (int(r.Speaker)+1)*c.GinChannels]
		s.gproj = make([]float32, len(f.layers)*f.G)
		for l, fl := range f.layers {
			kernels.Sgemv(false, f.G, c.GinChannels, 1, fl.condG, c.GinChannels, emb, 1, 0, s.gproj[l*f.G:(l+1)*f.G], 1)
		}
	}
	for _, fl := range f.layers {
		s.queues = append(s.queues, make([]float32, fl.size*f.R))
	}
	s.h, s.gate = make([]float32, f.R), make([]float32, f.G)
	s.os, s.skip = make([]float32, f.R+f.S), make([]float32, f.S)
	s.hid, s.out = make([]float32, f.S), make([]float32, f.out)
	s.res.Audio = make([]float32, s.n)
	if c.Output == OutputMuLaw {
		s.res.Classes = make([]int, s.n)
	}
	return s, nil
}

// run generates the items idx of states, interleaving them step by step.
func (m *Model) run(ctx context.Context, states []*state, idx []int, o Options) error {
	c := m.Config
	f := m.fast
	maxN := 0
	for _, i := range idx {
		maxN = max(maxN, states[i].n)
	}
	var cproj []float32
	if c.CinChannels > 0 {
		cproj = make([]float32, len(idx)*chunk*len(f.layers)*f.G)
	}
	LG := len(f.layers) * f.G
	active := make([]*state, 0, len(idx))
	cps := make([][]float32, 0, len(idx))
	ids := make([]int, 0, len(idx))
	for t0 := 0; t0 < maxN; t0 += chunk {
		if err := ctx.Err(); err != nil {
			return err
		}
		tc := min(chunk, maxN-t0)
		if c.CinChannels > 0 {
			for j, i := range idx {
				s := states[i]
				n := min(tc, s.n-t0)
				if n <= 0 {
					continue
				}
				kernels.Sgemm(false, true, n, LG, c.CinChannels, 1, s.cond[t0*c.CinChannels:], c.CinChannels,
					f.condC, c.CinChannels, 0, cproj[j*chunk*LG:], LG)
			}
		}
		for t := t0; t < t0+tc; t++ {
			active, cps, ids = active[:0], cps[:0], ids[:0]
			for j, i := range idx {
				s := states[i]
				if t >= s.n {
					continue
				}
				var cp []float32
				if cproj != nil {
					cp = cproj[(j*chunk+t-t0)*LG : (j*chunk+t-t0+1)*LG]
				}
				active, cps, ids = append(active, s), append(cps, cp), append(ids, i)
			}
			m.step(active, t, cps)
			for j, s := range active {
				if o.trace != nil {
					o.trace(ids[j], t, s.out)
				}
				m.sample(s, t, o.Temperature)
			}
		}
	}
	return nil
}

// input sets s.h to the first convolution of the sample before step t.
func (m *Model) input(s *state, t int) {
	f := m.fast
	copy(s.h, f.firstB)
	switch {
	case m.Config.ScalarInput:
		x := float32(0)
		if t > 0 {
			x = s.res.Audio[t-1]
		}
		for r := range s.h {
			s.h[r] += x * f.first[r]
		}
	default:
		q := initialClass(m.Config.OutChannels)
		if t > 0 {
			q = s.res.Classes[t-1]
		}
		row := f.first[q*f.R : (q+1)*f.R]
		for r := range s.h {
			s.h[r] += row[r]
		}
	}
}

// initialClass is the mu-law class of silence, the input before the first sample.
func initialClass(q int) int { return speech.MuLawEncode(0, q) }

// step computes the outputs at time t into s.out.
func (m *Model) step(ss []*state, t int, cprojs [][]float32) {
	f := m.fast
	for _, s := range ss {
		m.input(s, t)
		clear(s.skip)
	}
	sq := float32(math.Sqrt(0.5))
	K := m.Config.KernelSize
	// Layer-major over the items: a layer's weights are read once from memory and then
	// reused from cache by every item of the batch.
	for l, fl := range f.layers {
		pos := t % fl.size
		for j, s := range ss {
			q := s.queues[l]
			copy(q[pos*f.R:(pos+1)*f.R], s.h)
			copy(s.gate, fl.convB)
			if cprojs[j] != nil {
				addInto(s.gate, cprojs[j][l*f.G:(l+1)*f.G])
			}
			if s.gproj != nil {
				addInto(s.gate, s.gproj[l*f.G:(l+1)*f.G])
			}
			for k := 0; k < K; k++ {
				lag := (K - 1 - k) * fl.d
				if t < lag {
					continue // the causal zero padding
				}
				p := (pos - lag + fl.size) % fl.size
				gemvAcc(fl.conv[k*f.R*f.G:(k+1)*f.R*f.G], q[p*f.R:(p+1)*f.R], s.gate, f.R, f.G)
			}
			a, b := s.gate[:f.half], s.gate[f.half:]
			gateUnit(a, b, a)
			copy(s.os, fl.osB)
			gemvAcc(fl.os, a, s.os, f.half, f.R+f.S)
			for r := range s.h {
				s.h[r] = (s.os[r] + s.h[r]) * sq
			}
			addInto(s.skip, s.os[f.R:])
		}
	}
	for _, s := range ss {
		scale(s.skip, float32(math.Sqrt(1/float64(len(f.layers)))))
		relu(s.skip)
		copy(s.hid, f.last1B)
		gemvAcc(f.last1, s.skip, s.hid, f.S, f.S)
		relu(s.hid)
	}
	for _, s := range ss {
		copy(s.out, f.last2B)
		gemvAcc(f.last2, s.hid, s.out, f.S, f.out)
	}
}

// sample draws sample t from s.out.
func (m *Model) sample(s *state, t int, temp float32) {
	switch m.Config.Output {
	case OutputMoL:
		s.res.Audio[t] = sampleMoL(s.out, s.rng, temp, float32(m.Config.LogScaleMin))
	default:
		q := sampleCategorical(s.out, s.rng, temp)
		s.res.Classes[t] = q
		s.res.Audio[t] = speech.MuLawDecode(q, m.Config.OutChannels)
	}
}

// sampleCategorical draws from softmax(logits/temp) by inverse CDF with one uniform
// per step (so the random stream is the same whatever the logits).
func sampleCategorical(logits []float32, rng *rand.Rand, temp float32) int {
	u := rng.Float64()
	best := 0
	for i, v := range logits {
		if v > logits[best] {
			best = i
		}
	}
	if temp < 0 {
		return best
	}
	if temp == 0 {
		temp = 1
	}
	mx := float64(logits[best])
	var sum float64
	for _, v := range logits {
		sum += math.Exp((float64(v) - mx) / float64(temp))
	}
	target := u * sum
	var acc float64
	for i, v := range logits {
		acc += math.Exp((float64(v) - mx) / float64(temp))
		if acc > target {
			return i
		}
	}
	return len(logits) - 1
}

// sampleMoL draws from a mixture of discretized logistics: a component from the
// mixture logits, then a logistic sample from its mean and scale, clipped to [−1, 1].
func sampleMoL(p []float32, rng *rand.Rand, temp, logScaleMin float32) float32 {
	nr := len(p) / 3
	k := sampleCategorical(p[:nr], rng, temp)
	u := 1e-5 + (1-2e-5)*rng.Float64()
	mean := float64(p[nr+k])
	logs := math.Max(float64(p[2*nr+k]), float64(logScaleMin))
	if temp < 0 {
		return float32(math.Max(-1, math.Min(1, mean)))
	}
	if temp == 0 {
		temp = 1
	}
	x := mean + math.Exp(logs)*(math.Log(u)-math.Log(1-u))*float64(temp)
	return float32(math.Max(-1, math.Min(1, x)))
}
