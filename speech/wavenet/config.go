// Package wavenet is WaveNet (van den Oord et al. 2016) as a neural vocoder: causal
// dilated convolutions with gated units, residual and skip connections, local
// conditioning on upsampled log-mel frames and optional speaker conditioning, with a
// 256-way mu-law softmax or a mixture-of-logistics output. It runs the whole network
// over a sequence (training-style, for scoring) and generates sample by sample with
// per-layer activation queues, batched over utterances and seeded per item.
//
// Parameter names are those of r9y9/wavenet_vocoder, documented with a PyTorch
// reference implementation in tools/golden/wavenet.py, so that its checkpoints load.
package wavenet

import (
	"encoding/json"
	"fmt"
	"os"
)

// Output distributions.
const (
	OutputMuLaw = "mulaw" // softmax over OutChannels mu-law classes, one-hot input
	OutputMoL   = "mol"   // mixture of OutChannels/3 discretized logistics, scalar input
)

// Config is the model's config.json, named as the reference implementation names its
// constructor arguments (tools/golden/wavenet.py), plus the audio front end the
// vocoder was trained with.
type Config struct {
	Architecture     string  `json:"architecture,omitempty"`
	OutChannels      int     `json:"out_channels"`
	Layers           int     `json:"layers"`
	Stacks           int     `json:"stacks"`
	ResidualChannels int     `json:"residual_channels"`
	GateChannels     int     `json:"gate_channels"`
	SkipChannels     int     `json:"skip_out_channels"`
	KernelSize       int     `json:"kernel_size"`
	CinChannels      int     `json:"cin_channels"` // ≤ 0: no local conditioning
	GinChannels      int     `json:"gin_channels"` // ≤ 0: no speaker conditioning
	NSpeakers        int     `json:"n_speakers,omitempty"`
	UpsampleScales   []int   `json:"upsample_scales,omitempty"`
	ScalarInput      bool    `json:"scalar_input,omitempty"`
	Output           string  `json:"output,omitempty"`        // mulaw (default) or mol
	LogScaleMin      float64 `json:"log_scale_min,omitempty"` // MoL scale floor; zero means −7
	// Audio is the front end: the rate and log-mel parameters that made the
	// conditioning features. Vocoding audio computes them this way.
	Audio AudioConfig `json:"audio,omitempty"`
}

// AudioConfig describes the log-mel features a vocoder is conditioned on: the
// natural log of a torchaudio MelSpectrogram (power 2, periodic Hann, centred frames)
// plus LogOffset.
type AudioConfig struct {
	SampleRate int     `json:"sample_rate,omitempty"`
	NFFT       int     `json:"n_fft,omitempty"`
	HopLength  int     `json:"hop_length,omitempty"`
	WinLength  int     `json:"win_length,omitempty"`
	NMels      int     `json:"n_mels,omitempty"`
	FMin       float64 `json:"f_min,omitempty"`
	FMax       float64 `json:"f_max,omitempty"`
	LogOffset  float64 `json:"log_offset,omitempty"`
}

// DefaultConfig is the benchmark's shape: 2 stacks × 10 layers, 64 residual, 128 gate,
// 256 skip channels, 80 log-mel channels upsampled ×256 at 16 kHz.
func DefaultConfig() Config {
	return Config{Architecture: "wavenet", OutChannels: 256, Layers: 20, Stacks: 2, ResidualChannels: 64,
		GateChannels: 128, SkipChannels: 256, KernelSize: 2, CinChannels: 80, GinChannels: -1,
		UpsampleScales: []int{4, 4, 4, 4}, Output: OutputMuLaw,
		Audio: AudioConfig{SampleRate: 16000, NFFT: 1024, HopLength: 256, NMels: 80, LogOffset: 1e-5}}
}

// Validate checks the shape parameters.
func (c *Config) Validate() error {
	if c.Output == "" {
		c.Output = OutputMuLaw
	}
	if c.LogScaleMin == 0 {
		c.LogScaleMin = -7
	}
	switch {
	case c.Layers < 1 || c.Stacks < 1 || c.Layers%c.Stacks != 0:
		return fmt.Errorf("wavenet config: %d layers do not split into %d stacks", c.Layers, c.Stacks)
	case c.ResidualChannels < 1 || c.SkipChannels < 1 || c.OutChannels < 2:
		return fmt.Errorf("wavenet config: residual %d, skip %d, out %d channels", c.ResidualChannels, c.SkipChannels, c.OutChannels)
	case c.GateChannels < 2 || c.GateChannels%2 != 0:
		return fmt.Errorf("wavenet config: gate_channels %d must be even", c.GateChannels)
	case c.Layers > 1024 || c.ResidualChannels > 1<<14 || c.GateChannels > 1<<14 || c.SkipChannels > 1<<14 || c.OutChannels > 1<<16 || c.CinChannels > 1<<12 || c.GinChannels > 1<<12 || c.NSpeakers > 1<<20 || c.KernelSize > 64:
		return fmt.Errorf("wavenet config: a size is beyond the limits (1024 layers, 16384 channels, kernel 64)")
	case c.KernelSize < 1:
		return fmt.Errorf("wavenet config: kernel_size %d", c.KernelSize)
	case c.Output != OutputMuLaw && c.Output != OutputMoL:
		return fmt.Errorf("wavenet config: output %q (mulaw or mol)", c.Output)
	case c.Output == OutputMoL && (c.OutChannels%3 != 0 || !c.ScalarInput):
		return fmt.Errorf("wavenet config: a mixture of logistics needs 3·n out_channels (got %d) and scalar_input", c.OutChannels)
	case c.Output == OutputMuLaw && c.ScalarInput:
		return fmt.Errorf("wavenet config: mu-law output takes one-hot input; scalar_input is for output mol")
	case c.GinChannels > 0 && c.NSpeakers < 1:
		return fmt.Errorf("wavenet config: gin_channels %d with n_speakers %d", c.GinChannels, c.NSpeakers)
	}
	if a := c.Audio; c.CinChannels > 0 && a.HopLength > 0 && (a.HopLength != c.Hop() || a.NMels != c.CinChannels) {
		return fmt.Errorf("wavenet config: audio hop_length %d and n_mels %d must equal the upsampling product %d and cin_channels %d", a.HopLength, a.NMels, c.Hop(), c.CinChannels)
	}
	for _, s := range c.UpsampleScales {
		if s < 1 || s > 1024 {
			return fmt.Errorf("wavenet config: upsample scale %d", s)
		}
	}
	return nil
}

// Hop is the number of samples per conditioning frame (the product of the scales).
func (c *Config) Hop() int {
	h := 1
	for _, s := range c.UpsampleScales {
		h *= s
	}
	return h
}

// ReceptiveField is the number of past samples an output sees.
func (c *Config) ReceptiveField() int {
	per := c.Layers / c.Stacks
	r := 1
	for i := 0; i < c.Layers; i++ {
		r += (c.KernelSize - 1) << (i % per)
	}
	return r
}

// ReadConfig reads a config.json; unknown keys are accepted (Hugging Face style
// configs carry many), but the shape is validated.
func ReadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("wavenet config: %w", err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseConfig decodes and validates a config.json.
func ParseConfig(b []byte) (Config, error) {
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("wavenet config: %w", err)
	}
	if err := c.Validate(); err != nil {
		return c, err
	}
	return c, nil
}
