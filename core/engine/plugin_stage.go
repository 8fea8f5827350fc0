package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"

	"github.com/plexusml/plexus/core/media"
	"github.com/plexusml/plexus/core/pipeline"
	"github.com/plexusml/plexus/core/plugin"
	"github.com/plexusml/plexus/core/sched"
	"github.com/plexusml/plexus/core/tensor"
)

// PluginFactory makes plugin stages from host: each engine instance of a stage is one
// plugin Instance (its own supervised process), since a plugin process runs one batch
// at a time.
func PluginFactory(host *plugin.Host) Factory {
	return func(ctx context.Context, s Spec) (Stage, error) {
		st := s.Stage
		desc, err := host.Describe(ctx, st.Plugin)
		if err != nil {
			return nil, fmt.Errorf("plugin %q: %w", st.Plugin, err)
		}
		var model *plugin.ModelInfo
		for i := range desc.Models {
			if desc.Models[i].Name == st.Model || st.Model == "" && len(desc.Models) == 1 {
				model = &desc.Models[i]
			}
		}
		if model == nil {
			return nil, fmt.Errorf("plugin %q has no model %q", st.Plugin, st.Model)
		}
		task := st.Task
		if task == "" && len(model.Tasks) == 1 {
			task = model.Tasks[0].Name
		}
		var inputs []plugin.FieldSpec
		found := false
		for _, t := range model.Tasks {
			if t.Name == task {
				inputs, found = t.Input.Fields, true
			}
		}
		if !found {
			return nil, fmt.Errorf("plugin %q model %q has no task %q", st.Plugin, model.Name, task)
		}
		// The scheduler placed this instance (s.Device). The host takes one device string
		// per instance and no environment of its own: "gpu:N" makes it start the process
		// with CUDA_VISIBLE_DEVICES=N and PLEXUS_DEVICE=gpu:N, so the plugin sees its GPU
		// as device 0, as Assignment.Env asks; the Load call then gets "gpu:N" rather
		// than Assignment.LoadDevice's "cuda:0".
		device := "cpu"
		if s.Device.Kind == sched.GPU {
			device = fmt.Sprintf("gpu:%d", s.Device.Index)
		}
		inst, err := host.Instance(ctx, st.Plugin, model.Name, StageConfig(st, model), device)
		if err != nil {
			return nil, err
		}
		return &pluginStage{inst: inst, task: task, inputs: inputs, explicit: len(st.Input) > 0,
			info: Info{Plugin: desc.Name, Version: desc.Version, Model: model.Name}}, nil
	}
}

// StageConfig is the config a plugin stage's model is loaded with: the stage's config:,
// plus its weights: key for a model that takes a "weights" config field unless config:
// sets one itself, so a pipeline names its weights once, where the ledger hashes them.
// plexus validate checks this same config against the plugin's schema.
func StageConfig(st *pipeline.Stage, model *plugin.ModelInfo) map[string]any {
	if st.Weights == "" {
		return st.Config
	}
	if _, set := st.Config["weights"]; set {
		return st.Config
	}
	for _, f := range model.Config {
		if f.Name == "weights" {
			cfg := make(map[string]any, len(st.Config)+1)
			for k, v := range st.Config {
				cfg[k] = v
			}
			cfg["weights"] = st.Weights
			return cfg
		}
	}
	return st.Config
}

// pluginStage sends batches to one plugin instance.
type pluginStage struct {
	inst   *plugin.Instance
	task   string
	inputs []plugin.FieldSpec
	// explicit is set when the stage names its input:, which then feeds the first
	// contract field even if the record has a field of that name.
	explicit bool
	info     Info
	items    []plugin.Item
}

// Process builds each plugin item from the task's input contract. Each contract field
// is filled, in order of preference, from the stage's input: (first field only, when
// the stage names one), the record's field of that name, the record's payload of that
// modality, or (first field only) the record's own payload. Item errors come back per item; bad and poison items are permanent.
func (p *pluginStage) Process(ctx context.Context, items []Item, res []Result) error {
	p.items = p.items[:0]
	idx := make([]int, 0, len(items)) // positions of the items actually sent
	for i := range items {
		fields, err := p.fields(&items[i])
		if err != nil {
			res[i].Err = err
			continue
		}
		rec := items[i].Record
		p.items = append(p.items, plugin.Item{ID: rec.ID, Modality: p.modality(&items[i]), Fields: fields})
		idx = append(idx, i)
	}
	if len(p.items) == 0 {
		return nil
	}
	out := p.inst.Process(ctx, p.task, p.items)
	if err := unavailable(out); err != nil && ctx.Err() == nil {
		// The instance could not run the batch at all (its process does not start or
		// load): a batch error, so the engine hands the batch to a sibling instance
		// instead of retrying items on a dead one.
		clear(p.items)
		return fmt.Errorf("plugin %s instance unavailable: %w", p.info.Plugin, err)
	}
	for k, r := range out {
		i := idx[k]
		if r.Err != nil {
			if errors.Is(r.Err, plugin.ErrBadItem) || errors.Is(r.Err, plugin.ErrPoison) {
				res[i].Err = Permanent(r.Err)
			} else {
				res[i].Err = r.Err
			}
			continue
		}
		for name, v := range r.Fields {
			res[i].Set(name, v)
		}
	}
	clear(p.items)
	return ctx.Err()
}

// unavailable returns the first error when every result failed with ErrUnavailable.
func unavailable(out []plugin.Result) error {
	var first error
	for _, r := range out {
		if r.Err == nil || !errors.Is(r.Err, plugin.ErrUnavailable) {
			return nil
		}
		if first == nil {
			first = r.Err
		}
	}
	return first
}

// modality is what the plugin is told the item is: the record's own modality, unless
// the stage's input: feeds it another stage's output, whose kind it then is (an LSTM
// continuing an audio item's transcript gets text).
func (p *pluginStage) modality(it *Item) string {
	if !p.explicit || !hasInput(it) {
		return it.Record.Modality
	}
	if it.Part != "" {
		return it.Part
	}
	switch it.Input.(type) {
	case string:
		return "text"
	case *media.Audio:
		return "audio"
	case image.Image:
		return "image"
	case *tensor.Tensor:
		return "tensor"
	}
	return it.Record.Modality
}

func (p *pluginStage) fields(it *Item) (map[string]any, error) {
	rec := it.Record
	out := make(map[string]any, max(len(p.inputs), 1))
	if len(p.inputs) == 0 {
		// A task with an open contract gets the input under its own name.
		v, err := wireValue(it, it.Input, it.Part)
		if err != nil {
			return nil, err
		}
		out[it.InputName] = v
		return out, nil
	}
	// The item's own input feeds the first contract field only when no field of the
	// contract is found by name: a vocoder offering (logmel, audio) must get an audio
	// item's payload as audio, not as logmel.
	named := false
	for _, f := range p.inputs {
		if rec.Fields[f.Name] != nil || hasPart(rec, f.Name) {
			named = true
			break
		}
	}
	for k, f := range p.inputs {
		var v any
		var err error
		switch {
		case k == 0 && p.explicit && hasInput(it):
			v, err = wireValue(it, it.Input, it.Part)
		case rec.Fields[f.Name] != nil:
			v, err = wireValue(it, rec.Fields[f.Name], "")
		case hasPart(rec, f.Name):
			sub := Item{Record: rec, InputName: f.Name, Part: f.Name}
			v, err = wireValue(&sub, nil, f.Name)
		case k == 0 && !named && hasInput(it):
			v, err = wireValue(it, it.Input, it.Part)
		default:
			continue // an optional field, or the plugin's contract check names it
		}
		if err != nil {
			return nil, err
		}
		out[f.Name] = v
	}
	return out, nil
}

// hasInput reports whether the item's resolved input holds something: a field value
// or a payload the record really has.
func hasInput(it *Item) bool {
	return it.Input != nil || it.Part != "" && hasPart(it.Record, it.Part)
}

func hasPart(rec *Record, part string) bool {
	if rec.Item != nil {
		return rec.Item.Part(part) != nil
	}
	return rec.Payload != nil && part == rec.Modality
}

// wireValue converts a field to a type the plugin protocol carries; a payload is sent
// as text for text and as raw bytes otherwise.
func wireValue(it *Item, v any, part string) (any, error) {
	if v == nil {
		if part == "text" {
			return it.Text()
		}
		return it.Bytes()
	}
	switch x := v.(type) {
	case int:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case float32:
		return float64(x), nil
	case []float32:
		f := make([]float64, len(x))
		for i, e := range x {
			f[i] = float64(e)
		}
		return f, nil
	case *media.Audio:
		// A builtin's decoded audio (audio.resample) crosses to the plugin as a WAV
		// file in 32-bit float: lossless, and what every audio plugin already reads.
		var b bytes.Buffer
		if err := x.WriteWAV(&b, 32); err != nil {
			return nil, fmt.Errorf("%s: %w", part, err)
		}
		return b.Bytes(), nil
	}
	return v, nil
}

// Info is the plugin's name and version and the model served.
func (p *pluginStage) Info() Info { return p.info }

// Restarts counts the plugin process's restarts.
func (p *pluginStage) Restarts() int { return p.inst.Restarts() }

// MaxBatch is the model's published batch limit (0 when it publishes none).
func (p *pluginStage) MaxBatch() int { return p.inst.Model().MaxBatch }

// Close stops the instance.
func (p *pluginStage) Close() error { return p.inst.Close() }

var (
	_ Stage      = (*pluginStage)(nil)
	_ Describer  = (*pluginStage)(nil)
	_ Restarter  = (*pluginStage)(nil)
	_ Closer     = (*pluginStage)(nil)
	_ MaxBatcher = (*pluginStage)(nil)
)
