package nn

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/plexusml/plexus/core/nn/weights"
	"github.com/plexusml/plexus/core/tensor"
)

// wav2vec2LayerNames are torchaudio's EncoderLayer names (speech/wav2vec2 declares the
// same; the test keeps its own copy so core/nn does not depend on a model package).
var wav2vec2LayerNames = TransformerNames{
	Query: "attention.q_proj", Key: "attention.k_proj", Value: "attention.v_proj", Out: "attention.out_proj",
	AttnNorm: "layer_norm", FF1: "feed_forward.intermediate_dense", FF2: "feed_forward.output_dense",
	FFNorm: "final_layer_norm",
}

// TestGoldenTransformerLayer checks the layer against torch.nn.TransformerEncoderLayer
// and torchaudio's wav2vec2 EncoderLayer, post- and pre-norm, on padded batches
// (fixtures from tools/golden/transformer.py).
func TestGoldenTransformerLayer(t *testing.T) {
	for _, name := range []string{"transformer_torch_post_relu", "transformer_torch_pre_gelu",
		"transformer_wav2vec2_post", "transformer_wav2vec2_pre"} {
		t.Run(name, func(t *testing.T) {
			f, b := load(t, name)
			var cfg struct {
				PreNorm    bool    `json:"pre_norm"`
				Names      string  `json:"names"`
				Activation string  `json:"activation"`
				Eps        float64 `json:"eps"`
			}
			if err := json.Unmarshal([]byte(f.st.Metadata()["config"]), &cfg); err != nil {
				t.Fatal(err)
			}
			act, err := ParseActivation(cfg.Activation)
			if err != nil {
				t.Fatal(err)
			}
			names := TorchEncoderLayerNames
			if cfg.Names == "wav2vec2" {
				names = wav2vec2LayerNames
			}
			l := NewTransformerLayer(b, f.cfg.Prefix, names, TransformerConfig{
				Heads: f.cfg.Heads, PreNorm: cfg.PreNorm, Activation: act, Eps: float32(cfg.Eps)})
			bindOK(t, f, b)
			mask := AttentionMask{KeyPadding: f.bools(t, "key_padding_mask")}
			x := f.in(t, "x")
			x0 := slices.Clone(x.Data)
			arenas(t, func(t *testing.T, a *Arena) {
				f.check(t, "y", l.Forward(a, x, mask))
				if !slices.Equal(x.Data, x0) {
					t.Fatal("Forward modified its input")
				}
			})
		})
	}
}

// TestTransformerLayerPaddingInvariance checks what batching relies on: a sequence's
// real positions come out the same alone as padded in a batch with a longer one.
func TestTransformerLayerPaddingInvariance(t *testing.T) {
	f, b := load(t, "transformer_wav2vec2_pre")
	l := NewTransformerLayer(b, f.cfg.Prefix, wav2vec2LayerNames, TransformerConfig{Heads: f.cfg.Heads, PreNorm: true, Activation: GELU})
	bindOK(t, f, b)
	x := f.in(t, "x") // 2×9×48, the second sequence 5 long
	e := x.Dim(2)
	batched := l.Forward(nil, x, AttentionMask{KeyPadding: KeyPaddingFromLengths(nil, []int{9, 5}, 9)})
	alone := l.Forward(nil, NewAct(slices.Clone(x.Data[9*e:(9+5)*e]), 1, 5, e), AttentionMask{})
	if d := relErr(batched.Data[9*e:(9+5)*e], alone.Data); d > 1e-6 {
		t.Fatalf("padded sequence differs from the same sequence alone by %.3g", d)
	}
}

func TestTransformerLayerBindErrors(t *testing.T) {
	f, _ := load(t, "transformer_torch_post_relu")
	tensors := map[string]*tensor.Tensor{}
	for _, n := range f.st.Names() {
		if strings.HasPrefix(n, "enc.") && n != "enc.norm2.bias" {
			x, _ := f.st.Get(n)
			tensors[n] = x
		}
	}
	// A feed-forward whose output width is not Embed, and a missing norm bias (optional,
	// so fine), and a wrong prefix for the second norm.
	tensors["enc.linear2.weight"] = tensor.FromFloat32(make([]float32, 31*48), 31, 48)
	tensors["enc.linear2.bias"] = tensor.FromFloat32(make([]float32, 31), 31)
	b := weights.NewBinder(weights.NewMapStore("test.safetensors", tensors))
	names := TorchEncoderLayerNames
	names.FFNorm = "norm3"
	NewTransformerLayer(b, "enc", names, TransformerConfig{Heads: 4, Activation: ReLU})
	err := b.Err()
	if err == nil {
		t.Fatal("no error for a bad feed-forward and a missing norm")
	}
	for _, want := range []string{"enc.linear2.weight", "enc.norm3.weight", "enc.norm2.weight"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
}

func TestTransformerLayerNoActivationPanics(t *testing.T) {
	f, b := load(t, "transformer_torch_post_relu")
	defer func() {
		if recover() == nil {
			t.Fatal("no panic without a feed-forward activation")
		}
	}()
	NewTransformerLayer(b, f.cfg.Prefix, TorchEncoderLayerNames, TransformerConfig{Heads: 4})
}

func TestKeyPaddingFromLengths(t *testing.T) {
	got := KeyPaddingFromLengths(make([]bool, 1), []int{3, 0, 5}, 4)
	want := []bool{false, false, false, true, true, true, true, true, false, false, false, false}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
