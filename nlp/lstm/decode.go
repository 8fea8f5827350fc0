package lstm

import (
	"runtime"
	"sync"

	"github.com/plexusml/plexus/core/kernels"
	"github.com/plexusml/plexus/core/nn"
)

// decoder runs one token per sequence, the inner loop of generation. A step is a
// matrix-vector product per weight matrix and sequence, memory-bound: core/kernels
// routes it to a scalar GEMV, so the decoder uses its own vectorised one (matvec, AVX2
// with FMA where the CPU has it), streaming each weight matrix once per token. Every
// sequence of a batch runs the same matvec, never a GEMM whose blocking depends on the
// batch size, so an item's logits, and so its sampled text, are bit-identical whatever
// batch it is in.
type decoder struct {
	m        *Model
	in, h, v int
}

func newDecoder(m *Model) *decoder {
	return &decoder{m: m, in: m.LSTM.In, h: m.LSTM.Hidden, v: m.FC.Out}
}

// decodeBuffers is a generation's scratch and recurrent state.
type decodeBuffers struct {
	batch  int
	x      []float32
	gates  []float32
	h, c   []float32 // per layer, batch×H
	logits []float32
}

func (d *decoder) buffers(batch int) *decodeBuffers {
	n := len(d.m.LSTM.Layers)
	return &decodeBuffers{batch: batch, x: make([]float32, batch*d.in), gates: make([]float32, batch*4*d.h),
		h: make([]float32, n*batch*d.h), c: make([]float32, n*batch*d.h), logits: make([]float32, batch*d.v)}
}

// load copies state st into the buffers.
func (b *decodeBuffers) load(st *nn.LSTMState) {
	copy(b.h, st.H)
	copy(b.c, st.C)
}

// product adds x·Wᵀ to out for the batch rows of x (in wide) and W (out×in).
func product(batch, outDim, in int, x, w, out []float32) {
	for r := 0; r < batch; r++ {
		parallelMatvec(outDim, in, w, x[r*in:(r+1)*in], out[r*outDim:(r+1)*outDim])
	}
}

// parallelMatvec is matvec split by rows over two goroutines when the matrix is large
// and two cores are there: the product is bound by how fast the weights stream in, and
// two cores stream twice as fast.
func parallelMatvec(m, n int, w, x, y []float32) {
	if m*n < 1<<18 || m < 64 || runtime.GOMAXPROCS(0) < 2 {
		matvec(m, n, w, n, x, y)
		return
	}
	half := m / 2
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		matvec(m-half, n, w[half*n:], n, x, y[half:])
	}()
	matvec(half, n, w, n, x, y)
	wg.Wait()
}

// step feeds one id per sequence and leaves the logits in b.logits (batch×V).
func (d *decoder) step(b *decodeBuffers, ids []int64) error {
	H, B := d.h, b.batch
	e := d.m.Embedding
	if err := kernels.Embedding(e.Weight, e.Dim, ids, b.x); err != nil {
		return err
	}
	in, inDim := b.x, d.in
	for l, ly := range d.m.LSTM.Layers {
		g := b.gates
		for r := 0; r < B; r++ {
			if ly.Bias != nil {
				copy(g[r*4*H:(r+1)*4*H], ly.Bias)
			} else {
				clear(g[r*4*H : (r+1)*4*H])
			}
		}
		h, c := b.h[l*B*H:(l+1)*B*H], b.c[l*B*H:(l+1)*B*H]
		product(B, 4*H, inDim, in, ly.WIH, g)
		product(B, 4*H, H, h, ly.WHH, g)
		for r := 0; r < B; r++ {
			lstmCell(g[r*4*H:(r+1)*4*H], c[r*H:(r+1)*H], h[r*H:(r+1)*H])
		}
		in, inDim = h, H
	}
	fc := d.m.FC
	for r := 0; r < B; r++ {
		if fc.Bias != nil {
			copy(b.logits[r*d.v:(r+1)*d.v], fc.Bias)
		} else {
			clear(b.logits[r*d.v : (r+1)*d.v])
		}
	}
	product(B, d.v, H, in, fc.Weight, b.logits)
	return nil
}

// lstmCell turns pre-activation gates (i, f, g, o) into the new c (in place) and h, as
// torch.nn.LSTM computes them.
func lstmCell(gates, c, h []float32) {
	n := len(c)
	kernels.Sigmoid(gates[:2*n], gates[:2*n])
	kernels.Tanh(gates[2*n:3*n], gates[2*n:3*n])
	kernels.Sigmoid(gates[3*n:], gates[3*n:])
	for j := range c {
		c[j] = gates[n+j]*c[j] + gates[j]*gates[2*n+j]
	}
	kernels.Tanh(c, h)
	for j := range h {
		h[j] *= gates[3*n+j]
	}
}
