// Package train trains the small-image ResNet of vision/resnet on IDX datasets
// (Fashion-MNIST, MNIST) with gorgonia's autodiff, checkpointing and resuming by itself.
// Checkpoints are torchvision state dicts in safetensors with config.json beside them, so
// the inference path, the plugin and PyTorch load them as they are.
package train

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/plexusml/plexus/vision/resnet"
)

// Kind is the `kind:` of the training configs this package runs.
const Kind = "vision.resnet"

// Config is a training config file (configs/train/*.yaml).
type Config struct {
	Kind   string        `yaml:"kind"`
	Output string        `yaml:"output"`
	Model  resnet.Config `yaml:"model"`
	Data   DataConfig    `yaml:"data"`
	Train  HyperParams   `yaml:"train"`
}

// DataConfig names the IDX files (gzip when they end in .gz) and the augmentation.
type DataConfig struct {
	TrainImages string `yaml:"train_images"`
	TrainLabels string `yaml:"train_labels"`
	TestImages  string `yaml:"test_images"`
	TestLabels  string `yaml:"test_labels"`
	// Pad is the random-crop padding in pixels (the image is padded with zeros and a
	// crop of the original size taken at a random offset); 0 disables cropping.
	Pad  int  `yaml:"pad"`
	Flip bool `yaml:"flip"` // random horizontal flips
}

// HyperParams are the optimisation settings.
type HyperParams struct {
	Epochs      int     `yaml:"epochs"`
	BatchSize   int     `yaml:"batch_size"`
	LR          float64 `yaml:"lr"`           // peak learning rate
	WarmupSteps int     `yaml:"warmup_steps"` // linear warm-up from 0, then cosine decay to 0
	Momentum    float64 `yaml:"momentum"`
	Nesterov    bool    `yaml:"nesterov"`
	WeightDecay float64 `yaml:"weight_decay"` // on convolution and linear weights only
	Seed        uint64  `yaml:"seed"`
	// CheckpointEvery is the number of steps between checkpoints; one is also written
	// at every epoch's end.
	CheckpointEvery int `yaml:"checkpoint_every"`
	Threads         int `yaml:"threads"`    // GOMAXPROCS for the run; 0 keeps the default
	LogEvery        int `yaml:"log_every"`  // steps between progress lines
	EvalBatch       int `yaml:"eval_batch"` // batch size of test-set evaluation
}

// ParseConfig decodes a training config strictly: unknown keys are errors with their
// line, so a misspelt hyper-parameter never silently keeps its default.
func ParseConfig(name string, data []byte) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty config", name)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := c.normalize(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &c, nil
}

func (c *Config) normalize() error {
	if c.Kind != Kind {
		return fmt.Errorf("kind is %q, want %q", c.Kind, Kind)
	}
	if c.Output == "" {
		return errors.New("output: a folder for checkpoints is required")
	}
	if err := c.Model.Normalize(); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	if c.Model.Stem != "small" {
		return errors.New("model.stem: training supports the small-image stem only")
	}
	d := &c.Data
	for _, f := range []struct{ name, v string }{{"train_images", d.TrainImages}, {"train_labels", d.TrainLabels},
		{"test_images", d.TestImages}, {"test_labels", d.TestLabels}} {
		if f.v == "" {
			return fmt.Errorf("data.%s is required", f.name)
		}
	}
	if d.Pad < 0 || d.Pad > c.Model.InputSize/2 {
		return fmt.Errorf("data.pad %d out of range", d.Pad)
	}
	h := &c.Train
	if h.Epochs < 1 {
		return fmt.Errorf("train.epochs is %d", h.Epochs)
	}
	if h.BatchSize < 2 {
		return fmt.Errorf("train.batch_size is %d; BatchNorm needs at least 2", h.BatchSize)
	}
	if h.LR <= 0 {
		return fmt.Errorf("train.lr is %g", h.LR)
	}
	if h.Momentum < 0 || h.Momentum >= 1 {
		return fmt.Errorf("train.momentum %g out of [0, 1)", h.Momentum)
	}
	if h.CheckpointEvery <= 0 {
		h.CheckpointEvery = 200
	}
	if h.LogEvery <= 0 {
		h.LogEvery = 50
	}
	if h.EvalBatch <= 0 {
		h.EvalBatch = 500
	}
	return nil
}

// ParseConfigFile reads and parses a training config file.
func ParseConfigFile(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseConfig(path, data)
}
