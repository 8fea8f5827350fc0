package resnet

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
)

// Config describes a ResNet the way config.json beside its weights does. The names of
// torchvision's constructor arguments are kept (num_classes, zero_init_residual,
// layers); the small-image variant adds widths, stem and in_channels. Preprocessing
// (input_size, mean, std, grayscale) travels with the model, so predict and the
// plugin feed it what it was trained on.
type Config struct {
	Architecture     string    `json:"architecture" yaml:"architecture,omitempty"`         // resnet18 … resnet152, or resnet with block and layers
	Block            string    `json:"block,omitempty" yaml:"block,omitempty"`             // basic or bottleneck
	Layers           []int     `json:"layers,omitempty" yaml:"layers,omitempty"`           // blocks per stage
	Widths           []int     `json:"widths,omitempty" yaml:"widths,omitempty"`           // base width per stage; default 64, 128, 256, 512
	Stem             string    `json:"stem,omitempty" yaml:"stem,omitempty"`               // imagenet (7×7/2 conv, 3×3/2 max-pool) or small (3×3/1 conv)
	InChannels       int       `json:"in_channels,omitempty" yaml:"in_channels,omitempty"` // default 3
	NumClasses       int       `json:"num_classes" yaml:"num_classes,omitempty"`
	ZeroInitResidual bool      `json:"zero_init_residual,omitempty" yaml:"zero_init_residual,omitempty"`
	InputSize        int       `json:"input_size,omitempty" yaml:"input_size,omitempty"` // square crop fed to the network; default 224
	ResizeSize       int       `json:"resize_size,omitempty" yaml:"resize_size,omitempty"`
	Grayscale        bool      `json:"grayscale,omitempty" yaml:"grayscale,omitempty"`
	Mean             []float32 `json:"mean,omitempty" yaml:"mean,omitempty"`
	Std              []float32 `json:"std,omitempty" yaml:"std,omitempty"`
	Labels           []string  `json:"labels,omitempty" yaml:"labels,omitempty"`
}

// standard are torchvision's ResNet depths.
var standard = map[string]struct {
	block  string
	layers []int
}{
	"resnet18":  {"basic", []int{2, 2, 2, 2}},
	"resnet34":  {"basic", []int{3, 4, 6, 3}},
	"resnet50":  {"bottleneck", []int{3, 4, 6, 3}},
	"resnet101": {"bottleneck", []int{3, 4, 23, 3}},
	"resnet152": {"bottleneck", []int{3, 8, 36, 3}},
}

// Architectures are the names Config.Architecture accepts.
func Architectures() []string {
	out := []string{"resnet"}
	for k := range standard {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Normalize fills defaults and checks the configuration, naming the first bad field.
func (c *Config) Normalize() error {
	arch := strings.ToLower(c.Architecture)
	if arch == "" {
		arch = "resnet"
	}
	c.Architecture = arch
	if s, ok := standard[arch]; ok {
		if c.Block == "" {
			c.Block = s.block
		}
		if c.Layers == nil {
			c.Layers = slices.Clone(s.layers)
		}
		if c.Block != s.block || !slices.Equal(c.Layers, s.layers) {
			return fmt.Errorf("architecture %s has %s blocks %v, config says %s %v", arch, s.block, s.layers, c.Block, c.Layers)
		}
	} else if arch != "resnet" {
		return fmt.Errorf("architecture %q is not a ResNet (want one of %s)", c.Architecture, strings.Join(Architectures(), ", "))
	}
	if c.Block == "" {
		c.Block = "basic"
	}
	if c.Block != "basic" && c.Block != "bottleneck" {
		return fmt.Errorf("block %q: want basic or bottleneck", c.Block)
	}
	if len(c.Layers) == 0 {
		return fmt.Errorf("layers: architecture %q needs blocks per stage, e.g. [2, 2, 2, 2]", arch)
	}
	if c.Widths == nil {
		c.Widths = []int{64, 128, 256, 512}[:min(4, len(c.Layers))]
		for len(c.Widths) < len(c.Layers) {
			c.Widths = append(c.Widths, 2*c.Widths[len(c.Widths)-1])
		}
	}
	if len(c.Widths) != len(c.Layers) {
		return fmt.Errorf("widths has %d stages, layers has %d", len(c.Widths), len(c.Layers))
	}
	if len(c.Layers) > 8 {
		return fmt.Errorf("layers: %d stages; at most 8", len(c.Layers))
	}
	for i := range c.Layers {
		if c.Layers[i] < 1 || c.Widths[i] < 1 || c.Layers[i] > 1000 || c.Widths[i] > 1<<16 {
			return fmt.Errorf("stage %d: %d blocks of width %d", i+1, c.Layers[i], c.Widths[i])
		}
	}
	if c.Stem == "" {
		c.Stem = "imagenet"
	}
	if c.Stem != "imagenet" && c.Stem != "small" {
		return fmt.Errorf("stem %q: want imagenet or small", c.Stem)
	}
	if c.InChannels == 0 {
		c.InChannels = 3
		if c.Grayscale {
			c.InChannels = 1
		}
	}
	if c.NumClasses == 0 && len(c.Labels) > 0 {
		c.NumClasses = len(c.Labels)
	}
	if c.NumClasses < 1 || c.NumClasses > 1<<24 {
		return fmt.Errorf("num_classes is %d", c.NumClasses)
	}
	if len(c.Labels) > 0 && len(c.Labels) != c.NumClasses {
		return fmt.Errorf("%d labels for num_classes %d", len(c.Labels), c.NumClasses)
	}
	if c.InputSize == 0 {
		c.InputSize = 224
	}
	if c.InputSize < 1 || c.InputSize > 8192 || c.ResizeSize < 0 || c.ResizeSize > 8192 || c.InChannels < 1 || c.InChannels > 64 {
		return fmt.Errorf("input_size %d, resize_size %d or in_channels %d out of range", c.InputSize, c.ResizeSize, c.InChannels)
	}
	if c.Mean == nil {
		c.Mean, c.Std = imagenetMean(c.InChannels), imagenetStd(c.InChannels)
	}
	if len(c.Mean) != c.InChannels || len(c.Std) != c.InChannels {
		return fmt.Errorf("mean %v and std %v need %d values", c.Mean, c.Std, c.InChannels)
	}
	return nil
}

func imagenetMean(c int) []float32 {
	if c == 3 {
		return []float32{0.485, 0.456, 0.406}
	}
	return slices.Repeat([]float32{0.5}, c)
}

func imagenetStd(c int) []float32 {
	if c == 3 {
		return []float32{0.229, 0.224, 0.225}
	}
	return slices.Repeat([]float32{0.5}, c)
}

// StemWidth is the stem convolution's output channels (torchvision's inplanes).
func (c *Config) StemWidth() int { return c.Widths[0] }

// StemKernel is the stem convolution's kernel size.
func (c *Config) StemKernel() int {
	if c.Stem == "small" {
		return 3
	}
	return 7
}

// Expansion is the ratio of a block's output channels to its base width.
func (c *Config) Expansion() int {
	if c.Block == "bottleneck" {
		return 4
	}
	return 1
}

// Features is the width of the pooled embedding that fc reads.
func (c *Config) Features() int { return c.Widths[len(c.Widths)-1] * c.Expansion() }

// ReadConfig reads and normalizes a config.json.
func ReadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseConfig decodes and normalizes config.json data. Unknown keys are accepted, as
// Hugging Face-style configs carry many.
func ParseConfig(data []byte) (*Config, error) {
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, err
	}
	if err := c.Normalize(); err != nil {
		return nil, err
	}
	return &c, nil
}

// WriteConfig writes c as indented JSON.
func WriteConfig(path string, c *Config) error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}
