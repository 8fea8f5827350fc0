// Package asr is the compact speech recogniser plexus trains itself: log-mel features,
// a convolutional subsampling front, a pre-norm Transformer encoder and a CTC head over
// characters. It implements speech/ctc's Acoustic interface, batched with padding masks.
//
// Parameter names follow tools/golden/asr.py, the PyTorch reference of the model (its
// encoder is torch.nn.TransformerEncoder with norm_first=True), so the weights that
// speech/asr/train writes load there as well.
package asr

import (
	"encoding/json"
	"fmt"
	"os"
)

// Architecture is the config.json "architecture" of this model.
const Architecture = "asr-ctc"

// DefaultLabels are the output classes: the CTC blank "-", the word separator " ", the
// apostrophe and the lowercase letters.
func DefaultLabels() []string {
	l := []string{"-", " ", "'"}
	for c := 'a'; c <= 'z'; c++ {
		l = append(l, string(c))
	}
	return l
}

// Config is the model's config.json.
type Config struct {
	Architecture string `json:"architecture" yaml:"architecture"`
	SampleRate   int    `json:"sample_rate" yaml:"sample_rate"`
	NFFT         int    `json:"n_fft" yaml:"n_fft"`
	HopLength    int    `json:"hop_length" yaml:"hop_length"`
	NMels        int    `json:"n_mels" yaml:"n_mels"`
	// Subsampling is the time reduction of the two stride-2 (or stride-2 then stride-1)
	// convolutions: 4 or 2.
	Subsampling  int      `json:"subsampling" yaml:"subsampling"`
	DModel       int      `json:"d_model" yaml:"d_model"`
	Heads        int      `json:"heads" yaml:"heads"`
	FFDim        int      `json:"ff_dim" yaml:"ff_dim"`
	Layers       int      `json:"layers" yaml:"layers"`
	LayerNormEps float64  `json:"layer_norm_eps" yaml:"layer_norm_eps"`
	Labels       []string `json:"labels" yaml:"labels"`
}

// DefaultConfig is the shipped shape: 80 log-mels at 16 kHz, ×4 subsampling, six
// 144-wide layers with 4 heads.
func DefaultConfig() Config {
	return Config{Architecture: Architecture, SampleRate: 16000, NFFT: 400, HopLength: 160, NMels: 80, Subsampling: 4,
		DModel: 144, Heads: 4, FFDim: 576, Layers: 6, LayerNormEps: 1e-5, Labels: DefaultLabels()}
}

// Validate fills defaults (labels, epsilon, architecture) and checks the shape.
func (c *Config) Validate() error {
	if c.Architecture == "" {
		c.Architecture = Architecture
	}
	if c.Labels == nil {
		c.Labels = DefaultLabels()
	}
	if c.LayerNormEps == 0 {
		c.LayerNormEps = 1e-5
	}
	if c.Subsampling == 0 {
		c.Subsampling = 4
	}
	switch {
	case c.Architecture != Architecture:
		return fmt.Errorf("asr: architecture %q, want %s", c.Architecture, Architecture)
	case c.SampleRate < 1 || c.NFFT < 2 || c.HopLength < 1 || c.NMels < 1:
		return fmt.Errorf("asr: front end sample_rate %d, n_fft %d, hop_length %d, n_mels %d", c.SampleRate, c.NFFT, c.HopLength, c.NMels)
	case c.Subsampling != 2 && c.Subsampling != 4:
		return fmt.Errorf("asr: subsampling %d, want 2 or 4", c.Subsampling)
	case c.DModel < 1 || c.Heads < 1 || c.DModel%c.Heads != 0 || c.FFDim < 1 || c.Layers < 0:
		return fmt.Errorf("asr: d_model %d, heads %d, ff_dim %d, layers %d", c.DModel, c.Heads, c.FFDim, c.Layers)
	case len(c.Labels) < 2:
		return fmt.Errorf("asr: %d labels, want the blank and at least one more", len(c.Labels))
	}
	return nil
}

// Stride2 is the second convolution's stride.
func (c Config) Stride2() int { return c.Subsampling / 2 }

// FrameSamples is the number of input samples per output frame.
func (c Config) FrameSamples() int { return c.HopLength * c.Subsampling }

// ConvLen is the output length of a kernel-3, padding-1 convolution with stride s.
func ConvLen(l, s int) int {
	if l <= 0 {
		return 0
	}
	return (l-1)/s + 1
}

// OutFrames is the number of output frames for f log-mel frames.
func (c Config) OutFrames(f int) int { return ConvLen(ConvLen(f, 2), c.Stride2()) }

// ReadConfig reads and validates a config.json.
func ReadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	return ParseConfig(path, b)
}

// ParseConfig decodes and validates a config.json's bytes; name is for messages.
func ParseConfig(name string, b []byte) (Config, error) {
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return Config{}, fmt.Errorf("%s: %w", name, err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}
