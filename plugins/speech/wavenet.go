package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/plexusml/plexus/core/media"
	"github.com/plexusml/plexus/core/tensor"
	"github.com/plexusml/plexus/plugins/sdk"
	"github.com/plexusml/plexus/speech/wavenet"
)

// audioFields are the item fields read for a recording to vocode, first present wins.
var audioFields = []string{"audio", "payload", "bytes"}

func wavenetKind() modelKind {
	melIn := sdk.Contract{Modalities: []string{"audio", "tensor"}, Fields: []sdk.FieldSpec{
		{Name: "logmel", Kind: "tensor", DType: "float32", Shape: []string{"M", "F"}, Optional: true,
			Description: "log-mel frames (n_mels × frames), the model's own front end (config.json audio)"},
		{Name: "audio", Kind: "bytes", Optional: true, Description: "a WAV recording: its log-mel frames are computed and vocoded (resynthesis); also read from payload or bytes"},
		{Name: "speaker", Kind: "int", Optional: true, Description: "speaker id (models with speaker conditioning); default: config speaker"},
	}}
	genIn := sdk.Contract{Fields: []sdk.FieldSpec{
		{Name: "speaker", Kind: "int", Optional: true, Description: "speaker id; default: config speaker"},
		{Name: "seconds", Kind: "float", Optional: true, Description: "length; default: config seconds"},
	}}
	audioOut := sdk.Contract{Fields: []sdk.FieldSpec{
		{Name: "audio", Kind: "tensor", DType: "float32", Shape: []string{"T"}, Description: "the waveform in [-1, 1]"},
		{Name: "sample_rate", Kind: "int", Description: "samples per second of audio"},
	}}
	tasks := []sdk.Task{
		{Name: "vocode", Description: "log-mel frames (or a recording's) → waveform", Input: melIn, Output: audioOut},
		{Name: "generate", Description: "a waveform without local conditioning (unconditional or speaker-conditioned models)", Input: genIn, Output: audioOut},
	}
	return modelKind{
		info: sdk.ModelInfo{
			Name:        "wavenet",
			Description: "WaveNet vocoder (r9y9/wavenet_vocoder names; mu-law softmax or mixture of logistics)",
			Tasks:       tasks,
			Config: []sdk.ConfigField{
				{Name: "weights", Type: "string", Required: true, Description: "safetensors or .pth file"},
				{Name: "config", Type: "string", Description: "config.json; default: NAME.json or config.json beside the weights"},
				{Name: "temperature", Type: "float", Default: 1.0, Description: "sampling temperature; negative: most likely sample"},
				{Name: "seed", Type: "int", Default: int64(0), Description: "run seed; each item's sampler is seeded from it and the item id"},
				{Name: "speaker", Type: "int", Default: int64(0), Description: "default speaker id"},
				{Name: "seconds", Type: "float", Default: 1.0, Description: "default length for generate"},
				{Name: "max_seconds", Type: "float", Default: 60.0, Description: "longest audio an item may ask for"},
			},
			Resources: sdk.Resources{Devices: []string{"cpu"}, Memory: 256 << 20},
			MaxBatch:  8,
		},
		load: loadWaveNet,
	}
}

type wavenetInstance struct {
	m                *wavenet.Model
	temp             float32
	seed             uint64
	speaker          int64
	seconds, maxSecs float64
	tasks            []sdk.Task
	limits           media.Limits
}

func loadWaveNet(_ context.Context, req sdk.LoadRequest) (sdk.Instance, error) {
	w, _ := req.Config["weights"].(string)
	c, _ := req.Config["config"].(string)
	m, err := wavenet.Open(w, c)
	if err != nil {
		return nil, err
	}
	inst := &wavenetInstance{m: m, temp: 1, seconds: 1, maxSecs: 60, tasks: wavenetKind().info.Tasks, limits: media.DefaultLimits()}
	if v, ok := req.Config["temperature"].(float64); ok {
		inst.temp = float32(v)
	}
	if v, ok := req.Config["seed"].(int64); ok {
		inst.seed = uint64(v)
	}
	if v, ok := req.Config["speaker"].(int64); ok {
		inst.speaker = v
	}
	if v, ok := req.Config["seconds"].(float64); ok && v > 0 {
		inst.seconds = v
	}
	if v, ok := req.Config["max_seconds"].(float64); ok && v > 0 {
		inst.maxSecs = v
	}
	return inst, nil
}

// itemSeed derives an item's sampler seed from the run seed and its id, so a retried
// batch (or the item in another batch) gives the same audio.
func itemSeed(run uint64, id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64() ^ (run * 0x9e3779b97f4a7c15)
}

func intField(it sdk.Item, name string, def int64) (int64, error) {
	switch v := it.Fields[name].(type) {
	case nil:
		return def, nil
	case int64:
		return v, nil
	case int:
		return int64(v), nil
	case float64:
		if v != float64(int64(v)) {
			return 0, fmt.Errorf("%s %g is not an integer", name, v)
		}
		return int64(v), nil
	default:
		return 0, fmt.Errorf("%s is a %T, want an integer", name, v)
	}
}

// Process vocodes or generates every good item of the batch together (one generator
// step for all of them), answering each bad item alone.
func (w *wavenetInstance) Process(ctx context.Context, task string, items []sdk.Item) []sdk.Result {
	if task != "vocode" && task != "generate" {
		return badTask(items, "wavenet", task, w.tasks)
	}
	out := make([]sdk.Result, len(items))
	cfg := w.m.Config
	var reqs []wavenet.Request
	var ok []int
	for i, it := range items {
		r, err := w.request(task, it)
		if err != nil {
			out[i] = sdk.Fail(sdk.BadItem("%s: %v", it.ID, err))
			continue
		}
		reqs = append(reqs, r)
		ok = append(ok, i)
	}
	if len(reqs) == 0 {
		return out
	}
	res, err := w.m.Generate(ctx, reqs, wavenet.Options{Temperature: w.temp})
	if err != nil {
		for _, i := range ok {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				out[i] = sdk.Fail(err)
			} else {
				out[i] = sdk.Fail(fmt.Errorf("%w: %v", sdk.ErrInternal, err))
			}
		}
		return out
	}
	for j, i := range ok {
		a := res[j].Audio
		out[i] = sdk.OK(map[string]sdk.Value{"audio": tensor.FromFloat32(a, len(a)), "sample_rate": int64(cfg.Audio.SampleRate)})
	}
	return out
}

// request builds one item's generation request.
func (w *wavenetInstance) request(task string, it sdk.Item) (wavenet.Request, error) {
	cfg := w.m.Config
	r := wavenet.Request{Seed: itemSeed(w.seed, it.ID)}
	var err error
	if r.Speaker, err = intField(it, "speaker", w.speaker); err != nil {
		return r, err
	}
	if cfg.GinChannels > 0 && (r.Speaker < 0 || r.Speaker >= int64(cfg.NSpeakers)) {
		return r, fmt.Errorf("speaker %d: the model knows speakers 0..%d", r.Speaker, cfg.NSpeakers-1)
	}
	maxSamples := int(w.maxSecs * float64(cfg.Audio.SampleRate))
	if task == "generate" {
		if cfg.CinChannels > 0 {
			return r, fmt.Errorf("this model is a vocoder (conditioned on log-mel frames): use task vocode")
		}
		secs := w.seconds
		if v, ok := it.Fields["seconds"].(float64); ok {
			secs = v
		}
		r.Length = int(secs * float64(cfg.Audio.SampleRate))
		if r.Length < 1 || r.Length > maxSamples {
			return r, fmt.Errorf("%g s is outside (0, %g] s", secs, w.maxSecs)
		}
		return r, nil
	}
	if cfg.CinChannels <= 0 {
		return r, fmt.Errorf("this model has no log-mel conditioning: use task generate")
	}
	mel, frames, err := w.conditioning(it)
	if err != nil {
		return r, err
	}
	if frames*cfg.Hop() > maxSamples {
		return r, fmt.Errorf("%d frames make %.1f s of audio, over max_seconds %g", frames, float64(frames*cfg.Hop())/float64(cfg.Audio.SampleRate), w.maxSecs)
	}
	r.Mel, r.Frames = mel, frames
	return r, nil
}

// conditioning returns an item's cin × frames log-mel frames: given as a tensor, or
// computed from a recording with the model's front end.
func (w *wavenetInstance) conditioning(it sdk.Item) ([]float32, int, error) {
	cfg := w.m.Config
	if t, ok := it.Fields["logmel"].(*tensor.Tensor); ok {
		if t.Rank() != 2 || t.Dim(0) != cfg.CinChannels || t.Dim(1) < 1 {
			return nil, 0, fmt.Errorf("logmel shape %v, the model takes %d × frames", t.Shape(), cfg.CinChannels)
		}
		// Items may live in shared memory reused after Process: copy.
		return append([]float32(nil), t.ToFloat32().Contiguous().Float32s()...), t.Dim(1), nil
	}
	for _, f := range audioFields {
		b, ok := it.Fields[f].([]byte)
		if !ok {
			continue
		}
		a, err := media.DecodeWAV(bytes.NewReader(b), w.limits)
		if err != nil {
			return nil, 0, err
		}
		feats, err := cfg.LogMel(a.Mono(), a.Rate)
		if err != nil {
			return nil, 0, err
		}
		return feats.Data, feats.Frames, nil
	}
	return nil, 0, fmt.Errorf("no conditioning: want a logmel tensor or one of the fields %v (WAV bytes)", audioFields)
}

var _ sdk.Instance = (*wavenetInstance)(nil)
