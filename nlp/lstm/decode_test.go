package lstm

import (
	"math/rand/v2"
	"testing"
)

func TestMatvec(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 7, 8, 31, 32, 33, 100, 768} {
		m, ld := 5, n+3
		w := make([]float32, m*ld)
		x := make([]float32, n)
		for i := range w {
			w[i] = r.Float32()*2 - 1
		}
		for i := range x {
			x[i] = r.Float32()*2 - 1
		}
		got, want := []float32{1, 2, 3, 4, 5}, []float32{1, 2, 3, 4, 5}
		matvec(m, n, w, ld, x, got)
		for i := 0; i < m; i++ {
			var s float64
			for j := 0; j < n; j++ {
				s += float64(w[i*ld+j]) * float64(x[j])
			}
			want[i] += float32(s)
		}
		for i := range got {
			if d := got[i] - want[i]; d > 1e-4 || d < -1e-4 {
				t.Errorf("n %d row %d: %g, want %g", n, i, got[i], want[i])
			}
		}
	}
}

// TestDecoderMatchesForward steps the decoder token by token at batch 1 and 3 and
// compares its logits and state with the layer-by-layer Forward over the whole
// sequence.
func TestDecoderMatchesForward(t *testing.T) {
	m := loadGPT3(t)
	ids := load(t, "gpt3.ids.npy").Int64s()
	B, T, V := 3, 9, 37
	want, err := m.Forward(nil, ids, B, T, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := newDecoder(m)
	for _, batch := range []int{1, 3} {
		buf := d.buffers(batch)
		x := make([]int64, batch)
		for step := 0; step < T; step++ {
			for b := 0; b < batch; b++ {
				x[b] = ids[b*T+step]
			}
			if err := d.step(buf, x); err != nil {
				t.Fatal(err)
			}
			for b := 0; b < batch; b++ {
				w := want.Data[(b*T+step)*V : (b*T+step+1)*V]
				if e := relErr(buf.logits[b*V:(b+1)*V], w); e > 1e-5 {
					t.Fatalf("batch %d step %d seq %d: rel err %.3g", batch, step, b, e)
				}
			}
		}
	}
}

func TestParallelMatvec(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	m, n := 2048, 300
	w, x := make([]float32, m*n), make([]float32, n)
	for i := range w {
		w[i] = r.Float32()*2 - 1
	}
	for i := range x {
		x[i] = r.Float32()*2 - 1
	}
	got, want := make([]float32, m), make([]float32, m)
	parallelMatvec(m, n, w, x, got)
	matvecGo(m, n, w, n, x, want)
	if e := relErr(got, want); e > 1e-5 {
		t.Fatalf("rel err %.3g", e)
	}
}
