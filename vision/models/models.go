// Package models opens any of plexus's vision classifiers (ResNet 18–152, the
// small-image ResNet, Inception-v3) from a weights file and its config.json, with the
// preprocessing and labels that go with them. predict and the vision plugin use it, so
// a model kind is added in one place.
package models

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/plexusml/plexus/core/media"
	"github.com/plexusml/plexus/core/nn"
	"github.com/plexusml/plexus/core/nn/weights"
	"github.com/plexusml/plexus/vision"
	"github.com/plexusml/plexus/vision/inception"
	"github.com/plexusml/plexus/vision/labels"
	"github.com/plexusml/plexus/vision/resnet"
)

// Network is what every classifier offers: the pooled embedding, and the classifier
// head that turns it into logits.
type Network interface {
	Features(a *nn.Arena, x nn.Act) (nn.Act, error)
	Head(a *nn.Arena, features nn.Act) nn.Act
}

// Model is an opened classifier. Net and Transform are read-only: one Model serves
// many goroutines, each with its own nn.Arena.
type Model struct {
	Architecture string
	Net          Network
	Transform    vision.Transform
	Labels       []string
	Weights      string // the weights file
	SHA256       string // of the weights file, for provenance
	// Warnings lists config keys the model does not know: kept, not rejected, since
	// configs written by other tools carry many.
	Warnings []string
	store    weights.Store
}

// Close releases the weights (a memory-mapped file).
func (m *Model) Close() error { return m.store.Close() }

// Channels and Size are the input the network takes after the transform.
func (m *Model) Channels() int { return m.Transform.Channels() }

// Size is the side of the square input.
func (m *Model) Size() int { return m.Transform.Crop }

// ConfigPath finds the config of a weights file: NAME.json beside NAME.safetensors
// (models/fashion-resnet.json), else config.json in the same folder, as `plexus train`
// and Hugging Face lay them out. It returns "" when neither exists.
func ConfigPath(weightsPath string) string {
	ext := filepath.Ext(weightsPath)
	for _, p := range []string{strings.TrimSuffix(weightsPath, ext) + ".json", filepath.Join(filepath.Dir(weightsPath), "config.json")} {
		if p == weightsPath {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// Architectures lists the architecture names Open accepts.
func Architectures() []string {
	return append(resnet.Architectures(), "inception_v3")
}

// Open loads the weights with the config at configPath ("" finds it with ConfigPath;
// without any, arch names the architecture and torchvision's defaults apply: 1000
// ImageNet classes). arch, when given, must agree with the config's architecture, as a
// family name ("resnet" matches resnet50) or exactly.
func Open(weightsPath, configPath, arch string) (*Model, error) {
	if configPath == "" {
		configPath = ConfigPath(weightsPath)
	}
	var raw []byte
	if configPath != "" {
		b, err := os.ReadFile(configPath)
		if err != nil {
			return nil, err
		}
		raw = b
	} else {
		if arch == "" || arch == "resnet" {
			return nil, fmt.Errorf("%s has no config.json beside it: pass --config, or a specific --model (%s)",
				weightsPath, strings.Join(Architectures(), ", "))
		}
		raw = []byte(fmt.Sprintf(`{"architecture": %q, "num_classes": 1000}`, arch))
		configPath = "(defaults for " + arch + ")"
	}
	m, err := open(weightsPath, configPath, raw, arch)
	if err != nil {
		return nil, err
	}
	return m, nil
}

func open(weightsPath, configPath string, raw []byte, arch string) (*Model, error) {
	var head struct {
		Architecture string `json:"architecture"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("config %s: %w", configPath, err)
	}
	got := strings.ToLower(head.Architecture)
	if got == "" {
		got = arch
	}
	if arch != "" && arch != got && !(arch == "resnet" && strings.HasPrefix(got, "resnet")) &&
		!(arch == "inception" && got == "inception_v3") {
		return nil, fmt.Errorf("--model %s, but %s describes %q", arch, configPath, head.Architecture)
	}
	sum, err := fileSHA256(weightsPath)
	if err != nil {
		return nil, err
	}
	store, err := weights.Open(weightsPath)
	if err != nil {
		return nil, err
	}
	m := &Model{Weights: weightsPath, SHA256: sum, store: store}
	if err := m.build(got, configPath, raw); err != nil {
		store.Close()
		return nil, err
	}
	return m, nil
}

func (m *Model) build(arch, configPath string, raw []byte) error {
	dec := func(v any) error {
		d := json.NewDecoder(bytes.NewReader(raw))
		if err := d.Decode(v); err != nil {
			return fmt.Errorf("config %s: %w", configPath, err)
		}
		m.Warnings = unknownKeys(configPath, raw, v)
		return nil
	}
	switch {
	case strings.HasPrefix(arch, "resnet"):
		var c resnet.Config
		if err := dec(&c); err != nil {
			return err
		}
		if c.Architecture == "" {
			c.Architecture = arch
		}
		if err := c.Normalize(); err != nil {
			return fmt.Errorf("config %s: %w", configPath, err)
		}
		net, err := resnet.Load(m.store, c)
		if err != nil {
			return err
		}
		resize := c.ResizeSize
		if resize == 0 {
			resize = defaultResize(c.InputSize)
		}
		m.Architecture, m.Net, m.Labels = c.Architecture, net, c.Labels
		m.Transform = vision.Transform{Resize: resize, Crop: c.InputSize, Gray: c.InChannels == 1, Mean: c.Mean, Std: c.Std}
		if len(m.Labels) == 0 {
			m.Labels = labels.Default(c.NumClasses)
		}
		return nil
	case arch == "inception_v3":
		var c inception.Config
		if err := dec(&c); err != nil {
			return err
		}
		c.Architecture = arch
		if err := c.Normalize(); err != nil {
			return fmt.Errorf("config %s: %w", configPath, err)
		}
		net, err := inception.Load(m.store, c)
		if err != nil {
			return err
		}
		m.Architecture, m.Net, m.Labels = arch, net, c.Labels
		m.Transform = vision.Transform{Resize: c.ResizeSize, Crop: c.InputSize, Mean: c.Mean, Std: c.Std}
		if len(m.Labels) == 0 {
			m.Labels = labels.Default(c.NumClasses)
		}
		return nil
	}
	return fmt.Errorf("config %s: architecture %q is not a vision classifier (want one of %s)", configPath, arch,
		strings.Join(Architectures(), ", "))
}

// defaultResize is the resize torchvision's ImageNet weights use before the crop
// (256 for 224) and no resize beyond the crop for small images.
func defaultResize(crop int) int {
	if crop < 64 {
		return crop
	}
	return crop * 256 / 224
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Scored is one class with its probability.
type Scored struct {
	Index int     `json:"index"`
	Label string  `json:"label"`
	Score float64 `json:"score"`
}

// TopK turns one row of logits into the k most probable classes (softmax), best first.
func (m *Model) TopK(logits []float32, k int) []Scored {
	probs := softmax(logits)
	idx := make([]int, len(probs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case probs[a] > probs[b]:
			return -1
		case probs[a] < probs[b]:
			return 1
		}
		return 0
	})
	k = min(k, len(idx))
	out := make([]Scored, k)
	for i, j := range idx[:k] {
		label := fmt.Sprintf("class %d", j)
		if j < len(m.Labels) {
			label = m.Labels[j]
		}
		out[i] = Scored{Index: j, Label: label, Score: probs[j]}
	}
	return out
}

func softmax(x []float32) []float64 {
	out := make([]float64, len(x))
	if len(x) == 0 {
		return out
	}
	mx := float64(x[0])
	for _, v := range x {
		mx = max(mx, float64(v))
	}
	var s float64
	for i, v := range x {
		out[i] = math.Exp(float64(v) - mx)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
}

// ErrInput is matched (errors.Is) by every error about one input item: a bad image, a
// wrong-shape tensor.
var ErrInput = errors.New("bad input")

// InputError is an item that cannot be used, named.
type InputError struct {
	Item string
	Err  error
}

func (e *InputError) Error() string   { return e.Item + ": " + e.Err.Error() }
func (e *InputError) Unwrap() []error { return []error{ErrInput, e.Err} }

// Batch decodes and transforms encoded images into one N×C×S×S batch. An image that
// fails (corrupt, unknown format, over the limits) is left out and its error, which
// wraps ErrInput and names the item, is at its index in errs; ok lists the indices of
// the images in the batch, in order.
func (m *Model) Batch(items [][]byte, names []string, lim media.Limits) (x []float32, ok []int, errs []error) {
	errs = make([]error, len(items))
	c, s := m.Channels(), m.Size()
	per := c * s * s
	for i, b := range items {
		v, h, w, err := m.Transform.Decode(b, lim)
		if err == nil && (h != s || w != s) {
			err = fmt.Errorf("transform gave %d×%d, the model takes %d×%d", h, w, s, s)
		}
		if err != nil {
			errs[i] = &InputError{Item: names[i], Err: err}
			continue
		}
		x = append(x, v[:per]...)
		ok = append(ok, i)
	}
	return x, ok, errs
}

// Run returns the logits and the pooled features of a normalized N×C×H×W batch, in
// arena memory.
func (m *Model) Run(a *nn.Arena, x []float32, n, h, w int) (logits, features nn.Act, err error) {
	c := m.Channels()
	if len(x) != n*c*h*w {
		return nn.Act{}, nn.Act{}, fmt.Errorf("%w: %d values for a %d×%d×%d×%d batch", ErrInput, len(x), n, c, h, w)
	}
	features, err = m.Net.Features(a, nn.NewAct(x, n, c, h, w))
	if err != nil {
		return nn.Act{}, nn.Act{}, fmt.Errorf("%w: %w", ErrInput, err)
	}
	return m.Net.Head(a, features), features, nil
}

// unknownKeys names the top-level keys of raw that v's JSON fields do not cover.
func unknownKeys(configPath string, raw []byte, v any) []string {
	var keys map[string]json.RawMessage
	if json.Unmarshal(raw, &keys) != nil {
		return nil
	}
	known := map[string]bool{}
	t := reflect.TypeOf(v).Elem()
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		known[name] = true
	}
	var out []string
	for k := range keys {
		if !known[k] {
			out = append(out, fmt.Sprintf("config %s: unknown key %q ignored", configPath, k))
		}
	}
	slices.Sort(out)
	return out
}
