package kernels

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"testing"
)

// golden holds the PyTorch fixtures written by tools/golden/kernels.py.
type golden struct {
	meta map[string]string
	hdr  map[string]struct {
		Dtype   string `json:"dtype"`
		Shape   []int  `json:"shape"`
		Offsets [2]int `json:"data_offsets"`
	}
	data []byte
}

const goldenPath = "testdata/golden.safetensors"

// loadGolden fails the test when the fixture is missing: regenerate it with
// /usr/bin/python3 tools/golden/kernels.py.
func loadGolden(t *testing.T) *golden {
	t.Helper()
	b, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("golden fixture: %v (regenerate: /usr/bin/python3 tools/golden/kernels.py)", err)
	}
	g, err := parseGolden(b)
	if err != nil {
		t.Fatalf("golden fixture %s: %v", goldenPath, err)
	}
	return g
}

func parseGolden(b []byte) (*golden, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("file of %d bytes has no header length", len(b))
	}
	n := binary.LittleEndian.Uint64(b)
	if n > uint64(len(b)-8) {
		return nil, fmt.Errorf("header length %d beyond the file's %d bytes", n, len(b))
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &raw); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	g := &golden{data: b[8+n:]}
	if m, ok := raw["__metadata__"]; ok {
		if err := json.Unmarshal(m, &g.meta); err != nil {
			return nil, fmt.Errorf("metadata: %w", err)
		}
		delete(raw, "__metadata__")
	}
	rest, _ := json.Marshal(raw)
	if err := json.Unmarshal(rest, &g.hdr); err != nil {
		return nil, fmt.Errorf("tensor entries: %w", err)
	}
	for name, e := range g.hdr {
		size := map[string]int{"F32": 4, "I64": 8}[e.Dtype]
		if size == 0 {
			return nil, fmt.Errorf("tensor %s: dtype %q not supported", name, e.Dtype)
		}
		elems := 1
		for _, d := range e.Shape {
			if d < 0 || (d > 0 && elems > math.MaxInt32/d) {
				return nil, fmt.Errorf("tensor %s: bad shape %v", name, e.Shape)
			}
			elems *= d
		}
		if e.Offsets[0] < 0 || e.Offsets[1] > len(g.data) || e.Offsets[1]-e.Offsets[0] != elems*size {
			return nil, fmt.Errorf("tensor %s: offsets %v do not hold %v %s", name, e.Offsets, e.Shape, e.Dtype)
		}
	}
	return g, nil
}

func (g *golden) cases(prefix string) []string {
	var s []string
	for k := range g.meta {
		if strings.HasPrefix(k, prefix) {
			s = append(s, k)
		}
	}
	sort.Strings(s)
	return s
}

func (g *golden) params(t *testing.T, name string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(g.meta[name]), v); err != nil {
		t.Fatalf("%s params: %v", name, err)
	}
}

func (g *golden) has(name string) bool { _, ok := g.hdr[name]; return ok }

func (g *golden) f32(t *testing.T, name string) []float32 {
	t.Helper()
	e, ok := g.hdr[name]
	if !ok || e.Dtype != "F32" {
		t.Fatalf("golden tensor %s missing or not F32", name)
	}
	b := g.data[e.Offsets[0]:e.Offsets[1]]
	s := make([]float32, len(b)/4)
	for i := range s {
		s[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return s
}

func (g *golden) opt(t *testing.T, name string) []float32 {
	if !g.has(name) {
		return nil
	}
	return g.f32(t, name)
}

func (g *golden) i64(t *testing.T, name string) []int64 {
	t.Helper()
	e, ok := g.hdr[name]
	if !ok || e.Dtype != "I64" {
		t.Fatalf("golden tensor %s missing or not I64", name)
	}
	b := g.data[e.Offsets[0]:e.Offsets[1]]
	s := make([]int64, len(b)/8)
	for i := range s {
		s[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return s
}

func checkClose(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	if e := relErr(got, want); e > 1e-4 || math.IsNaN(e) {
		t.Errorf("%s: max|ours-ref|/max|ref| = %.3g > 1e-4", what, e)
	}
}

// withImpls runs f once per available micro-kernel (asm and pure Go), by swapping the
// implementation the public kernels use.
func withImpls(t *testing.T, f func(t *testing.T)) {
	saved := bestImpl
	defer func() { bestImpl = saved }()
	for _, impl := range availableImpls() {
		bestImpl = impl
		t.Run(impl.name, f)
	}
}

func TestGoldenSgemm(t *testing.T) {
	g := loadGolden(t)
	names := g.cases("sgemm")
	if len(names) == 0 {
		t.Fatal("no sgemm cases in the fixture")
	}
	withImpls(t, func(t *testing.T) {
		for _, name := range names {
			var p struct {
				M, N, K, Lda, Ldb, Ldc int
				Ta, Tb                 bool
				Alpha, Beta            float32
			}
			g.params(t, name, &p)
			c := g.f32(t, name+".c")
			Sgemm(p.Ta, p.Tb, p.M, p.N, p.K, p.Alpha, g.f32(t, name+".a"), p.Lda, g.f32(t, name+".b"), p.Ldb, p.Beta, c, p.Ldc)
			checkClose(t, name, c, g.f32(t, name+".want"))
		}
	})
}

func TestGoldenBatchedSgemm(t *testing.T) {
	g := loadGolden(t)
	for _, name := range g.cases("bmm") {
		var p struct {
			Batch, M, N, K int
			Ta, Tb         bool
		}
		g.params(t, name, &p)
		lda, ldb := p.K, p.N
		if p.Ta {
			lda = p.M
		}
		if p.Tb {
			ldb = p.K
		}
		c := make([]float32, p.Batch*p.M*p.N)
		BatchedSgemm(p.Ta, p.Tb, p.Batch, p.M, p.N, p.K, 1, g.f32(t, name+".a"), lda, p.M*p.K,
			g.f32(t, name+".b"), ldb, p.K*p.N, 0, c, p.N, p.M*p.N)
		checkClose(t, name, c, g.f32(t, name+".want"))
	}
}

func TestGoldenConv2d(t *testing.T) {
	g := loadGolden(t)
	names := g.cases("conv2d")
	withImpls(t, func(t *testing.T) {
		var ws Workspace
		for _, name := range names {
			var p struct {
				N, C, H, W, O, Kh, Kw, Groups int
				Stride, Pad, Dil              [2]int
				Relu                          bool
				Out                           []int
			}
			g.params(t, name, &p)
			cp := Conv2dParams{N: p.N, C: p.C, H: p.H, W: p.W, O: p.O, KH: p.Kh, KW: p.Kw,
				StrideH: p.Stride[0], StrideW: p.Stride[1], PadH: p.Pad[0], PadW: p.Pad[1],
				DilH: p.Dil[0], DilW: p.Dil[1], Groups: p.Groups, ReLU: p.Relu, Residual: g.opt(t, name+".residual")}
			if cp.OutH() != p.Out[2] || cp.OutW() != p.Out[3] {
				t.Fatalf("%s: output %dx%d, torch %v", name, cp.OutH(), cp.OutW(), p.Out)
			}
			out := make([]float32, p.N*p.O*cp.OutH()*cp.OutW())
			Conv2d(cp, g.f32(t, name+".x"), g.f32(t, name+".w"), g.opt(t, name+".bias"), out, &ws)
			checkClose(t, name, out, g.f32(t, name+".want"))
			clear(out)
			PackConv2d(cp, g.f32(t, name+".w")).Run(cp, g.f32(t, name+".x"), g.opt(t, name+".bias"), out, &ws)
			checkClose(t, name+" packed", out, g.f32(t, name+".want"))
		}
	})
}

func TestGoldenConv1d(t *testing.T) {
	g := loadGolden(t)
	for _, name := range g.cases("conv1d") {
		var p struct {
			N, C, L, O, K, Stride, Pad, Dil, Groups int
			Causal                                  bool
			Out                                     []int
		}
		g.params(t, name, &p)
		cp := Conv1dParams{N: p.N, C: p.C, L: p.L, O: p.O, K: p.K, Stride: p.Stride, Padding: p.Pad,
			Dilation: p.Dil, Groups: p.Groups, Causal: p.Causal}
		if cp.OutL() != p.Out[2] {
			t.Fatalf("%s: output length %d, torch %d", name, cp.OutL(), p.Out[2])
		}
		out := make([]float32, p.N*p.O*cp.OutL())
		Conv1d(cp, g.f32(t, name+".x"), g.f32(t, name+".w"), g.f32(t, name+".bias"), out, nil)
		checkClose(t, name, out, g.f32(t, name+".want"))
	}
}

func TestGoldenPool(t *testing.T) {
	g := loadGolden(t)
	for _, name := range g.cases("pool") {
		var p struct {
			Kind       string
			Shape, Out []int
			K, S, P    int
			Cip        bool
		}
		g.params(t, name, &p)
		pp := Pool2dParams{N: p.Shape[0], C: p.Shape[1], H: p.Shape[2], W: p.Shape[3], KH: p.K, KW: p.K,
			StrideH: p.S, StrideW: p.S, PadH: p.P, PadW: p.P, CountIncludePad: p.Cip}
		if pp.OutH() != p.Out[2] || pp.OutW() != p.Out[3] {
			t.Fatalf("%s: output %dx%d, torch %v", name, pp.OutH(), pp.OutW(), p.Out)
		}
		out := make([]float32, pp.N*pp.C*pp.OutH()*pp.OutW())
		if p.Kind == "max" {
			MaxPool2d(pp, g.f32(t, name+".x"), out)
		} else {
			AvgPool2d(pp, g.f32(t, name+".x"), out)
		}
		checkClose(t, name, out, g.f32(t, name+".want"))
	}
	for _, name := range g.cases("apool") {
		var p struct {
			Shape  []int
			Oh, Ow int
		}
		g.params(t, name, &p)
		out := make([]float32, p.Shape[0]*p.Shape[1]*p.Oh*p.Ow)
		AdaptiveAvgPool2d(p.Shape[0], p.Shape[1], p.Shape[2], p.Shape[3], p.Oh, p.Ow, g.f32(t, name+".x"), out)
		checkClose(t, name, out, g.f32(t, name+".want"))
	}
}

func TestGoldenSoftmaxNorms(t *testing.T) {
	g := loadGolden(t)
	for _, name := range g.cases("softmax") {
		var p struct{ Rows, N, Ld int }
		g.params(t, name, &p)
		x := g.f32(t, name+".x")
		SoftmaxStrided(p.Rows, p.N, x, p.Ld)
		checkClose(t, name, x, g.f32(t, name+".want"))
	}
	for _, name := range g.cases("layernorm") {
		var p struct {
			Rows, N int
			Eps     float32
		}
		g.params(t, name, &p)
		out := make([]float32, p.Rows*p.N)
		LayerNorm(p.Rows, p.N, g.f32(t, name+".x"), g.f32(t, name+".gamma"), g.f32(t, name+".beta"), p.Eps, out)
		checkClose(t, name, out, g.f32(t, name+".want"))
	}
	for _, name := range g.cases("groupnorm") {
		var p struct {
			N, C, Hw, Groups int
			Eps              float32
		}
		g.params(t, name, &p)
		x := g.f32(t, name+".x")
		GroupNorm(p.N, p.C, p.Hw, p.Groups, x, g.f32(t, name+".gamma"), g.f32(t, name+".beta"), p.Eps, x)
		checkClose(t, name, x, g.f32(t, name+".want"))
	}
}

func TestGoldenActivations(t *testing.T) {
	g := loadGolden(t)
	x := g.f32(t, "act.x")
	for _, tc := range []struct {
		name string
		f    func(x, out []float32)
	}{{"gelu", GELU}, {"relu", ReLU}, {"tanh", Tanh}, {"sigmoid", Sigmoid}} {
		out := make([]float32, len(x))
		tc.f(x, out)
		checkClose(t, tc.name, out, g.f32(t, "act."+tc.name))
		// Each element on its own too: the tails (±90, 1e-6) must be right, not just
		// small against the largest value.
		want := g.f32(t, "act."+tc.name)
		for i := range out {
			if d := math.Abs(float64(out[i] - want[i])); d > 1e-6+1e-5*math.Abs(float64(want[i])) {
				t.Errorf("%s(%g) = %g, torch %g", tc.name, x[i], out[i], want[i])
			}
		}
	}
}

func TestGoldenLSTMCell(t *testing.T) {
	g := loadGolden(t)
	for _, name := range g.cases("lstm") {
		var p struct{ Batch, Ins, Hid int }
		g.params(t, name, &p)
		h, c := g.f32(t, name+".h"), g.f32(t, name+".c")
		// In place: the outputs overwrite h and c, as a recurrent loop does.
		LSTMCell(p.Batch, p.Ins, p.Hid, g.f32(t, name+".x"), h, c, g.f32(t, name+".wih"), g.f32(t, name+".whh"),
			g.f32(t, name+".bih"), g.f32(t, name+".bhh"), h, c, nil)
		checkClose(t, name+" h", h, g.f32(t, name+".h1"))
		checkClose(t, name+" c", c, g.f32(t, name+".c1"))
	}
}

func TestGoldenAttention(t *testing.T) {
	g := loadGolden(t)
	var ws Workspace
	{
		var p struct{ B, H, Lq, Lk, D, Dv int }
		g.params(t, "attn0", &p)
		out := make([]float32, p.B*p.H*p.Lq*p.Dv)
		Attention(AttentionParams{Batch: p.B, Heads: p.H, Lq: p.Lq, Lk: p.Lk, D: p.D, Dv: p.Dv, Mask: g.f32(t, "attn0.mask")},
			g.f32(t, "attn0.q"), g.f32(t, "attn0.k"), g.f32(t, "attn0.v"), out, &ws)
		checkClose(t, "attn0 (additive mask)", out, g.f32(t, "attn0.want"))
	}
	{
		var p struct{ B, H, Lq, Lk, D, Dv int }
		g.params(t, "attn1", &p)
		out := make([]float32, p.B*p.H*p.Lq*p.Dv)
		Attention(AttentionParams{Batch: p.B, Heads: p.H, Lq: p.Lq, Lk: p.Lk, D: p.D, Dv: p.Dv, Causal: true},
			g.f32(t, "attn1.q"), g.f32(t, "attn1.k"), g.f32(t, "attn1.v"), out, &ws)
		checkClose(t, "attn1 (causal)", out, g.f32(t, "attn1.want"))
	}
	{
		var p struct{ B, H, L, D int }
		g.params(t, "attn2", &p)
		qkv := g.f32(t, "attn2.qkv")
		hd := p.H * p.D
		st := [3]int{p.L * 3 * hd, p.D, 3 * hd}
		out := make([]float32, p.B*p.L*hd)
		Attention(AttentionParams{Batch: p.B, Heads: p.H, Lq: p.L, Lk: p.L, D: p.D, Dv: p.D,
			Mask: g.f32(t, "attn2.mask"), MaskPerBatch: true,
			QStrides: st, KStrides: st, VStrides: st, OutStrides: [3]int{p.L * hd, p.D, hd}},
			qkv, qkv[hd:], qkv[2*hd:], out, &ws)
		checkClose(t, "attn2 (strided fused qkv, padding mask)", out, g.f32(t, "attn2.want"))
	}
}

func TestGoldenEmbedding(t *testing.T) {
	g := loadGolden(t)
	ids := g.i64(t, "embedding.ids")
	out := make([]float32, len(ids)*7)
	if err := Embedding(g.f32(t, "embedding.table"), 7, ids, out); err != nil {
		t.Fatal(err)
	}
	checkClose(t, "embedding", out, g.f32(t, "embedding.want"))
	if err := Embedding(g.f32(t, "embedding.table"), 7, []int64{3, 33}, out); err == nil || !strings.Contains(err.Error(), "position 1") {
		t.Fatalf("out-of-range id: err = %v", err)
	}
}

// FuzzParseGolden keeps the fixture reader honest on damaged files.
func FuzzParseGolden(f *testing.F) {
	if b, err := os.ReadFile(goldenPath); err == nil && len(b) > 4096 {
		n := binary.LittleEndian.Uint64(b)
		f.Add(b[:min(uint64(len(b)), 8+n)])
	}
	f.Add([]byte("\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}abcd"))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := parseGolden(b)
		if err != nil {
			return
		}
		for _, e := range g.hdr {
			_ = g.data[e.Offsets[0]:e.Offsets[1]]
		}
	})
}
