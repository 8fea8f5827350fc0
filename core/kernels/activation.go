package kernels

import "math"

// expf is a float32 exp accurate to about 2 ulp over the range that does not overflow:
// the Cephes range reduction x = n·ln2 + r with a degree-6 polynomial for e^r. It is
// several times faster than float64 math.Exp and inlines into the kernels' loops.
func expf(x float32) float32 {
	if x > 88.72283 {
		return float32(math.Inf(1))
	}
	if x < -87.33654 {
		return 0
	}
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375
		ln2lo = -2.12194440e-4
	)
	fx := x * log2e
	// Round to nearest without math.Floor's float64 round trip.
	n := int32(fx + 0.5)
	if fx+0.5 < 0 {
		n = int32(fx - 0.5)
	}
	fn := float32(n)
	r := x - fn*ln2hi - fn*ln2lo
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	e := p*r*r + r + 1
	return e * math.Float32frombits(uint32(n+127)<<23)
}

// sigmoidf is 1/(1+e^−x), evaluated so that it neither overflows nor loses the tail.
func sigmoidf(x float32) float32 {
	if x >= 0 {
		return 1 / (1 + expf(-x))
	}
	e := expf(x)
	return e / (1 + e)
}

// tanhf is tanh through one exp; below |x| < 0.0625 a short series keeps the relative
// accuracy that 1 − 2/(e^{2x}+1) would lose to cancellation.
func tanhf(x float32) float32 {
	ax := x
	if ax < 0 {
		ax = -ax
	}
	if ax < 0.0625 {
		x2 := x * x
		return x * (1 + x2*(-1.0/3+x2*(2.0/15+x2*(-17.0/315))))
	}
	if ax > 9 {
		if x > 0 {
			return 1
		}
		return -1
	}
	t := 1 - 2/(expf(2*ax)+1)
	if x < 0 {
		return -t
	}
	return t
}

// erff is erf by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7).
func erff(x float32) float32 {
	s := float32(1)
	if x < 0 {
		s, x = -1, -x
	}
	t := 1 / (1 + 0.3275911*x)
	y := 1 - (((((1.061405429*t-1.453152027)*t)+1.421413741)*t-0.284496736)*t+0.254829592)*t*expf(-x*x)
	return s * y
}

type actKind uint8

const (
	actReLU actKind = iota
	actGELU
	actTanh
	actSigmoid
)

// ReLU writes max(x, 0) to out; out may be x.
func ReLU(x, out []float32) { activate(actReLU, x, out) }

// GELU writes x·Φ(x) with the exact erf form (PyTorch's default) to out; out may be x.
func GELU(x, out []float32) { activate(actGELU, x, out) }

// Tanh writes tanh(x) to out; out may be x.
func Tanh(x, out []float32) { activate(actTanh, x, out) }

// Sigmoid writes 1/(1+e^−x) to out; out may be x.
func Sigmoid(x, out []float32) { activate(actSigmoid, x, out) }

// parallelGrain is the element count below which an elementwise kernel runs on the
// caller alone: a fork/join costs a few microseconds.
const parallelGrain = 1 << 15

// actJob applies one activation to a block of the input per task.
type actJob struct {
	kind   actKind
	x, out []float32
	block  int
}

func (j *actJob) run(_, task int) {
	lo := task * j.block
	hi := min(len(j.x), lo+j.block)
	applyAct(j.kind, j.x[lo:hi], j.out[lo:hi])
}

func activate(kind actKind, x, out []float32) {
	out = out[:len(x)]
	if len(x) < 2*parallelGrain {
		applyAct(kind, x, out)
		return
	}
	g := defaultCtx()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.actJ = actJob{kind: kind, x: x, out: out, block: roundUp((len(x)+4*g.pool.n-1)/(4*g.pool.n), 16)}
	g.pool.Run((len(x)+g.actJ.block-1)/g.actJ.block, &g.actJ)
	g.actJ = actJob{}
}

// vecChunk bounds one assembly call (about 10 µs), since the runtime cannot preempt
// assembly and a long call would delay every stop-the-world.
const vecChunk = 1 << 14

func applyAct(kind actKind, x, out []float32) {
	out = out[:len(x)]
	if hasVecMath && kind != actReLU {
		for lo := 0; lo < len(x); lo += vecChunk {
			hi := min(len(x), lo+vecChunk)
			vecAct(kind, x[lo:hi], out[lo:hi])
		}
		return
	}
	applyActScalar(kind, x, out)
}

// applyActScalar is the portable form, and the reference for the vector kernels.
func applyActScalar(kind actKind, x, out []float32) {
	switch kind {
	case actReLU:
		for i, v := range x {
			out[i] = max(v, 0)
		}
	case actGELU:
		for i, v := range x {
			out[i] = 0.5 * v * (1 + erff(v*0.70710678118654752))
		}
	case actTanh:
		for i, v := range x {
			out[i] = tanhf(v)
		}
	case actSigmoid:
		for i, v := range x {
			out[i] = sigmoidf(v)
		}
	}
}

// Softmax replaces each of the rows rows of n values in x by its softmax.
func Softmax(rows, n int, x []float32) {
	SoftmaxStrided(rows, n, x, n)
}

// SoftmaxStrided is Softmax over rows that start ld floats apart.
func SoftmaxStrided(rows, n int, x []float32, ld int) {
	forRows(rowSoftmax, rows, n, x, ld, nil, nil, 0, nil)
}

type rowKind uint8

const (
	rowSoftmax rowKind = iota
	rowLayerNorm
)

// rowJob runs a row-wise kernel (softmax, layer norm) over a block of rows per task.
type rowJob struct {
	kind        rowKind
	n, ld       int
	x, out      []float32
	gamma, beta []float32
	eps         float32
	rows, block int
}

func (j *rowJob) run(_, task int) {
	for r := task * j.block; r < min(j.rows, (task+1)*j.block); r++ {
		switch j.kind {
		case rowSoftmax:
			softmaxRow(j.x[r*j.ld : r*j.ld+j.n])
		case rowLayerNorm:
			normalize(j.x[r*j.ld:r*j.ld+j.n], j.out[r*j.n:r*j.n+j.n], j.eps, j.gamma, j.beta)
		}
	}
}

// forRows runs a row-wise kernel, across the workers when there is enough work.
func forRows(kind rowKind, rows, n int, x []float32, ld int, gamma, beta []float32, eps float32, out []float32) {
	j := rowJob{kind: kind, n: n, ld: ld, x: x, out: out, gamma: gamma, beta: beta, eps: eps, rows: rows, block: rows}
	if rows < 2 || rows*n < 2*parallelGrain {
		j.run(0, 0)
		return
	}
	g := defaultCtx()
	g.mu.Lock()
	defer g.mu.Unlock()
	j.block = (rows + 4*g.pool.n - 1) / (4 * g.pool.n)
	g.rowJ = j
	g.pool.Run((rows+j.block-1)/j.block, &g.rowJ)
	g.rowJ = rowJob{}
}

func softmaxRow(row []float32) {
	if len(row) == 0 {
		return
	}
	m := rowMax(row)
	if math.IsInf(float64(m), -1) {
		// A fully masked row: PyTorch yields NaN; zeros are what attention callers want
		// and keep NaN out of later layers.
		clear(row)
		return
	}
	var s float32
	if hasVecMath {
		for lo := 0; lo < len(row); lo += vecChunk {
			part, _ := vecExpSub(row[lo:min(len(row), lo+vecChunk)], row[lo:min(len(row), lo+vecChunk)], m)
			s += part
		}
	} else {
		for i, v := range row {
			e := expf(v - m)
			row[i] = e
			s += e
		}
	}
	scaleRow(row, 1/s)
}

func rowMaxScalar(x []float32) float32 {
	m := x[0]
	for _, v := range x[1:] {
		m = max(m, v)
	}
	return m
}

func scaleRowScalar(x []float32, s float32) {
	for i := range x {
		x[i] *= s
	}
}
