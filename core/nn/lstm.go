package nn

import (
	"fmt"

	"github.com/plexusml/plexus/core/kernels"
	"github.com/plexusml/plexus/core/nn/weights"
)

// LSTMConfig holds what an LSTM cannot read from its weights.
type LSTMConfig struct {
	// Layers is num_layers; zero counts the weight_ih_lK tensors present.
	Layers int
	// BatchFirst means inputs and outputs are Batch×Time×Features, as with PyTorch's
	// batch_first=True; otherwise Time×Batch×Features.
	BatchFirst bool
}

// LSTMLayer is one layer and direction's parameters in PyTorch's layout, gates ordered
// i, f, g, o.
type LSTMLayer struct {
	WIH  []float32 // 4·Hidden×input
	WHH  []float32 // 4·Hidden×Hidden
	Bias []float32 // bias_ih + bias_hh (4·Hidden), nil when the LSTM has no biases
}

// LSTM is a multi-layer torch.nn.LSTM for inference, with parameters named as PyTorch
// names them (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, and the _reverse
// set of a bidirectional LSTM). Input and hidden sizes come from weight_ih_l0;
// bidirectionality from the presence of weight_ih_l0_reverse.
//
// As with Linear, a layer's first product of two or more rows packs the weight matrix it
// uses for the micro-kernel and keeps the copy: all steps' input projections, and the
// recurrent product of every step when the batch has two or more sequences. To change
// the weights, assign new slices to Layers rather than writing into the old ones.
type LSTM struct {
	Name          string
	In, Hidden    int
	NumLayers     int
	Bidirectional bool
	BatchFirst    bool
	// Layers holds layer k, direction d at k·Directions()+d.
	Layers []LSTMLayer

	// packed[i] goes with Layers[i]; an LSTM built without NewLSTM has none and uses
	// the plain products.
	packed []lstmPacked
}

// lstmPacked is one layer and direction's WIH and WHH packed on first use.
type lstmPacked struct{ ih, hh packedWeight }

// NewLSTM binds the LSTM at prefix. Projected LSTMs (proj_size) are not supported:
// their weight_hr tensors are reported as unexpected by Binder.Err.
func NewLSTM(b *weights.Binder, prefix string, cfg LSTMConfig) *LSTM {
	l := &LSTM{Name: prefix, BatchFirst: cfg.BatchFirst, NumLayers: cfg.Layers}
	if l.NumLayers <= 0 {
		for b.Has(join(prefix, fmt.Sprintf("weight_ih_l%d", l.NumLayers))) {
			l.NumLayers++
		}
		l.NumLayers = max(l.NumLayers, 1) // so an absent LSTM is reported as missing weight_ih_l0
	}
	l.Bidirectional = b.Has(join(prefix, "weight_ih_l0_reverse"))
	s := shapeOf(b, join(prefix, "weight_ih_l0"), 2)
	if s == nil {
		return l
	}
	if s[0]%4 != 0 {
		b.Float32(join(prefix, "weight_ih_l0"), s[0]/4*4+4, s[1])
		return l
	}
	l.Hidden, l.In = s[0]/4, s[1]
	g4, dirs := 4*l.Hidden, l.Directions()
	for k := 0; k < l.NumLayers; k++ {
		in := l.In
		if k > 0 {
			in = dirs * l.Hidden
		}
		for d := 0; d < dirs; d++ {
			suffix := fmt.Sprintf("_l%d", k)
			if d == 1 {
				suffix += "_reverse"
			}
			name := func(p string) string { return join(prefix, p+suffix) }
			ly := LSTMLayer{
				WIH: b.Float32(name("weight_ih"), g4, in),
				WHH: b.Float32(name("weight_hh"), g4, l.Hidden),
			}
			bih := b.OptionalFloat32(name("bias_ih"), g4)
			bhh := b.OptionalFloat32(name("bias_hh"), g4)
			if bih != nil || bhh != nil {
				// One bias vector: the two are always added together.
				ly.Bias = make([]float32, g4)
				for j := range ly.Bias {
					if bih != nil {
						ly.Bias[j] += bih[j]
					}
					if bhh != nil {
						ly.Bias[j] += bhh[j]
					}
				}
			}
			l.Layers = append(l.Layers, ly)
		}
	}
	l.packed = make([]lstmPacked, len(l.Layers))
	return l
}

// Directions is 2 for a bidirectional LSTM, else 1.
func (l *LSTM) Directions() int {
	if l.Bidirectional {
		return 2
	}
	return 1
}

// LSTMState is the recurrent state carried between calls: H and C are
// (Layers·Directions)×Batch×Hidden, PyTorch's (h_n, c_n).
type LSTMState struct {
	Batch int
	H, C  []float32
}

// NewState returns a zero state for batch sequences.
func (l *LSTM) NewState(batch int) *LSTMState {
	n := len(l.Layers) * batch * l.Hidden
	return &LSTMState{Batch: batch, H: make([]float32, n), C: make([]float32, n)}
}

// Reset zeroes the state, to start new sequences without allocating.
func (s *LSTMState) Reset() {
	clear(s.H)
	clear(s.C)
}

// Forward runs x (Batch×Time×In, or Time×Batch×In) through every layer and returns the
// last layer's hidden states in the same layout (Hidden wide, or 2·Hidden with the
// forward direction first when bidirectional), from the arena. st, if not nil, is the
// initial state and receives the final one, so consecutive calls continue the same
// sequences; nil starts from zeros.
func (l *LSTM) Forward(a *Arena, x Act, st *LSTMState) Act {
	return l.ForwardLengths(a, x, st, nil)
}

// ForwardLengths is Forward over a padded batch: sequence b has lengths[b] valid steps
// (at most Time), as torch.nn.utils.rnn.pack_padded_sequence describes it. Each
// sequence's final state is taken at its own last step, the reverse direction starts
// there, and outputs past the end are zero, as pad_packed_sequence returns them. nil
// lengths means every sequence is full.
func (l *LSTM) ForwardLengths(a *Arena, x Act, st *LSTMState, lengths []int) Act {
	checkRank(l.Name, x, 3)
	checkDim(l.Name, x, 2, l.In, "input features")
	batch, steps := x.dims[1], x.dims[0]
	if l.BatchFirst {
		batch, steps = x.dims[0], x.dims[1]
	}
	hid, g4, dirs, nl := l.Hidden, 4*l.Hidden, l.Directions(), l.NumLayers
	width := dirs * hid
	if st != nil && (st.Batch != batch || len(st.H) != len(l.Layers)*batch*hid || len(st.C) != len(st.H)) {
		panic(fmt.Sprintf("nn: %s: state for batch %d (%d floats), input has batch %d", l.Name, st.Batch, len(st.H), batch))
	}
	if lengths != nil {
		if len(lengths) != batch {
			panic(fmt.Sprintf("nn: %s: %d lengths for a batch of %d", l.Name, len(lengths), batch))
		}
		for _, n := range lengths {
			if n < 0 || n > steps {
				panic(fmt.Sprintf("nn: %s: sequence length %d outside 0…%d", l.Name, n, steps))
			}
		}
	}
	y := x.withLast(a.Floats(batch*steps*width), width)
	if steps == 0 {
		return y
	}
	m := a.Mark()
	gates := a.Floats(batch * steps * g4)
	var tmp []float32
	if nl > 1 {
		tmp = a.Floats(batch * steps * width)
	}
	var h0, c []float32
	if st == nil {
		h0 = a.Zeros(batch * hid)
		c = a.Floats(batch * hid)
	}
	// In the input's layout, step t of sequence b sits at row b·steps+t (batch first) or
	// t·batch+b: first gives a step's first row, stride the distance between its
	// sequences' rows, so every step reads and writes the buffers in place.
	first, stride := batch, 1
	if l.BatchFirst {
		first, stride = 1, steps
	}
	in, inDim := x.Data, l.In
	for k := 0; k < nl; k++ {
		out := y.Data
		if (nl-1-k)%2 == 1 {
			out = tmp
		}
		for d := 0; d < dirs; d++ {
			ly := l.Layers[k*dirs+d]
			var pih, phh *kernels.PackedB
			if k*dirs+d < len(l.packed) {
				pk := &l.packed[k*dirs+d]
				pih = pk.ih.get(batch*steps, ly.WIH, g4, inDim)
				phh = pk.hh.get(batch, ly.WHH, g4, hid)
			}
			// All steps' input projections in one GEMM: only the recurrent part is serial.
			if pih != nil {
				kernels.SgemmPacked(false, batch*steps, 1, in, inDim, pih, 0, gates, g4)
			} else {
				kernels.Sgemm(false, true, batch*steps, g4, inDim, 1, in, inDim, ly.WIH, inDim, 0, gates, g4)
			}
			if ly.Bias != nil {
				addRowBias(gates, ly.Bias)
			}
			sl := (k*dirs + d) * batch * hid
			hPrev, ldh := h0, hid
			if st != nil {
				hPrev, c = st.H[sl:sl+batch*hid], st.C[sl:sl+batch*hid]
			} else {
				clear(c)
			}
			var r0 int
			for i := 0; i < steps; i++ {
				t := i
				if d == 1 {
					t = steps - 1 - i
				}
				r0 = t * first
				g := gates[r0*g4:]
				if phh != nil {
					kernels.SgemmPacked(false, batch, 1, hPrev, ldh, phh, 1, g, stride*g4)
				} else {
					kernels.Sgemm(false, true, batch, g4, hid, 1, hPrev, ldh, ly.WHH, hid, 1, g, stride*g4)
				}
				for bi := 0; bi < batch; bi++ {
					row := r0 + bi*stride
					h := out[row*width+d*hid : row*width+d*hid+hid]
					if lengths != nil && t >= lengths[bi] {
						// A step past the end carries the state through unchanged: the
						// forward direction keeps its last valid state, the reverse one
						// still holds its initial state when it reaches the last valid step.
						copy(h, hPrev[bi*ldh:bi*ldh+hid])
						continue
					}
					lstmCell(g[bi*stride*g4:bi*stride*g4+g4], c[bi*hid:(bi+1)*hid], h)
				}
				hPrev, ldh = out[r0*width+d*hid:], stride*width
			}
			if st != nil {
				// The final hidden state is the last step this direction ran.
				hs := st.H[sl : sl+batch*hid]
				for bi := 0; bi < batch; bi++ {
					row := r0 + bi*stride
					copy(hs[bi*hid:(bi+1)*hid], out[row*width+d*hid:row*width+d*hid+hid])
				}
			}
		}
		in, inDim = out, width
	}
	if lengths != nil {
		for bi, n := range lengths {
			for t := n; t < steps; t++ {
				row := t*first + bi*stride
				clear(y.Data[row*width : (row+1)*width])
			}
		}
	}
	a.Release(m)
	return y
}

// lstmCell turns one sequence's pre-activation gates (i, f, g, o) into the new cell
// state (c, updated in place) and hidden state h.
func lstmCell(gates, c, h []float32) {
	n := len(c)
	kernels.Sigmoid(gates[:2*n], gates[:2*n])
	kernels.Tanh(gates[2*n:3*n], gates[2*n:3*n])
	kernels.Sigmoid(gates[3*n:], gates[3*n:])
	ig, fg, gg, og := gates[:n], gates[n:2*n], gates[2*n:3*n], gates[3*n:4*n]
	for j := range c {
		c[j] = fg[j]*c[j] + ig[j]*gg[j]
	}
	kernels.Tanh(c, h)
	for j := range h {
		h[j] *= og[j]
	}
}
