// Package train trains the LSTM language model of nlp/lstm on plain text (the
// fortunes corpus by default) with gorgonia's autodiff: truncated backpropagation
// through time over one unrolled graph, Adam with gradient clipping, dropout and a
// warm-up/cosine schedule. Checkpoints are PyTorch state dicts in safetensors with a
// config.json (the tokenizer's vocabulary inside), and a run resumes from its folder.
package train

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"gopkg.in/yaml.v3"
)

// Kind is the `kind:` of the training configs this package runs.
const Kind = "nlp.lstm"

// Config is a training config file (configs/train/*.yaml).
type Config struct {
	Kind   string      `yaml:"kind"`
	Output string      `yaml:"output"`
	Model  ModelConfig `yaml:"model"`
	Data   DataConfig  `yaml:"data"`
	Train  HyperParams `yaml:"train"`
}

// ModelConfig sizes the model.
type ModelConfig struct {
	Embedding int     `yaml:"embedding"`
	Hidden    int     `yaml:"hidden"`
	Layers    int     `yaml:"layers"`
	Dropout   float64 `yaml:"dropout"` // on each LSTM layer's output
}

// DataConfig says where the text is and how it is split.
type DataConfig struct {
	// Dir holds fortune files ("%" lines separate the texts); every regular file in it
	// without an extension is read, in name order. Files lists them instead, when set.
	Dir   string   `yaml:"dir"`
	Files []string `yaml:"files"`
	// HoldoutEvery puts every n-th text (counting from 1 over all files) in the
	// held-out set; 10 holds out a tenth.
	HoldoutEvery int `yaml:"holdout_every"`
	// Tokenizer is "char" (a vocabulary of the training text's characters, saved in
	// config.json) or "byte".
	Tokenizer string `yaml:"tokenizer"`
}

// HyperParams are the optimisation settings.
type HyperParams struct {
	BatchSize   int     `yaml:"batch_size"` // parallel streams
	BPTT        int     `yaml:"bptt"`       // window length (unrolled steps)
	Epochs      float64 `yaml:"epochs"`     // may be fractional
	LR          float64 `yaml:"lr"`         // peak Adam learning rate
	MinLR       float64 `yaml:"min_lr"`     // the cosine decay's floor
	WarmupSteps int     `yaml:"warmup_steps"`
	Beta1       float64 `yaml:"beta1"`
	Beta2       float64 `yaml:"beta2"`
	Eps         float64 `yaml:"eps"`
	WeightDecay float64 `yaml:"weight_decay"` // decoupled (AdamW), on matrices only
	Clip        float64 `yaml:"clip"`         // global gradient-norm limit; 0 disables
	Seed        uint64  `yaml:"seed"`
	// CheckpointEvery and EvalEvery count steps; an evaluation keeps the best model.
	CheckpointEvery int `yaml:"checkpoint_every"`
	EvalEvery       int `yaml:"eval_every"`
	LogEvery        int `yaml:"log_every"`
	Threads         int `yaml:"threads"` // GOMAXPROCS for the run; 0 keeps the default
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

// ParseConfigFile reads and parses a training config file.
func ParseConfigFile(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseConfig(path, data)
}

func (c *Config) normalize() error {
	if c.Kind != Kind {
		return fmt.Errorf("kind is %q, want %q", c.Kind, Kind)
	}
	if c.Output == "" {
		return errors.New("output: a folder for checkpoints is required")
	}
	m := &c.Model
	if m.Hidden < 1 || m.Embedding < 1 || m.Layers < 1 {
		return fmt.Errorf("model: embedding %d, hidden %d, layers %d must all be positive", m.Embedding, m.Hidden, m.Layers)
	}
	if m.Dropout < 0 || m.Dropout >= 1 {
		return fmt.Errorf("model.dropout %g out of [0, 1)", m.Dropout)
	}
	d := &c.Data
	if d.Dir == "" && len(d.Files) == 0 {
		return errors.New("data: dir or files is required")
	}
	if d.HoldoutEvery == 0 {
		d.HoldoutEvery = 10
	}
	if d.HoldoutEvery < 2 {
		return fmt.Errorf("data.holdout_every is %d; at least 2", d.HoldoutEvery)
	}
	switch d.Tokenizer {
	case "":
		d.Tokenizer = "char"
	case "char", "byte":
	default:
		return fmt.Errorf("data.tokenizer %q is not char or byte", d.Tokenizer)
	}
	h := &c.Train
	if h.BatchSize < 1 || h.BPTT < 1 {
		return fmt.Errorf("train: batch_size %d and bptt %d must be positive", h.BatchSize, h.BPTT)
	}
	if h.Epochs <= 0 {
		return fmt.Errorf("train.epochs is %g", h.Epochs)
	}
	if h.LR <= 0 || h.MinLR < 0 || h.MinLR > h.LR {
		return fmt.Errorf("train: lr %g and min_lr %g: want 0 <= min_lr <= lr, lr > 0", h.LR, h.MinLR)
	}
	if h.Beta1 == 0 {
		h.Beta1 = 0.9
	}
	if h.Beta2 == 0 {
		h.Beta2 = 0.999
	}
	if h.Eps == 0 {
		h.Eps = 1e-8
	}
	if h.Beta1 < 0 || h.Beta1 >= 1 || h.Beta2 < 0 || h.Beta2 >= 1 {
		return fmt.Errorf("train: beta1 %g and beta2 %g must be in [0, 1)", h.Beta1, h.Beta2)
	}
	if h.CheckpointEvery <= 0 {
		h.CheckpointEvery = 100
	}
	if h.EvalEvery <= 0 {
		h.EvalEvery = 200
	}
	if h.LogEvery <= 0 {
		h.LogEvery = 10
	}
	return nil
}
