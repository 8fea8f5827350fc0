package main

import (
	"context"
	"fmt"
	"image"
	"io"
	"sync"

	"github.com/plexusml/plexus/core/media"
	"github.com/plexusml/plexus/core/nn"
	"github.com/plexusml/plexus/core/tensor"
	"github.com/plexusml/plexus/plugins/sdk"
	"github.com/plexusml/plexus/vision/models"
)

// Version is the plugin's version, reported in provenance.
const Version = "0.1.0"

// maxBatch is the largest batch an instance takes: a ResNet-50 batch of 64 at 224×224
// holds its activations in about 1 GiB.
const maxBatch = 64

// imageFields are the item fields read for an encoded image, first present wins; a
// "tensor" field (C×H×W float32, already normalized) is fed as it is instead.
var imageFields = []string{"image", "payload", "bytes"}

// Vision is the plugin.
type Vision struct{}

var modelNames = []struct{ name, doc string }{
	{"resnet", "any ResNet; the architecture comes from config.json beside the weights"},
	{"resnet18", "torchvision ResNet-18"},
	{"resnet34", "torchvision ResNet-34"},
	{"resnet50", "torchvision ResNet-50"},
	{"resnet101", "torchvision ResNet-101"},
	{"resnet152", "torchvision ResNet-152"},
	{"inception_v3", "torchvision Inception-v3 (transform_input from config.json)"},
}

// Describe publishes the models, the classify and embed tasks and the config schema.
func (Vision) Describe() sdk.Description {
	in := sdk.Contract{Modalities: []string{"image", "tensor"}, Fields: []sdk.FieldSpec{
		{Name: "image", Kind: "bytes", Optional: true, Description: "an encoded image (JPEG, PNG, GIF, BMP, TIFF, WebP); also read from payload or bytes"},
		{Name: "tensor", Kind: "tensor", DType: "float32", Shape: []string{"C", "H", "W"}, Optional: true, Description: "a preprocessed image, fed as it is"},
	}}
	d := sdk.Description{Name: "vision", Version: Version}
	for _, m := range modelNames {
		d.Models = append(d.Models, sdk.ModelInfo{
			Name:        m.name,
			Description: m.doc,
			Tasks: []sdk.Task{
				{Name: "classify", Description: "top-k labels with softmax scores", Input: in, Output: sdk.Contract{Fields: []sdk.FieldSpec{
					{Name: "label", Kind: "string"}, {Name: "score", Kind: "float"}, {Name: "index", Kind: "int"},
					{Name: "labels", Kind: "strings"}, {Name: "scores", Kind: "floats"},
				}}},
				{Name: "embed", Description: "the pooled features the classifier reads", Input: in, Output: sdk.Contract{Fields: []sdk.FieldSpec{
					{Name: "embedding", Kind: "tensor", DType: "float32", Shape: []string{"D"}},
				}}},
			},
			Config: []sdk.ConfigField{
				{Name: "weights", Type: "string", Required: true, Description: "safetensors or .pth file with torchvision names"},
				{Name: "config", Type: "string", Description: "config.json; default: NAME.json or config.json beside the weights"},
				{Name: "top_k", Type: "int", Default: int64(5), Description: "labels returned by classify"},
				{Name: "max_pixels", Type: "int", Default: int64(64 << 20), Description: "largest image accepted, width × height"},
			},
			Resources: sdk.Resources{Devices: []string{"cpu"}, Memory: 1 << 30},
			MaxBatch:  maxBatch,
		})
	}
	return d
}

// Load opens the weights with their config.
func (Vision) Load(_ context.Context, req sdk.LoadRequest) (sdk.Instance, error) {
	w, _ := req.Config["weights"].(string)
	cfg, _ := req.Config["config"].(string)
	arch := req.Model
	m, err := models.Open(w, cfg, arch)
	if err != nil {
		return nil, err
	}
	for _, w := range m.Warnings {
		sdk.Logger().Warn(w)
	}
	inst := &instance{model: m, topK: 5, limits: media.DefaultLimits()}
	if k, ok := req.Config["top_k"].(int64); ok && k > 0 {
		inst.topK = int(k)
	}
	if p, ok := req.Config["max_pixels"].(int64); ok && p > 0 {
		inst.limits.MaxPixels = p
	}
	return inst, nil
}

type instance struct {
	model  *models.Model
	topK   int
	limits media.Limits

	mu    sync.Mutex // guards arena: one batch at a time per instance
	arena *nn.Arena
}

func (m *instance) Close() error { return m.model.Close() }

// Process decodes every item, runs the good ones as one batch and answers each item:
// a corrupt, oversized or wrong-shape input fails alone.
func (m *instance) Process(ctx context.Context, task string, items []sdk.Item) []sdk.Result {
	out := make([]sdk.Result, len(items))
	if task != "classify" && task != "embed" {
		for i := range out {
			out[i] = sdk.Fail(sdk.BadItem("task %q: the vision plugin offers classify and embed", task))
		}
		return out
	}
	c, s := m.model.Channels(), m.model.Size()
	per := c * s * s
	x := make([]float32, 0, len(items)*per)
	var ok []int
	for i, it := range items {
		v, err := m.input(it, c, s)
		if err != nil {
			out[i] = sdk.Fail(sdk.BadItem("%s: %v", it.ID, err))
			continue
		}
		x = append(x, v...)
		ok = append(ok, i)
	}
	if len(ok) == 0 {
		return out
	}
	if err := ctx.Err(); err != nil {
		for _, i := range ok {
			out[i] = sdk.Fail(err)
		}
		return out
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.arena == nil {
		m.arena = nn.NewArena(0)
	}
	m.arena.Reset()
	logits, feats, err := m.model.Run(m.arena, x, len(ok), s, s)
	if err != nil {
		for _, i := range ok {
			out[i] = sdk.Fail(fmt.Errorf("%w: %v", sdk.ErrInternal, err))
		}
		return out
	}
	k, d := logits.Dim(1), feats.Dim(1)
	for j, i := range ok {
		if task == "embed" {
			// A copy: arena memory is reused by the next batch.
			e := append([]float32(nil), feats.Data[j*d:(j+1)*d]...)
			out[i] = sdk.OK(map[string]sdk.Value{"embedding": tensor.FromFloat32(e, d)})
			continue
		}
		top := m.model.TopK(logits.Data[j*k:(j+1)*k], m.topK)
		labels := make([]string, len(top))
		scores := make([]float64, len(top))
		for t, sc := range top {
			labels[t], scores[t] = sc.Label, sc.Score
		}
		out[i] = sdk.OK(map[string]sdk.Value{"label": top[0].Label, "score": top[0].Score, "index": int64(top[0].Index),
			"labels": labels, "scores": scores})
	}
	return out
}

// input returns one item's C×S×S network input.
func (m *instance) input(it sdk.Item, c, s int) ([]float32, error) {
	// A decoded image may arrive as a uint8 H×W or H×W×C tensor (C 1, 3 or 4).
	for _, f := range append([]string{"tensor"}, imageFields...) {
		if t, ok := it.Fields[f].(*tensor.Tensor); ok && t.DType() == tensor.Uint8 {
			img, err := pixelsToImage(t)
			if err != nil {
				return nil, err
			}
			v, h, w := m.model.Transform.Apply(img)
			if h != s || w != s {
				return nil, fmt.Errorf("transform gave %d×%d, the model takes %d×%d", h, w, s, s)
			}
			return v, nil
		}
	}
	if t, ok := it.Fields["tensor"].(*tensor.Tensor); ok {
		if t.Rank() != 3 || t.Dim(0) != c || t.Dim(1) != s || t.Dim(2) != s {
			return nil, fmt.Errorf("tensor shape %v, the model takes %d×%d×%d", t.Shape(), c, s, s)
		}
		// Items may live in shared memory reused after Process: copy.
		return append([]float32(nil), t.ToFloat32().Contiguous().Float32s()...), nil
	}
	for _, f := range imageFields {
		if b, ok := it.Fields[f].([]byte); ok {
			v, h, w, err := m.model.Transform.Decode(b, m.limits)
			if err != nil {
				return nil, err
			}
			if h != s || w != s {
				return nil, fmt.Errorf("transform gave %d×%d, the model takes %d×%d", h, w, s, s)
			}
			return v, nil
		}
	}
	return nil, fmt.Errorf("no image: want one of the fields %v (bytes) or tensor", append(imageFields, "tensor"))
}

// pixelsToImage wraps a uint8 H×W (gray) or H×W×C (gray, RGB, RGBA) tensor as an image.
func pixelsToImage(t *tensor.Tensor) (image.Image, error) {
	s := t.Shape()
	c := 1
	if len(s) == 3 {
		c = s[2]
	}
	if (len(s) != 2 && len(s) != 3) || (c != 1 && c != 3 && c != 4) || s[0] < 1 || s[1] < 1 {
		return nil, fmt.Errorf("uint8 image tensor has shape %v, want H×W or H×W×C with C 1, 3 or 4", s)
	}
	if int64(s[0])*int64(s[1]) > 1<<28 {
		return nil, fmt.Errorf("uint8 image tensor %v is too large", s)
	}
	h, w := s[0], s[1]
	px := t.Contiguous().Bytes()
	switch c {
	case 1:
		g := image.NewGray(image.Rect(0, 0, w, h))
		copy(g.Pix, px)
		return g, nil
	case 4:
		img := image.NewNRGBA(image.Rect(0, 0, w, h))
		copy(img.Pix, px)
		return img, nil
	}
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < h*w; i++ {
		copy(img.Pix[4*i:4*i+3], px[3*i:3*i+3])
		img.Pix[4*i+3] = 255
	}
	return img, nil
}

var (
	_ sdk.Plugin   = Vision{}
	_ sdk.Instance = (*instance)(nil)
	_ io.Closer    = (*instance)(nil)
)
