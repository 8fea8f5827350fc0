// Package lstm is the LSTM language model (PyTorch's GPT3(vocab_size, hidden_size,
// output_size) with submodules embedding, lstm and fc) for inference on core/nn: batched
// steps with state carried between calls, sampling-based generation and scoring. Sizes
// come from the weights and the layer count from their names, so any such checkpoint
// loads as it is.
package lstm

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/plexusml/plexus/core/nn"
	"github.com/plexusml/plexus/core/nn/weights"
	"github.com/plexusml/plexus/nlp/tokenize"
)

// Architecture is the config.json architecture name of this model.
const Architecture = "lstm-lm"

// Config is the model's config.json: the constructor arguments named as the PyTorch
// reference names them, and the tokenizer the model was trained with.
type Config struct {
	Architecture  string        `json:"architecture"`
	VocabSize     int           `json:"vocab_size"`
	EmbeddingSize int           `json:"embedding_size,omitempty"`
	HiddenSize    int           `json:"hidden_size"`
	OutputSize    int           `json:"output_size"`
	NumLayers     int           `json:"num_layers"`
	Dropout       float64       `json:"dropout,omitempty"`
	Tokenizer     tokenize.Spec `json:"tokenizer"`
	// StartText primes generation from an empty prompt and precedes scored text (the
	// fortunes model's "%\n", the end of a previous fortune).
	StartText string `json:"start_text,omitempty"`
}

// ReadConfig reads a config.json.
func ReadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
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

// Model is the language model. It is read-only after construction: goroutines share
// it, each with its own nn.Arena and State.
type Model struct {
	Embedding *nn.Embedding
	LSTM      *nn.LSTM
	FC        *nn.Linear
	Config    Config
	// Tokenizer is the config's tokenizer, nil when the config names none.
	Tokenizer tokenize.Tokenizer

	decOnce sync.Once
	dec     *decoder // generation's one-token step, built at first use
}

// New binds a model from b (PyTorch names: embedding.weight, lstm.weight_ih_l0, …,
// fc.weight, fc.bias). cfg may be nil; its sizes, when given, must match the weights.
func New(b *weights.Binder, cfg *Config) (*Model, error) {
	m := &Model{
		Embedding: nn.NewEmbedding(b, "embedding"),
		LSTM:      nn.NewLSTM(b, "lstm", nn.LSTMConfig{BatchFirst: true}),
		FC:        nn.NewLinear(b, "fc", nn.LinearConfig{}),
	}
	if err := b.Err(); err != nil {
		return nil, err
	}
	if m.LSTM.Bidirectional {
		return nil, errors.New("lstm: a bidirectional LSTM cannot be a language model")
	}
	if m.Embedding.Dim != m.LSTM.In {
		return nil, fmt.Errorf("lstm: embedding width %d, LSTM input %d", m.Embedding.Dim, m.LSTM.In)
	}
	if m.FC.In != m.LSTM.Hidden {
		return nil, fmt.Errorf("lstm: fc takes %d features, LSTM hidden size is %d", m.FC.In, m.LSTM.Hidden)
	}
	got := Config{Architecture: Architecture, VocabSize: m.Embedding.Num, EmbeddingSize: m.Embedding.Dim,
		HiddenSize: m.LSTM.Hidden, OutputSize: m.FC.Out, NumLayers: m.LSTM.NumLayers}
	if cfg != nil {
		for _, c := range []struct {
			name      string
			want, has int
		}{{"vocab_size", cfg.VocabSize, got.VocabSize}, {"hidden_size", cfg.HiddenSize, got.HiddenSize},
			{"output_size", cfg.OutputSize, got.OutputSize}, {"num_layers", cfg.NumLayers, got.NumLayers},
			{"embedding_size", cfg.EmbeddingSize, got.EmbeddingSize}} {
			if c.want != 0 && c.want != c.has {
				return nil, fmt.Errorf("lstm: config %s is %d, the weights say %d", c.name, c.want, c.has)
			}
		}
		got.Dropout, got.Tokenizer, got.StartText = cfg.Dropout, cfg.Tokenizer, cfg.StartText
		if cfg.Tokenizer.Type != "" {
			tok, err := tokenize.FromSpec(cfg.Tokenizer)
			if err != nil {
				return nil, fmt.Errorf("lstm: config: %w", err)
			}
			if tok.VocabSize() > got.VocabSize {
				return nil, fmt.Errorf("lstm: tokenizer has %d ids, embedding %d rows", tok.VocabSize(), got.VocabSize)
			}
			m.Tokenizer = tok
		}
	}
	m.Config = got
	return m, nil
}

// Load opens a weights file (safetensors or a PyTorch checkpoint) and, when config is
// "", the NAME.json or else config.json beside it if there is one. The weights are
// copied, so the file is closed on return.
func Load(path, config string) (*Model, error) {
	var cfg *Config
	if config == "" {
		config = ConfigBeside(path)
	}
	if config != "" {
		c, err := ReadConfig(config)
		if err != nil {
			return nil, err
		}
		cfg = c
	}
	s, err := weights.Open(path)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	m, err := New(weights.NewBinder(s, weights.CopyData()), cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// ConfigBeside returns the config of weights file path: NAME.json beside NAME.ext (the
// form of the shipped models), else config.json in its folder, else "".
func ConfigBeside(path string) string {
	for _, c := range []string{strings.TrimSuffix(path, filepath.Ext(path)) + ".json", filepath.Join(filepath.Dir(path), "config.json")} {
		if c != path && fileExists(c) {
			return c
		}
	}
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// NewState returns a zero recurrent state for batch sequences.
func (m *Model) NewState(batch int) *nn.LSTMState { return m.LSTM.NewState(batch) }

// Forward runs ids (batch×steps, row-major) from state st (nil: zeros; otherwise it
// receives the final state) and returns the logits, batch×steps×OutputSize, from the
// arena. An id outside the embedding is an error naming its position.
func (m *Model) Forward(a *nn.Arena, ids []int64, batch, steps int, st *nn.LSTMState) (nn.Act, error) {
	x, err := m.Embedding.Forward(a, ids, batch, steps)
	if err != nil {
		return nn.Act{}, err
	}
	h := m.LSTM.Forward(a, x, st)
	return m.FC.Forward(a, h), nil
}
