package wav2vec2

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
)

// Architecture is the config.json "architecture" of this model.
const Architecture = "wav2vec2"

// DefaultLabels are torchaudio's WAV2VEC2_ASR_BASE_960H labels: the CTC blank "-", the
// word separator "|", then the letters by frequency and the apostrophe.
func DefaultLabels() []string {
	return strings.Fields("- | E T A O N I H S R D L U M W C F G Y P B V K ' X J Q Z")
}

// ConvLayer is one feature-extractor convolution: (output channels, kernel, stride),
// torchaudio's extractor_conv_layer_config entry.
type ConvLayer [3]int

// DefaultConvLayers is torchaudio's default extractor_conv_layer_config, the one every
// published wav2vec 2.0 and HuBERT model uses: 320 samples per output frame, a 400-sample
// receptive field.
func DefaultConvLayers() []ConvLayer {
	return []ConvLayer{{512, 10, 5}, {512, 3, 2}, {512, 3, 2}, {512, 3, 2}, {512, 3, 2}, {512, 2, 2}, {512, 2, 2}}
}

// Config holds the arguments of torchaudio.models.wav2vec2_model under their own names,
// plus plexus's "architecture", "labels" and "normalize_waveform". Dropout and layer-drop
// settings are read and ignored: the model runs in evaluation mode.
type Config struct {
	Architecture string `json:"architecture"`
	// ExtractorMode is "group_norm" (a GroupNorm on the first convolution only: base and
	// large) or "layer_norm" (a LayerNorm after every convolution: large-lv60k, XLS-R).
	ExtractorMode string `json:"extractor_mode"`
	// ExtractorConvLayerConfig nil means DefaultConvLayers.
	ExtractorConvLayerConfig []ConvLayer `json:"extractor_conv_layer_config"`
	ExtractorConvBias        bool        `json:"extractor_conv_bias"`
	EncoderEmbedDim          int         `json:"encoder_embed_dim"`
	EncoderProjectionDropout float64     `json:"encoder_projection_dropout"`
	EncoderPosConvKernel     int         `json:"encoder_pos_conv_kernel"`
	EncoderPosConvGroups     int         `json:"encoder_pos_conv_groups"`
	EncoderNumLayers         int         `json:"encoder_num_layers"`
	EncoderNumHeads          int         `json:"encoder_num_heads"`
	EncoderAttentionDropout  float64     `json:"encoder_attention_dropout"`
	EncoderFFIntermFeatures  int         `json:"encoder_ff_interm_features"`
	EncoderFFIntermDropout   float64     `json:"encoder_ff_interm_dropout"`
	EncoderDropout           float64     `json:"encoder_dropout"`
	// EncoderLayerNormFirst selects pre-norm layers with the encoder's LayerNorm after
	// the last layer (true: large-lv60k), or post-norm layers with it before the first
	// (false: base, large).
	EncoderLayerNormFirst bool    `json:"encoder_layer_norm_first"`
	EncoderLayerDrop      float64 `json:"encoder_layer_drop"`
	// AuxNumOut is the CTC head's class count; nil for a model without one (a
	// pre-trained, not fine-tuned, bundle), which then yields hidden states only.
	AuxNumOut *int `json:"aux_num_out"`
	// Labels name the aux outputs; nil means DefaultLabels when AuxNumOut is 29.
	Labels []string `json:"labels"`
	// NormalizeWaveform normalises each waveform to zero mean and unit variance before
	// the feature extractor, as later torchaudio releases do for the bundles trained
	// that way (large-lv60k, XLS-R). torchaudio's WAV2VEC2_ASR_BASE_960H does not.
	NormalizeWaveform bool `json:"normalize_waveform"`
	// SampleRate is the input rate; zero means 16000, the rate of every published model.
	SampleRate int `json:"sample_rate"`
}

// knownKeys are the config.json keys Config reads; others are reported by ParseConfig.
var knownKeys = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range []string{"architecture", "extractor_mode", "extractor_conv_layer_config", "extractor_conv_bias",
		"encoder_embed_dim", "encoder_projection_dropout", "encoder_pos_conv_kernel", "encoder_pos_conv_groups",
		"encoder_num_layers", "encoder_num_heads", "encoder_attention_dropout", "encoder_ff_interm_features",
		"encoder_ff_interm_dropout", "encoder_dropout", "encoder_layer_norm_first", "encoder_layer_drop",
		"aux_num_out", "labels", "normalize_waveform", "sample_rate"} {
		m[k] = true
	}
	return m
}()

func intPtr(n int) *int { return &n }

// Base is torchaudio's wav2vec2_base with aux_num_out outputs (0: none);
// WAV2VEC2_ASR_BASE_960H is Base(29) with DefaultLabels.
func Base(auxNumOut int) Config {
	c := Config{
		Architecture: Architecture, ExtractorMode: "group_norm", ExtractorConvLayerConfig: DefaultConvLayers(),
		EncoderEmbedDim: 768, EncoderPosConvKernel: 128, EncoderPosConvGroups: 16,
		EncoderNumLayers: 12, EncoderNumHeads: 12, EncoderFFIntermFeatures: 3072,
		EncoderProjectionDropout: 0.1, EncoderAttentionDropout: 0.1, EncoderFFIntermDropout: 0.1,
		EncoderDropout: 0.1, EncoderLayerDrop: 0.1,
	}
	c.setAux(auxNumOut)
	return c
}

// Large is torchaudio's wav2vec2_large: Base's layout (group norm, post-norm), 24
// layers of 1024 with 16 heads.
func Large(auxNumOut int) Config {
	c := Base(auxNumOut)
	c.EncoderEmbedDim, c.EncoderNumLayers, c.EncoderNumHeads, c.EncoderFFIntermFeatures = 1024, 24, 16, 4096
	return c
}

// LargeLV60K is torchaudio's wav2vec2_large_lv60k: layer-norm extractor with conv
// bias, pre-norm layers.
func LargeLV60K(auxNumOut int) Config {
	c := Large(auxNumOut)
	c.ExtractorMode, c.ExtractorConvBias, c.EncoderLayerNormFirst = "layer_norm", true, true
	c.EncoderAttentionDropout, c.EncoderDropout = 0, 0
	return c
}

func (c *Config) setAux(n int) {
	c.AuxNumOut, c.Labels = nil, nil
	if n > 0 {
		c.AuxNumOut = intPtr(n)
		if n == len(DefaultLabels()) {
			c.Labels = DefaultLabels()
		}
	}
}

// ConvLayers is the extractor's layer configuration with the default filled in.
func (c *Config) ConvLayers() []ConvLayer {
	if c.ExtractorConvLayerConfig == nil {
		return DefaultConvLayers()
	}
	return c.ExtractorConvLayerConfig
}

// FrameSamples is the product of the extractor's strides: input samples per output frame.
func (c *Config) FrameSamples() int {
	n := 1
	for _, l := range c.ConvLayers() {
		n *= l[2]
	}
	return n
}

// Frames is the number of output frames for n input samples: torchaudio's length
// arithmetic, floor((n − kernel)/stride) + 1 per layer, never below zero.
func (c *Config) Frames(n int) int {
	for _, l := range c.ConvLayers() {
		if n < l[1] {
			return 0
		}
		n = (n-l[1])/l[2] + 1
	}
	return n
}

// Rate is SampleRate with its default.
func (c *Config) Rate() int {
	if c.SampleRate == 0 {
		return 16000
	}
	return c.SampleRate
}

// OutputLabels returns the labels of the aux outputs: Labels, or DefaultLabels for a
// 29-class head without them; nil without a head.
func (c *Config) OutputLabels() []string {
	if c.AuxNumOut == nil {
		return nil
	}
	if c.Labels != nil {
		return c.Labels
	}
	if *c.AuxNumOut == len(DefaultLabels()) {
		return DefaultLabels()
	}
	return nil
}

// Bounds on config sizes, far above any published model, so that a corrupt or hostile
// config.json fails validation instead of asking for terabytes.
const (
	maxDim        = 1 << 16
	maxConvLayers = 64
	maxLayers     = 1024
)

// Validate checks the fields a model cannot run without.
func (c *Config) Validate() error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if c.Architecture != "" && c.Architecture != Architecture {
		bad("architecture is %q, want %q", c.Architecture, Architecture)
	}
	if c.ExtractorMode != "group_norm" && c.ExtractorMode != "layer_norm" {
		bad("extractor_mode is %q, want \"group_norm\" or \"layer_norm\"", c.ExtractorMode)
	}
	if c.ExtractorConvLayerConfig != nil && len(c.ExtractorConvLayerConfig) == 0 {
		bad("extractor_conv_layer_config is empty")
	}
	for i, l := range c.ExtractorConvLayerConfig {
		if l[0] < 1 || l[1] < 1 || l[2] < 1 || l[0] > maxDim || l[1] > maxDim || l[2] > maxDim {
			bad("extractor_conv_layer_config[%d] is %v: channels, kernel and stride must be in 1…%d", i, l, maxDim)
		}
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"encoder_embed_dim", c.EncoderEmbedDim}, {"encoder_pos_conv_kernel", c.EncoderPosConvKernel},
		{"encoder_pos_conv_groups", c.EncoderPosConvGroups}, {"encoder_num_layers", c.EncoderNumLayers},
		{"encoder_num_heads", c.EncoderNumHeads}, {"encoder_ff_interm_features", c.EncoderFFIntermFeatures}} {
		if f.v < 1 {
			bad("%s is %d, want a positive number", f.name, f.v)
		}
		if f.v > maxDim {
			bad("%s is %d, at most %d", f.name, f.v, maxDim)
		}
	}
	if c.EncoderNumLayers > maxLayers && c.EncoderNumLayers <= maxDim {
		bad("encoder_num_layers is %d, at most %d", c.EncoderNumLayers, maxLayers)
	}
	if len(c.ExtractorConvLayerConfig) > maxConvLayers {
		bad("extractor_conv_layer_config has %d layers, at most %d", len(c.ExtractorConvLayerConfig), maxConvLayers)
	}
	if c.EncoderNumHeads > 0 && c.EncoderEmbedDim%c.EncoderNumHeads != 0 {
		bad("encoder_embed_dim %d is not divisible by encoder_num_heads %d", c.EncoderEmbedDim, c.EncoderNumHeads)
	}
	if c.EncoderPosConvGroups > 0 && c.EncoderEmbedDim%c.EncoderPosConvGroups != 0 {
		bad("encoder_embed_dim %d is not divisible by encoder_pos_conv_groups %d", c.EncoderEmbedDim, c.EncoderPosConvGroups)
	}
	if c.AuxNumOut != nil && (*c.AuxNumOut < 1 || *c.AuxNumOut > maxDim) {
		bad("aux_num_out is %d, want null or 1…%d", *c.AuxNumOut, maxDim)
	}
	if c.Labels != nil {
		switch {
		case c.AuxNumOut == nil:
			bad("labels given but aux_num_out is null (no CTC head to label)")
		case len(c.Labels) != *c.AuxNumOut:
			bad("%d labels for aux_num_out %d", len(c.Labels), *c.AuxNumOut)
		}
	}
	if c.SampleRate < 0 {
		bad("sample_rate is %d", c.SampleRate)
	}
	if len(errs) > 0 {
		return fmt.Errorf("wav2vec2 config: %s", strings.Join(errs, "; "))
	}
	return nil
}

// ReadConfig reads and validates a config.json. Keys it does not know are returned as
// warnings, never rejected.
func ReadConfig(path string) (Config, []string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, nil, fmt.Errorf("wav2vec2 config: %w", err)
	}
	c, warn, err := ParseConfig(b)
	if err != nil {
		return c, nil, fmt.Errorf("%s: %w", path, err)
	}
	for i := range warn {
		warn[i] = path + ": " + warn[i]
	}
	return c, warn, nil
}

// ParseConfig decodes and validates a config.json, returning a warning per unknown key.
func ParseConfig(b []byte) (Config, []string, error) {
	var c Config
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(&c); err != nil {
		return c, nil, fmt.Errorf("wav2vec2 config: %w", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return c, nil, fmt.Errorf("wav2vec2 config: %w", err)
	}
	var warn []string
	for k := range raw {
		if !knownKeys[k] {
			warn = append(warn, fmt.Sprintf("ignoring unknown key %q", k))
		}
	}
	slices.Sort(warn)
	if err := c.Validate(); err != nil {
		return c, nil, err
	}
	return c, warn, nil
}
