// Package bert is the BERT encoder (Hugging Face's BertModel, with its pooler and an
// optional sequence-classification head) for inference on core/nn. It loads
// Hugging Face parameter names and config.json as they are, and turns texts into
// last hidden states, pooled outputs, mean-pooled sentence embeddings and logits, with
// padding masks and length-bucketed batches.
package bert

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/plexusml/plexus/core/nn"
	"github.com/plexusml/plexus/core/nn/weights"
)

// Config is Hugging Face's BertConfig as config.json holds it.
type Config struct {
	VocabSize             int               `json:"vocab_size"`
	HiddenSize            int               `json:"hidden_size"`
	NumHiddenLayers       int               `json:"num_hidden_layers"`
	NumAttentionHeads     int               `json:"num_attention_heads"`
	IntermediateSize      int               `json:"intermediate_size"`
	HiddenAct             string            `json:"hidden_act"`
	MaxPositionEmbeddings int               `json:"max_position_embeddings"`
	TypeVocabSize         int               `json:"type_vocab_size"`
	LayerNormEps          float64           `json:"layer_norm_eps"`
	PadTokenID            int               `json:"pad_token_id"`
	PositionEmbeddingType string            `json:"position_embedding_type"`
	Architectures         []string          `json:"architectures"`
	ID2Label              map[string]string `json:"id2label"`
	// DoLowerCase is the tokenizer's setting (tokenizer_config.json keeps it in newer
	// checkpoints; plexus reads it here too). nil means true, as for uncased models.
	DoLowerCase *bool `json:"do_lower_case"`
}

// knownKeys are config.json keys that BERT either reads or may safely ignore
// (training-only settings and Hugging Face bookkeeping); others are warned about.
var knownKeys = map[string]bool{
	"vocab_size": true, "hidden_size": true, "num_hidden_layers": true, "num_attention_heads": true,
	"intermediate_size": true, "hidden_act": true, "max_position_embeddings": true, "type_vocab_size": true,
	"layer_norm_eps": true, "pad_token_id": true, "position_embedding_type": true, "architectures": true,
	"id2label": true, "label2id": true, "do_lower_case": true, "model_type": true, "hidden_dropout_prob": true,
	"attention_probs_dropout_prob": true, "initializer_range": true, "torch_dtype": true,
	"transformers_version": true, "use_cache": true, "classifier_dropout": true, "gradient_checkpointing": true,
	"problem_type": true, "_name_or_path": true, "architecture": true, "num_labels": true,
}

// ReadConfig reads a config.json and returns it with a warning per key it does not
// know (Hugging Face configs carry many; they are reported, never rejected).
func ReadConfig(path string) (*Config, []string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	c := &Config{HiddenAct: "gelu", LayerNormEps: 1e-12, TypeVocabSize: 2, PositionEmbeddingType: "absolute"}
	if err := json.Unmarshal(data, c); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	var warn []string
	for k := range raw {
		if !knownKeys[k] {
			warn = append(warn, fmt.Sprintf("%s: ignoring unknown key %q", path, k))
		}
	}
	slices.Sort(warn)
	return c, warn, nil
}

func (c *Config) validate() error {
	switch {
	case c.NumAttentionHeads < 1:
		return fmt.Errorf("num_attention_heads is %d", c.NumAttentionHeads)
	case c.PositionEmbeddingType != "" && c.PositionEmbeddingType != "absolute":
		return fmt.Errorf("position_embedding_type %q: only absolute is supported", c.PositionEmbeddingType)
	}
	return nil
}

// Labels returns the classification labels in id order, or nil.
func (c *Config) Labels(n int) []string {
	if len(c.ID2Label) == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		if l, ok := c.ID2Label[strconv.Itoa(i)]; ok {
			out[i] = l
		} else {
			out[i] = "LABEL_" + strconv.Itoa(i)
		}
	}
	return out
}

// LayerNames are Hugging Face's BertLayer names, relative to "encoder.layer.N": a
// post-norm Transformer layer in core/nn's terms.
var LayerNames = nn.TransformerNames{
	Query: "attention.self.query", Key: "attention.self.key", Value: "attention.self.value",
	Out: "attention.output.dense", AttnNorm: "attention.output.LayerNorm",
	FF1: "intermediate.dense", FF2: "output.dense", FFNorm: "output.LayerNorm",
}

// Model is BertModel plus, when the weights carry one, the classifier of
// BertForSequenceClassification. It is read-only after construction.
type Model struct {
	Config                *Config
	word, pos, types      *nn.Embedding
	embNorm               *nn.LayerNorm
	layers                []*nn.TransformerLayer
	pooler                *nn.Linear
	classifier            *nn.Linear // nil without a head
	Hidden, Heads, MaxLen int
	Labels                []string
}

// Options are the load-time choices.
type Options struct {
	// Notice receives one line per tensor the model skips (a pre-training cls.* head)
	// and per unknown config key.
	Notice func(string)
}

// New binds a BERT from s. Names may carry the "bert." prefix of the task models
// (BertForMaskedLM, BertForSequenceClassification) and the old LayerNorm gamma/beta
// names; cls.* heads are skipped with a notice; classifier.weight/bias become the
// classification head.
func New(s weights.Store, cfg *Config, opt Options) (*Model, error) {
	return newModel(s, cfg, opt)
}

func newModel(s weights.Store, cfg *Config, opt Options, extra ...weights.BindOption) (*Model, error) {
	if cfg == nil {
		return nil, errors.New("bert: a config.json is required (head count and layer-norm eps are not in the weights)")
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("bert: config: %w", err)
	}
	notice := opt.Notice
	if notice == nil {
		notice = func(string) {}
	}
	b := weights.NewBinder(s, append([]weights.BindOption{weights.StripPrefix("bert."), weights.Rename(weights.HFLegacyNames),
		weights.Ignore("cls.*", "embeddings.position_ids", "*.position_ids"),
		weights.OnIgnored(func(name string) { notice("bert: skipping " + name + " (not part of the encoder)") })}, extra...)...)
	eps := float32(cfg.LayerNormEps)
	act, err := nn.ParseActivation(cfg.HiddenAct)
	if err != nil {
		return nil, fmt.Errorf("bert: config hidden_act: %w", err)
	}
	m := &Model{Config: cfg, Heads: cfg.NumAttentionHeads,
		word:    nn.NewEmbedding(b, "embeddings.word_embeddings"),
		pos:     nn.NewEmbedding(b, "embeddings.position_embeddings"),
		types:   nn.NewEmbedding(b, "embeddings.token_type_embeddings"),
		embNorm: nn.NewLayerNorm(b, "embeddings.LayerNorm", eps),
	}
	n := cfg.NumHiddenLayers
	if n <= 0 {
		for b.Has(fmt.Sprintf("encoder.layer.%d.attention.self.query.weight", n)) {
			n++
		}
	}
	if act == nn.Identity {
		return nil, fmt.Errorf("bert: config hidden_act %q: the feed-forward needs a non-linearity (gelu, relu, tanh or sigmoid)", cfg.HiddenAct)
	}
	for i := 0; i < n; i++ {
		m.layers = append(m.layers, nn.NewTransformerLayer(b, fmt.Sprintf("encoder.layer.%d", i), LayerNames,
			nn.TransformerConfig{Heads: cfg.NumAttentionHeads, Activation: act, Eps: eps}))
	}
	if b.Has("pooler.dense.weight") {
		m.pooler = nn.NewLinear(b, "pooler.dense", nn.LinearConfig{Activation: nn.Tanh})
	}
	if b.Has("classifier.weight") {
		m.classifier = nn.NewLinear(b, "classifier", nn.LinearConfig{})
	}
	if err := b.Err(); err != nil {
		return nil, err
	}
	m.Hidden, m.MaxLen = m.word.Dim, m.pos.Num
	for _, c := range []struct {
		name      string
		want, got int
	}{{"hidden_size", cfg.HiddenSize, m.Hidden}, {"vocab_size", cfg.VocabSize, m.word.Num},
		{"max_position_embeddings", cfg.MaxPositionEmbeddings, m.pos.Num}, {"type_vocab_size", cfg.TypeVocabSize, m.types.Num}} {
		if c.want != 0 && c.want != c.got {
			return nil, fmt.Errorf("bert: config %s is %d, the weights say %d", c.name, c.want, c.got)
		}
	}
	if m.pos.Dim != m.Hidden || m.types.Dim != m.Hidden {
		return nil, fmt.Errorf("bert: embedding widths %d, %d, %d differ", m.Hidden, m.pos.Dim, m.types.Dim)
	}
	if m.classifier != nil && m.pooler == nil {
		return nil, errors.New("bert: a classifier needs the pooler (pooler.dense.weight is missing)")
	}
	if m.classifier != nil {
		m.Labels = cfg.Labels(m.classifier.Out)
	}
	return m, nil
}

// Load opens weights (safetensors or a PyTorch checkpoint) and a config.json: config,
// or when config is "" NAME.json beside NAME.ext, else the config.json in its folder.
// The weights are copied, so the file is closed on return.
func Load(path, config string, opt Options) (*Model, error) {
	if config == "" {
		config = filepath.Join(filepath.Dir(path), "config.json")
		if c := strings.TrimSuffix(path, filepath.Ext(path)) + ".json"; c != path {
			if _, err := os.Stat(c); err == nil {
				config = c
			}
		}
	}
	cfg, warn, err := ReadConfig(config)
	if err != nil {
		return nil, fmt.Errorf("bert: %w", err)
	}
	if opt.Notice != nil {
		for _, w := range warn {
			opt.Notice(w)
		}
	}
	s, err := weights.Open(path)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	m, err := newModel(s, cfg, opt, weights.CopyData())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// HasClassifier reports whether the weights carry a classification head.
func (m *Model) HasClassifier() bool { return m.classifier != nil }

// HasPooler reports whether the weights carry the pooler.
func (m *Model) HasPooler() bool { return m.pooler != nil }
