package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestParallelRowsMatchSerial checks the split across workers against one-call results,
// which the golden tests pin to PyTorch on sizes below the parallel threshold.
func TestParallelRowsMatchSerial(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	rows, n := 301, 513 // above 2·parallelGrain, not a multiple of any block
	x := randSlice(r, rows*n)
	for i := range x {
		x[i] *= 8
	}
	for _, kind := range []actKind{actReLU, actGELU, actTanh, actSigmoid} {
		want := make([]float32, len(x))
		applyAct(kind, x, want)
		got := make([]float32, len(x))
		activate(kind, x, got)
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("activation %d: element %d = %g, serial %g", kind, i, got[i], want[i])
			}
		}
	}
	sm := append([]float32(nil), x...)
	Softmax(rows, n, sm)
	ln := make([]float32, len(x))
	LayerNorm(rows, n, x, nil, nil, 1e-5, ln)
	for i := 0; i < rows; i++ {
		row := append([]float32(nil), x[i*n:(i+1)*n]...)
		softmaxRow(row)
		lrow := make([]float32, n)
		normalize(x[i*n:(i+1)*n], lrow, 1e-5, nil, nil)
		for j := range row {
			if sm[i*n+j] != row[j] || ln[i*n+j] != lrow[j] {
				t.Fatalf("row %d col %d: softmax %g/%g layernorm %g/%g", i, j, sm[i*n+j], row[j], ln[i*n+j], lrow[j])
			}
		}
	}
}

// TestExpfAccuracy sweeps expf against float64 math.Exp over the float32 range that
// neither overflows nor underflows to zero.
func TestExpfAccuracy(t *testing.T) {
	worst := 0.0
	for x := float32(-87); x < 88; x += 0.0137 {
		want := math.Exp(float64(x))
		got := float64(expf(x))
		if rel := math.Abs(got-want) / want; rel > worst {
			worst = rel
		}
	}
	if worst > 5e-7 {
		t.Fatalf("expf worst relative error %.3g", worst)
	}
	if expf(100) != float32(math.Inf(1)) || expf(-100) != 0 {
		t.Fatalf("expf(±100) = %g, %g", expf(100), expf(-100))
	}
}

// TestVectorMathMatchesScalar compares the AVX-512 kernels with the scalar forms on a
// dense sweep, lengths that leave every tail size, and the saturating ends.
func TestVectorMathMatchesScalar(t *testing.T) {
	if !hasVecMath {
		t.Skip("no AVX-512 on this CPU: the scalar path is the only one")
	}
	var x []float32
	for v := float32(-40); v < 40; v += 0.00731 {
		x = append(x, v)
	}
	x = append(x, 0, 1e-7, -1e-7, 1e-30, 89, -89, 200, -200, float32(math.Inf(1)), float32(math.Inf(-1)))
	for n := len(x) - 17; n <= len(x); n++ {
		for _, kind := range []actKind{actGELU, actTanh, actSigmoid} {
			got, want := make([]float32, n), make([]float32, n)
			vecAct(kind, x[:n], got)
			applyActScalar(kind, x[:n], want)
			for i := range got {
				d := math.Abs(float64(got[i] - want[i]))
				if d > 2e-7+2e-6*math.Abs(float64(want[i])) || math.IsNaN(float64(got[i])) != math.IsNaN(float64(want[i])) {
					t.Fatalf("kind %d x=%g: vector %g, scalar %g", kind, x[i], got[i], want[i])
				}
			}
		}
	}
	row := x[:1000]
	m := float32(40)
	got := make([]float32, len(row))
	s, _ := vecExpSub(row, got, m)
	var ws float64
	for i, v := range row {
		e := math.Exp(float64(v - m))
		ws += e
		if d := math.Abs(float64(got[i]) - e); d > 1e-6*e+1e-38 {
			t.Fatalf("exp(%g-%g) = %g, want %g", v, m, got[i], e)
		}
	}
	if math.Abs(float64(s)-ws) > 1e-5*ws {
		t.Fatalf("sum %g, want %g", s, ws)
	}
}

func BenchmarkElementwise(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	x := randSlice(r, 128*3072) // BERT-base FFN activations for 128 tokens
	out := make([]float32, len(x))
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"gelu", func() { GELU(x, out) }},
		{"tanh", func() { Tanh(x, out) }},
		{"sigmoid", func() { Sigmoid(x, out) }},
		{"softmax_rows128", func() { copy(out, x); Softmax(len(x)/128, 128, out) }},
		{"layernorm_768", func() { LayerNorm(len(x)/768, 768, x, nil, nil, 1e-5, out) }},
		{"gelu_scalar", func() { applyActScalar(actGELU, x, out) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				tc.f()
			}
			b.ReportMetric(float64(len(x))*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gelem/s")
		})
	}
}

func TestRowMaxAndScale(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for n := 1; n <= 70; n++ {
		x := randSlice(r, n)
		if n%5 == 0 {
			x[n-1] = 5 // the maximum in the masked tail
		}
		if got, want := rowMax(x), rowMaxScalar(x); got != want {
			t.Fatalf("n=%d: rowMax %g, want %g", n, got, want)
		}
		y := append([]float32(nil), x...)
		scaleRow(y, 0.5)
		for i := range y {
			if y[i] != x[i]*0.5 {
				t.Fatalf("n=%d: scaleRow[%d] = %g, want %g", n, i, y[i], x[i]*0.5)
			}
		}
	}
	neg := []float32{float32(math.Inf(-1)), float32(math.Inf(-1))}
	if m := rowMax(neg); !math.IsInf(float64(m), -1) {
		t.Fatalf("rowMax of −Inf row = %g", m)
	}
}
