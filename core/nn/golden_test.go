package nn

import (
	"encoding/json"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/plexusml/plexus/core/nn/weights"
	"github.com/plexusml/plexus/core/tensor"
)

// fixture is one case written by tools/golden/nn.py: parameters by PyTorch names,
// inputs under in.*, reference outputs under out.*, the layer's config as JSON metadata.
type fixture struct {
	name string
	st   *weights.Safetensors
	cfg  struct {
		Prefix     string          `json:"prefix"`
		Conv       string          `json:"conv"`
		BN         string          `json:"bn"`
		Stride     json.RawMessage `json:"stride"`
		Padding    json.RawMessage `json:"padding"`
		Dilation   json.RawMessage `json:"dilation"`
		Groups     int             `json:"groups"`
		ReLU       bool            `json:"relu"`
		Causal     bool            `json:"causal"`
		Eps        float64         `json:"eps"`
		Activation string          `json:"activation"`
		Layers     int             `json:"layers"`
		BatchFirst bool            `json:"batch_first"`
		Heads      int             `json:"heads"`
		Self       bool            `json:"self"`
		Kernel     json.RawMessage `json:"kernel"`
		Out        json.RawMessage `json:"out"`
		ExcludePad bool            `json:"exclude_pad"`
	}
}

// load opens testdata/name.safetensors and a Binder over its parameters. A missing
// fixture fails the test: regenerate with /usr/bin/python3 tools/golden/nn.py.
func load(t *testing.T, name string) (*fixture, *weights.Binder) {
	t.Helper()
	path := filepath.Join("testdata", name+".safetensors")
	st, err := weights.OpenSafetensors(path)
	if err != nil {
		t.Fatalf("fixture %s: %v (regenerate with /usr/bin/python3 tools/golden/nn.py)", path, err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{name: name, st: st}
	if err := json.Unmarshal([]byte(st.Metadata()["config"]), &f.cfg); err != nil {
		t.Fatalf("fixture %s: config metadata: %v", path, err)
	}
	return f, weights.NewBinder(st, weights.Ignore("in.*", "out.*"))
}

func (f *fixture) tensor(t *testing.T, name string) *tensor.Tensor {
	t.Helper()
	x, ok := f.st.Get(name)
	if !ok {
		t.Fatalf("fixture %s has no tensor %s", f.name, name)
	}
	return x
}

// in returns input name as a fresh activation (a copy, so layers may not alias the
// memory-mapped file).
func (f *fixture) in(t *testing.T, name string) Act {
	x := FromTensor(f.tensor(t, "in."+name))
	return NewAct(slices.Clone(x.Data), x.Shape()...)
}

func (f *fixture) bools(t *testing.T, name string) []bool {
	x := f.tensor(t, "in."+name).ToFloat32().Float32s()
	out := make([]bool, len(x))
	for i, v := range x {
		out[i] = v != 0
	}
	return out
}

func (f *fixture) int64s(t *testing.T, name string) []int64 {
	return f.tensor(t, "in."+name).ConvertTo(tensor.Int64).Int64s()
}

func (f *fixture) pair(t *testing.T, raw json.RawMessage) [2]int {
	var p [2]int
	if len(raw) == 0 {
		return p
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatalf("fixture %s: %s is not a pair: %v", f.name, raw, err)
	}
	return p
}

func (f *fixture) int(t *testing.T, raw json.RawMessage) int {
	var n int
	if len(raw) == 0 {
		return 0
	}
	if err := json.Unmarshal(raw, &n); err != nil {
		t.Fatalf("fixture %s: %s is not an int: %v", f.name, raw, err)
	}
	return n
}

// check compares got with out.name: same shape and max|got−ref|/max|ref| ≤ 1e-4.
func (f *fixture) check(t *testing.T, name string, got Act) {
	t.Helper()
	ref := FromTensor(f.tensor(t, "out."+name))
	if !slices.Equal(got.Shape(), ref.Shape()) {
		t.Fatalf("%s: %s has shape %v, PyTorch %v", f.name, name, got.Shape(), ref.Shape())
	}
	if e := relErr(got.Data, ref.Data); !(e <= 1e-4) {
		t.Errorf("%s: %s differs from PyTorch by %.3g (max|ours−ref|/max|ref|), limit 1e-4", f.name, name, e)
	} else {
		t.Logf("%s: %s relative error %.2g", f.name, name, e)
	}
}

func relErr(got, ref []float32) float64 {
	var d, m float64
	for i, r := range ref {
		d = math.Max(d, math.Abs(float64(got[i])-float64(r)))
		m = math.Max(m, math.Abs(float64(r)))
	}
	if m == 0 {
		return d
	}
	return d / m
}

func bindOK(t *testing.T, f *fixture, b *weights.Binder) {
	t.Helper()
	if err := b.Err(); err != nil {
		t.Fatalf("%s: %v", f.name, err)
	}
}

// arenas runs a test body with a nil arena (every buffer allocated) and with a reused
// one over two passes, so stale arena contents would show up as a mismatch.
func arenas(t *testing.T, body func(t *testing.T, a *Arena)) {
	t.Run("nil-arena", func(t *testing.T) { body(t, nil) })
	a := NewArena(0)
	for _, pass := range []string{"arena-pass1", "arena-pass2"} {
		t.Run(pass, func(t *testing.T) {
			a.Reset()
			// Poison the arena so a layer that reads memory it did not write fails.
			poison := a.Floats(a.Size())
			for i := range poison {
				poison[i] = float32(math.NaN())
			}
			a.Reset()
			body(t, a)
		})
	}
}

func TestGoldenLinear(t *testing.T) {
	for _, name := range []string{"linear_257x33", "linear_1x7", "linear_33x257_nobias_3d", "linear_7x33_gelu", "linear_33x7_relu"} {
		t.Run(name, func(t *testing.T) {
			f, b := load(t, name)
			act, err := ParseActivation(f.cfg.Activation)
			if err != nil {
				t.Fatal(err)
			}
			l := NewLinear(b, f.cfg.Prefix, LinearConfig{Activation: act})
			bindOK(t, f, b)
			x := f.in(t, "x")
			arenas(t, func(t *testing.T, a *Arena) { f.check(t, "y", l.Forward(a, x)) })
		})
	}
}

func TestGoldenConv2d(t *testing.T) {
	names := []string{"conv2d_3x7_k3_33", "conv2d_k1_pointwise", "conv2d_k1_single", "conv2d_s2_groups",
		"conv2d_depthwise_dil2", "conv2d_rect_1x7", "conv2d_7x7_s2_n1", "conv2d_residual_relu"}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			f, b := load(t, name)
			c := NewConv2d(b, f.cfg.Prefix, Conv2dConfig{
				Stride: f.pair(t, f.cfg.Stride), Padding: f.pair(t, f.cfg.Padding), Dilation: f.pair(t, f.cfg.Dilation),
				Groups: f.cfg.Groups, ReLU: f.cfg.ReLU,
			})
			bindOK(t, f, b)
			x := f.in(t, "x")
			arenas(t, func(t *testing.T, a *Arena) {
				if _, ok := f.st.Get("in.residual"); ok {
					f.check(t, "y", c.ForwardAdd(a, x, f.in(t, "residual")))
					return
				}
				y := c.Forward(a, x)
				if oh, ow := c.OutSize(x.Dim(2), x.Dim(3)); oh != y.Dim(2) || ow != y.Dim(3) {
					t.Errorf("OutSize %d×%d, output %v", oh, ow, y.Shape())
				}
				f.check(t, "y", y)
			})
		})
	}
}

func TestGoldenConvBN(t *testing.T) {
	for _, name := range []string{"convbn_k3", "convbn_k3_s2_bias_eps1e-3", "convbn_k1_batch3"} {
		t.Run(name, func(t *testing.T) {
			f, b := load(t, name)
			c := NewConvBN(b, f.cfg.Conv, f.cfg.BN, Conv2dConfig{
				Stride: f.pair(t, f.cfg.Stride), Padding: f.pair(t, f.cfg.Padding),
				ReLU: f.cfg.ReLU, Eps: float32(f.cfg.Eps),
			})
			// Every BatchNorm tensor, num_batches_tracked included, must be consumed.
			bindOK(t, f, b)
			x := f.in(t, "x")
			arenas(t, func(t *testing.T, a *Arena) { f.check(t, "y", c.Forward(a, x)) })
		})
	}
}

func TestGoldenConv1d(t *testing.T) {
	for _, name := range []string{"conv1d_7x33_k3_257", "conv1d_causal_dil4", "conv1d_s2_groups", "conv1d_len1_k1", "conv1d_bn"} {
		t.Run(name, func(t *testing.T) {
			f, b := load(t, name)
			cfg := Conv1dConfig{Stride: f.int(t, f.cfg.Stride), Padding: f.int(t, f.cfg.Padding),
				Dilation: f.int(t, f.cfg.Dilation), Groups: f.cfg.Groups, Causal: f.cfg.Causal}
			var c *Conv1d
			if f.cfg.BN != "" {
				c = NewConv1dBN(b, f.cfg.Prefix, f.cfg.BN, cfg)
			} else {
				c = NewConv1d(b, f.cfg.Prefix, cfg)
			}
			bindOK(t, f, b)
			x := f.in(t, "x")
			arenas(t, func(t *testing.T, a *Arena) {
				y := c.Forward(a, x)
				if ol := c.OutLen(x.Dim(2)); ol != y.Dim(2) {
					t.Errorf("OutLen %d, output %v", ol, y.Shape())
				}
				f.check(t, "y", y)
			})
		})
	}
}

func TestGoldenNorms(t *testing.T) {
	for _, name := range []string{"layernorm_257", "layernorm_33_eps1e-12", "layernorm_7_batch1",
		"groupnorm_32_g4", "groupnorm_33_g3_1d", "groupnorm_7_g7",
		"batchnorm2d_7", "batchnorm1d_33", "batchnorm1d_flat"} {
		t.Run(name, func(t *testing.T) {
			f, b := load(t, name)
			eps := float32(f.cfg.Eps)
			var l Layer
			switch name[:5] {
			case "layer":
				l = NewLayerNorm(b, f.cfg.Prefix, eps)
			case "group":
				l = NewGroupNorm(b, f.cfg.Prefix, f.cfg.Groups, eps)
			default:
				l = NewBatchNorm(b, f.cfg.Prefix, eps)
			}
			bindOK(t, f, b)
			x := f.in(t, "x")
			arenas(t, func(t *testing.T, a *Arena) { f.check(t, "y", l.Forward(a, x)) })
		})
	}
}

func TestGoldenEmbedding(t *testing.T) {
	for _, name := range []string{"embedding_257x33", "embedding_7x1"} {
		t.Run(name, func(t *testing.T) {
			f, b := load(t, name)
			e := NewEmbedding(b, f.cfg.Prefix)
			bindOK(t, f, b)
			ids := f.int64s(t, "ids")
			shape := f.tensor(t, "in.ids").Shape()
			arenas(t, func(t *testing.T, a *Arena) {
				y, err := e.Forward(a, ids, shape...)
				if err != nil {
					t.Fatal(err)
				}
				f.check(t, "y", y)
			})
		})
	}
}

func TestGoldenLSTM(t *testing.T) {
	for _, name := range []string{"lstm_2layer_batchfirst", "lstm_seqfirst_h0", "lstm_3layer_nobias_step", "lstm_bidir_2layer", "lstm_bidir_seqfirst",
		"lstm_packed_bidir", "lstm_packed_seqfirst"} {
		t.Run(name, func(t *testing.T) {
			f, b := load(t, name)
			l := NewLSTM(b, f.cfg.Prefix, LSTMConfig{Layers: f.cfg.Layers, BatchFirst: f.cfg.BatchFirst})
			bindOK(t, f, b)
			x1 := f.in(t, "x1")
			batch := x1.Dim(1)
			if l.BatchFirst {
				batch = x1.Dim(0)
			}
			arenas(t, func(t *testing.T, a *Arena) {
				st := l.NewState(batch)
				if _, ok := f.st.Get("in.h0"); ok {
					copy(st.H, f.in(t, "h0").Data)
					copy(st.C, f.in(t, "c0").Data)
				}
				state := func(s []float32) Act { return NewAct(s, len(l.Layers), batch, l.Hidden) }
				var lengths []int
				if _, ok := f.st.Get("in.lengths"); ok {
					for _, n := range f.int64s(t, "lengths") {
						lengths = append(lengths, int(n))
					}
				}
				f.check(t, "y1", l.ForwardLengths(a, x1, st, lengths))
				f.check(t, "h1", state(st.H))
				f.check(t, "c1", state(st.C))
				if _, ok := f.st.Get("in.x2"); !ok {
					return
				}
				// The second call continues the same sequences from the carried state.
				f.check(t, "y2", l.Forward(a, f.in(t, "x2"), st))
				f.check(t, "h2", state(st.H))
				f.check(t, "c2", state(st.C))
			})
			_, h0 := f.st.Get("in.h0")
			_, packed := f.st.Get("in.lengths")
			if !h0 && !packed {
				// A nil state means zeros: the first call must match without one.
				f.check(t, "y1", l.Forward(nil, x1, nil))
			}
		})
	}
}

func TestGoldenMultiheadAttention(t *testing.T) {
	for _, name := range []string{"mha_self_padding", "mha_cross_seqfirst_floatmask", "mha_causal_padding", "mha_kdim_vdim"} {
		t.Run(name, func(t *testing.T) {
			f, b := load(t, name)
			m := NewMultiheadAttention(b, f.cfg.Prefix, AttentionConfig{Heads: f.cfg.Heads, BatchFirst: f.cfg.BatchFirst})
			bindOK(t, f, b)
			var mask AttentionMask
			if _, ok := f.st.Get("in.key_padding_mask"); ok {
				mask.KeyPadding = f.bools(t, "key_padding_mask")
			}
			if _, ok := f.st.Get("in.attn_mask"); ok {
				mask.Additive = f.in(t, "attn_mask").Data
			}
			mask.Causal = f.cfg.Causal
			arenas(t, func(t *testing.T, a *Arena) {
				if f.cfg.Self {
					f.check(t, "y", m.SelfForward(a, f.in(t, "x"), mask))
					// The unfused path (three separate projections) must agree too.
					x := f.in(t, "x")
					f.check(t, "y", m.Forward(a, x, NewAct(slices.Clone(x.Data), x.Shape()...), NewAct(slices.Clone(x.Data), x.Shape()...), mask))
					return
				}
				f.check(t, "y", m.Forward(a, f.in(t, "q"), f.in(t, "k"), f.in(t, "v"), mask))
				if m.QKVWeight == nil {
					return
				}
				// Key and value as one activation take the two-GEMM path.
				kv := f.in(t, "k")
				f.check(t, "y", m.Forward(a, f.in(t, "q"), kv, kv, mask))
			})
		})
	}
}

func TestGoldenBertAttention(t *testing.T) {
	f, b := load(t, "bert_attention")
	p := f.cfg.Prefix
	m := NewAttentionQKV(b, p+".self.query", p+".self.key", p+".self.value", p+".output.dense",
		AttentionConfig{Heads: f.cfg.Heads, BatchFirst: true})
	bindOK(t, f, b)
	keep := f.int64s(t, "attention_mask")
	pad := make([]bool, len(keep))
	for i, k := range keep {
		pad[i] = k == 0
	}
	arenas(t, func(t *testing.T, a *Arena) {
		f.check(t, "y", m.SelfForward(a, f.in(t, "x"), AttentionMask{KeyPadding: pad}))
	})
}

func TestGoldenPooling(t *testing.T) {
	for _, name := range []string{"maxpool_k3_s2_p1", "avgpool_k3_s1_p1", "avgpool_k3_s1_p1_exclude", "adaptiveavg_1x1", "adaptiveavg_7x5"} {
		t.Run(name, func(t *testing.T) {
			f, b := load(t, name)
			bindOK(t, f, b)
			k, s, p := f.pair(t, f.cfg.Kernel), f.pair(t, f.cfg.Stride), f.pair(t, f.cfg.Padding)
			var l Layer
			switch name[:3] {
			case "max":
				l = MaxPool2d{Kernel: k, Stride: s, Padding: p}
			case "avg":
				l = AvgPool2d{Kernel: k, Stride: s, Padding: p, ExcludePad: f.cfg.ExcludePad}
			default:
				l = AdaptiveAvgPool2d{Out: f.pair(t, f.cfg.Out)}
			}
			x := f.in(t, "x")
			arenas(t, func(t *testing.T, a *Arena) { f.check(t, "y", l.Forward(a, x)) })
		})
	}
}
