package wav2vec2

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestPresets checks Base, Large and LargeLV60K against the state_dict names and shapes
// of torchaudio's wav2vec2_base, wav2vec2_large and wav2vec2_large_lv60k (written by
// tools/golden/wav2vec2.py), through ParamShapes, which New binds by.
func TestPresets(t *testing.T) {
	b, err := os.ReadFile("testdata/presets.json")
	if err != nil {
		t.Fatalf("%v (regenerate with /usr/bin/python3 tools/golden/wav2vec2.py)", err)
	}
	var ref map[string]map[string][]int
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]Config{"base": Base(29), "large": Large(29), "large_lv60k": LargeLV60K(29)} {
		got, err := ParamShapes(cfg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := ref[name]
		if len(want) == 0 {
			t.Fatalf("presets.json has no %s", name)
		}
		for k, s := range want {
			if !slices.Equal(got[k], s) {
				t.Errorf("%s: %s is %v, torchaudio %v", name, k, got[k], s)
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("%s: %s is not in torchaudio's state_dict", name, k)
			}
		}
	}
}

func TestFrames(t *testing.T) {
	c := Base(29)
	for _, tc := range []struct{ n, frames int }{{0, 0}, {399, 0}, {400, 1}, {719, 1}, {720, 2}, {16000, 49}, {160000, 499}} {
		if got := c.Frames(tc.n); got != tc.frames {
			t.Errorf("Frames(%d) = %d, want %d", tc.n, got, tc.frames)
		}
	}
	if c.FrameSamples() != 320 {
		t.Errorf("FrameSamples %d, want 320", c.FrameSamples())
	}
}

func TestParseConfig(t *testing.T) {
	good := `{"architecture": "wav2vec2", "extractor_mode": "group_norm", "extractor_conv_layer_config": null,
		"extractor_conv_bias": false, "encoder_embed_dim": 768, "encoder_projection_dropout": 0.1,
		"encoder_pos_conv_kernel": 128, "encoder_pos_conv_groups": 16, "encoder_num_layers": 12,
		"encoder_num_heads": 12, "encoder_attention_dropout": 0.1, "encoder_ff_interm_features": 3072,
		"encoder_ff_interm_dropout": 0.0, "encoder_dropout": 0.1, "encoder_layer_norm_first": false,
		"encoder_layer_drop": 0.05, "aux_num_out": 29, "model_type": "x"}`
	c, warn, err := ParseConfig([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(warn) != 1 || !strings.Contains(warn[0], "model_type") {
		t.Errorf("warnings %q, want one about model_type", warn)
	}
	if !slices.Equal(c.OutputLabels(), DefaultLabels()) || len(DefaultLabels()) != 29 {
		t.Errorf("labels %v, want the 29 default labels", c.OutputLabels())
	}
	want := Base(29)
	want.EncoderFFIntermDropout, want.EncoderLayerDrop, want.ExtractorConvLayerConfig, want.Labels = 0, 0.05, nil, nil
	if !reflect.DeepEqual(c, want) {
		t.Errorf("parsed %+v\nwant   %+v", c, want)
	}
	if c.ConvLayers()[0] != (ConvLayer{512, 10, 5}) || c.FrameSamples() != 320 {
		t.Errorf("default conv layers: %v", c.ConvLayers())
	}
	for _, tc := range []struct{ json, want string }{
		{`{"extractor_mode": "batch_norm"}`, `extractor_mode is "batch_norm"`},
		{`{"architecture": "resnet50"}`, `architecture is "resnet50"`},
		{`{"extractor_mode": "layer_norm", "encoder_embed_dim": 10, "encoder_num_heads": 3}`, "not divisible by encoder_num_heads"},
		{`{"extractor_conv_layer_config": [[512, 0, 5]]}`, "extractor_conv_layer_config[0]"},
		{`{"extractor_conv_layer_config": []}`, "extractor_conv_layer_config is empty"},
		{`{"aux_num_out": 5, "labels": ["a"]}`, "1 labels for aux_num_out 5"},
		{`{"labels": ["a"]}`, "aux_num_out is null"},
		{`{"encoder_num_layers": "twelve"}`, "cannot unmarshal"},
		{`[1, 2]`, "cannot unmarshal"},
		{`{"encoder_num_layers": 100000}`, "encoder_num_layers is 100000, at most"},
	} {
		_, _, err := ParseConfig([]byte(tc.json))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to mention %q", tc.json, err, tc.want)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{`{}`, `{"extractor_mode": "group_norm", "encoder_embed_dim": 8, "encoder_num_heads": 2,
		"encoder_pos_conv_kernel": 3, "encoder_pos_conv_groups": 2, "encoder_num_layers": 1, "encoder_ff_interm_features": 4,
		"extractor_conv_layer_config": [[4, 3, 2]], "aux_num_out": 3, "labels": ["-", "a", "b"]}`, `null`, `{"aux_num_out": -1}`} {
		f.Add([]byte(s))
	}
	if b, err := os.ReadFile("testdata/gn_post.json"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, _, err := ParseConfig(b)
		if err != nil {
			return
		}
		// A valid config must describe a model whose shapes and lengths are computable.
		if _, err := ParamShapes(c); err != nil {
			t.Fatalf("valid config, ParamShapes: %v", err)
		}
		if c.FrameSamples() < 1 || c.Frames(1000) < 0 {
			t.Fatalf("frame arithmetic: %d, %d", c.FrameSamples(), c.Frames(1000))
		}
		if c.AuxNumOut != nil && c.OutputLabels() != nil && len(c.OutputLabels()) != *c.AuxNumOut {
			t.Fatalf("%d labels for %d outputs", len(c.OutputLabels()), *c.AuxNumOut)
		}
	})
}
