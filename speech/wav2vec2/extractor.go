package wav2vec2

import (
	"math"

	"github.com/plexusml/plexus/core/kernels"
	"github.com/plexusml/plexus/core/nn"
)

// extract runs the feature extractor over one waveform x into out (Frames(len(x)) ×
// the last layer's channels, time-major). statsLen ≥ len(x) is the length over which
// the first layer's group norm takes its statistics, the waveform being zero beyond
// len(x): len(x) for per-item results, the padded batch length to reproduce
// torchaudio's batched forward. Scratch comes from the arena and is given back.
//
// The first layer's output, the largest activation of the whole model (512 channels at
// a fifth of the sample rate: 64 MB for 10 s), is never materialised: it is computed a
// chunk at a time and consumed by the second layer while it is still in cache.
func (m *Model) extract(a *nn.Arena, x []float32, statsLen int, out []float32) {
	mk := a.Mark()
	defer a.Release(mk)
	n := len(m.conv)
	ts := make([]int, n) // frames after each layer
	t := len(x)
	for i, l := range m.conv {
		t = (t-l.k)/l.stride + 1
		ts[i] = t
	}
	// Ping-pong buffers for the outputs of layers 1 … n−2 (the last writes into out).
	var size [2]int
	for i := 1; i < n-1; i++ {
		size[i%2] = max(size[i%2], ts[i]*m.conv[i].out)
	}
	bufs := [2][]float32{a.Floats(size[0]), a.Floats(size[1])}
	y := func(i int) []float32 {
		if i == n-1 {
			return out
		}
		return bufs[i%2][:ts[i]*m.conv[i].out]
	}
	l0 := &m.conv[0]
	w0, b0 := l0.w, l0.bias
	if l0.groupNorm {
		w0, b0 = l0.foldGroupNorm(a, x, statsLen)
	}
	if l0.waveform() {
		// The bias rides in the GEMM as a weight column against a column of ones.
		w0, b0 = augment(a, w0, b0, l0.out, l0.k), nil
	}
	if n == 1 {
		l0.forward(a, x, ts[0], w0, b0, out)
		return
	}
	l1 := &m.conv[1]
	y1 := y(1)
	chunk := extractChunk
	h := a.Floats(min((chunk-1)*l1.stride+l1.k, ts[0]) * l0.out)
	for r0 := 0; r0 < ts[1]; r0 += chunk {
		r1 := min(ts[1], r0+chunk)
		q0 := r0 * l1.stride             // first layer-0 row this chunk reads
		nq := (r1-1-r0)*l1.stride + l1.k // layer-0 rows it reads
		l0.forward(a, x[q0*l0.stride:], nq, w0, b0, h[:nq*l0.out])
		l1.forward(a, h[:nq*l0.out], r1-r0, l1.w, l1.bias, y1[r0*l1.out:r1*l1.out])
	}
	for i := 2; i < n; i++ {
		l := &m.conv[i]
		l.forward(a, y(i-1), ts[i], l.w, l.bias, y(i))
	}
}

// extractChunk is the number of layer-1 rows computed per pass: for the published
// models a 2k×512 layer-0 block, 4 MB. A variable so tests can cut small chunks.
var extractChunk = 1024

// forward computes t output frames of the layer (convolution, norm, GELU) from in,
// with the given weight and bias (the layer's own or the group-norm-folded ones).
func (l *convLayer) forward(a *nn.Arena, in []float32, t int, w, bias, y []float32) {
	l.conv(a, in, t, w, y)
	if l.ln != nil {
		addRowBias(y, bias)
		l.ln.ForwardInto(y, y)
		kernels.GELU(y, y)
		return
	}
	biasGELU(y, bias)
}

// conv computes the t output frames of the convolution y = in ⊛ w (no bias) in
// time-major layout. Output frame r reads input rows r·stride … r·stride+k−1, which are
// k·in contiguous floats starting at r·stride·in: the im2col matrix is the input itself
// read with leading dimension stride·in. SGEMM wants the leading dimension to cover a
// row, so the taps are split into groups of at most stride taps, one accumulating GEMM
// each (two for the 3-tap stride-2 layers, one for the 2-tap ones). A waveform input
// (one channel, overlapping windows) is instead expanded into an explicit t×(k+1)
// matrix whose last column is ones, small next to the output, for one GEMM with w from
// augment (the bias as its last column).
func (l *convLayer) conv(a *nn.Arena, in []float32, t int, w, y []float32) {
	kin := l.k * l.in
	if l.waveform() {
		mk := a.Mark()
		k1 := l.k + 1
		cols := a.Floats(t * k1)
		for r := 0; r < t; r++ {
			copy(cols[r*k1:r*k1+l.k], in[r*l.stride:r*l.stride+l.k])
			cols[r*k1+l.k] = 1
		}
		kernels.Sgemm(false, true, t, l.out, k1, 1, cols, k1, w, k1, 0, y, l.out)
		a.Release(mk)
		return
	}
	ld := l.stride * l.in
	var beta float32
	for tap := 0; tap < l.k; tap += l.stride {
		n := min(l.stride, l.k-tap) * l.in
		kernels.Sgemm(false, true, t, l.out, n, 1, in[tap*l.in:], ld, w[tap*l.in:], kin, beta, y, l.out)
		beta = 1
	}
}

// waveform reports whether the layer reads the single-channel waveform with
// overlapping windows, the case conv expands explicitly.
func (l *convLayer) waveform() bool { return l.in == 1 && l.k > l.stride }

// augment returns the out×k weight w with bias (nil: zeros) appended to every row, as
// out×(k+1) arena memory.
func augment(a *nn.Arena, w, bias []float32, out, k int) []float32 {
	wa := a.Floats(out * (k + 1))
	for o := 0; o < out; o++ {
		copy(wa[o*(k+1):o*(k+1)+k], w[o*k:(o+1)*k])
		wa[o*(k+1)+k] = 0
		if bias != nil {
			wa[o*(k+1)+k] = bias[o]
		}
	}
	return wa
}

// foldGroupNorm returns the first layer's weight and bias with its GroupNorm (one group
// per channel, over time) folded in. A channel's output over time is w·p_t + c for the
// input windows p_t, so its mean and variance are w·μ + c and wᵀΣw, where μ and Σ are
// the mean and covariance of the windows: k and k×k numbers instead of a pass over the
// frames × channels output. The normalised output γ(y − mean)/√(var+ε) + β is then
// the convolution with weight γw/√(var+ε) and bias β − γ(w·μ)/√(var+ε) (the conv bias
// cancels).
func (l *convLayer) foldGroupNorm(a *nn.Arena, x []float32, statsLen int) ([]float32, []float32) {
	k, s := l.k, l.stride
	frames := (statsLen-k)/s + 1
	at := func(i int) float64 {
		if i < len(x) {
			return float64(x[i])
		}
		return 0
	}
	mu := make([]float64, k)
	for r := 0; r < frames; r++ {
		for j := 0; j < k; j++ {
			mu[j] += at(r*s + j)
		}
	}
	for j := range mu {
		mu[j] /= float64(frames)
	}
	cov := make([]float64, k*k)
	d := make([]float64, k)
	for r := 0; r < frames; r++ {
		for j := 0; j < k; j++ {
			d[j] = at(r*s+j) - mu[j]
		}
		for i := 0; i < k; i++ {
			row := cov[i*k : (i+1)*k]
			for j := i; j < k; j++ {
				row[j] += d[i] * d[j]
			}
		}
	}
	for i := 0; i < k; i++ {
		for j := i; j < k; j++ {
			cov[i*k+j] /= float64(frames)
			cov[j*k+i] = cov[i*k+j]
		}
	}
	w := a.Floats(l.out * k)
	bias := a.Floats(l.out)
	for o := 0; o < l.out; o++ {
		wo := l.w[o*k : (o+1)*k]
		var mean, variance float64
		for i, wi := range wo {
			mean += float64(wi) * mu[i]
			var r float64
			for j, wj := range wo {
				r += cov[i*k+j] * float64(wj)
			}
			variance += float64(wi) * r
		}
		sc := float64(l.gamma[o]) / math.Sqrt(max(variance, 0)+1e-5)
		for i, wi := range wo {
			w[o*k+i] = float32(float64(wi) * sc)
		}
		bias[o] = float32(float64(l.beta[o]) - mean*sc)
	}
	return w, bias
}

// addRowBias adds bias (nil: nothing) to every len(bias)-wide row of x.
func addRowBias(x, bias []float32) {
	if bias == nil {
		return
	}
	n := len(bias)
	for r := 0; r+n <= len(x); r += n {
		row := x[r : r+n : r+n]
		for j, v := range bias {
			row[j] += v
		}
	}
}

// biasGELU adds bias (nil: nothing) to every row of x and applies GELU, a block of rows
// at a time so the second pass finds them in cache.
func biasGELU(x, bias []float32) {
	if bias == nil {
		kernels.GELU(x, x)
		return
	}
	n := len(bias)
	block := max(1, (64<<10)/n) * n
	for lo := 0; lo < len(x); lo += block {
		hi := min(len(x), lo+block)
		addRowBias(x[lo:hi], bias)
		kernels.GELU(x[lo:hi], x[lo:hi])
	}
}
