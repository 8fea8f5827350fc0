package kernels

// LSTMCell advances one step of an LSTM, as torch.nn.LSTMCell computes it with the
// gates in PyTorch's order i, f, g, o: gates = x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh,
// c' = σ(f)·c + σ(i)·tanh(g), h' = σ(o)·tanh(c'). x is batch×in, h and c are
// batch×hidden, wih is 4·hidden×in, whh is 4·hidden×hidden; biases may be nil. hOut and
// cOut may alias h and c. ws holds the batch×4·hidden gate matrix.
func LSTMCell(batch, in, hidden int, x, h, c, wih, whh, bih, bhh, hOut, cOut []float32, ws *Workspace) {
	g4 := 4 * hidden
	gates := ws.floats(batch * g4)
	Sgemm(false, true, batch, g4, in, 1, x, in, wih, in, 0, gates, g4)
	Sgemm(false, true, batch, g4, hidden, 1, h, hidden, whh, hidden, 1, gates, g4)
	for b := 0; b < batch; b++ {
		gr := gates[b*g4 : (b+1)*g4]
		if bih != nil {
			for j := range gr {
				gr[j] += bih[j]
			}
		}
		if bhh != nil {
			for j := range gr {
				gr[j] += bhh[j]
			}
		}
		ig, fg, gg, og := gr[:hidden], gr[hidden:2*hidden], gr[2*hidden:3*hidden], gr[3*hidden:]
		cr := c[b*hidden : (b+1)*hidden]
		co := cOut[b*hidden : (b+1)*hidden]
		ho := hOut[b*hidden : (b+1)*hidden]
		for j := 0; j < hidden; j++ {
			cn := sigmoidf(fg[j])*cr[j] + sigmoidf(ig[j])*tanhf(gg[j])
			co[j] = cn
			ho[j] = sigmoidf(og[j]) * tanhf(cn)
		}
	}
}
