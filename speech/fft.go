package speech

import (
	"fmt"
	"math"
	"math/cmplx"
	"sync"
)

// FFT is a complex discrete Fourier transform of one size, any size: a mixed-radix
// Cooley–Tukey recursion over the size's prime factors, with a direct DFT for a prime
// factor above 7. Feature sizes are rarely powers of two (torchaudio's default n_fft is
// 400 = 2⁴·5²), so a radix-2-only transform would not do. It works in float64 so that
// spectra match PyTorch's to well under the project's 1e-4 tolerance even after a log.
// An FFT is safe for concurrent use.
type FFT struct {
	n       int
	factors []int
	tw      []complex128 // tw[k] = exp(-2πik/n)
	scratch sync.Pool    // []complex128 of length n
}

var fftCache sync.Map // int → *FFT

// NewFFT returns the (cached) transform of size n ≥ 1.
func NewFFT(n int) *FFT {
	if n < 1 {
		panic(fmt.Sprintf("speech: fft size %d", n))
	}
	if f, ok := fftCache.Load(n); ok {
		return f.(*FFT)
	}
	f := &FFT{n: n, tw: make([]complex128, n)}
	for k := range f.tw {
		s, c := math.Sincos(-2 * math.Pi * float64(k) / float64(n))
		f.tw[k] = complex(c, s)
	}
	for m := n; m > 1; {
		p := smallestFactor(m)
		f.factors = append(f.factors, p)
		m /= p
	}
	f.scratch.New = func() any { s := make([]complex128, n); return &s }
	v, _ := fftCache.LoadOrStore(n, f)
	return v.(*FFT)
}

func smallestFactor(m int) int {
	for _, p := range []int{4, 2, 3, 5} {
		if m%p == 0 {
			return p
		}
	}
	for p := 7; p*p <= m; p += 2 {
		if m%p == 0 {
			return p
		}
	}
	return m
}

// Len is the transform size.
func (f *FFT) Len() int { return f.n }

// Forward computes out[k] = Σ x[j]·exp(−2πijk/n). out and x must not overlap.
func (f *FFT) Forward(x, out []complex128) { f.transform(x, out, false) }

// Inverse computes out[j] = (1/n)·Σ x[k]·exp(+2πijk/n).
func (f *FFT) Inverse(x, out []complex128) {
	f.transform(x, out, true)
	s := 1 / float64(f.n)
	for i := range out[:f.n] {
		out[i] *= complex(s, 0)
	}
}

func (f *FFT) transform(x, out []complex128, inverse bool) {
	if len(x) < f.n || len(out) < f.n {
		panic(fmt.Sprintf("speech: fft of size %d given %d in, %d out", f.n, len(x), len(out)))
	}
	sp := f.scratch.Get().(*[]complex128)
	f.rec(x[:f.n], 1, out[:f.n], *sp, f.factors, 1, inverse)
	f.scratch.Put(sp)
}

// rec writes the DFT of the n/stride-point sequence x[0], x[stride], … into out, using
// tmp (same length as out) as scratch. twStride maps this level's twiddles onto the
// table of the full size.
func (f *FFT) rec(x []complex128, stride int, out, tmp []complex128, factors []int, twStride int, inverse bool) {
	m := len(out)
	if m == 1 {
		out[0] = x[0]
		return
	}
	p := factors[0]
	q := m / p
	// Sub-transforms of the p decimated sequences into tmp[r·q : (r+1)·q].
	for r := 0; r < p; r++ {
		f.rec(x[r*stride:], stride*p, tmp[r*q:(r+1)*q], out[r*q:(r+1)*q], factors[1:], twStride*p, inverse)
	}
	// Butterflies: out[k + s·q] = Σ_r tmp[r·q + k]·W_m^{r(k+s·q)}.
	var buf [8]complex128
	for k := 0; k < q; k++ {
		if p == 2 {
			a, b := tmp[k], tmp[q+k]*f.twiddle(k*twStride, inverse)
			out[k], out[k+q] = a+b, a-b
			continue
		}
		if p == 4 {
			a := tmp[k]
			b := tmp[q+k] * f.twiddle(k*twStride, inverse)
			c := tmp[2*q+k] * f.twiddle(2*k*twStride, inverse)
			d := tmp[3*q+k] * f.twiddle(3*k*twStride, inverse)
			t0, t1, t2, t3 := a+c, a-c, b+d, b-d
			// Multiplying by −i (forward) or +i (inverse).
			if inverse {
				t3 = complex(-imag(t3), real(t3))
			} else {
				t3 = complex(imag(t3), -real(t3))
			}
			out[k], out[k+q], out[k+2*q], out[k+3*q] = t0+t2, t1+t3, t0-t2, t1-t3
			continue
		}
		var v []complex128
		if p <= len(buf) {
			v = buf[:p]
		} else {
			v = make([]complex128, p)
		}
		for r := 0; r < p; r++ {
			v[r] = tmp[r*q+k] * f.twiddle(r*k*twStride, inverse)
		}
		for s := 0; s < p; s++ {
			var acc complex128
			for r := 0; r < p; r++ {
				acc += v[r] * f.twiddle((r*s*q*twStride)%f.n, inverse)
			}
			out[k+s*q] = acc
		}
	}
}

func (f *FFT) twiddle(i int, inverse bool) complex128 {
	w := f.tw[i%f.n]
	if inverse {
		return cmplx.Conj(w)
	}
	return w
}

// RFFT returns the n/2+1 non-negative-frequency bins of the DFT of the real frame x
// (len(x) == n), as torch.fft.rfft does, into out (len ≥ n/2+1).
func (f *FFT) RFFT(x []float64, out []complex128) {
	sp := f.scratch.Get().(*[]complex128)
	in := make([]complex128, f.n)
	for i, v := range x[:f.n] {
		in[i] = complex(v, 0)
	}
	full := *sp
	f.transform(in, full, false)
	copy(out[:f.n/2+1], full)
	f.scratch.Put(sp)
}
