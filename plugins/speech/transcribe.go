package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/plexusml/plexus/core/media"
	"github.com/plexusml/plexus/core/tensor"
	"github.com/plexusml/plexus/plugins/sdk"
	"github.com/plexusml/plexus/speech"
	"github.com/plexusml/plexus/speech/asr"
	"github.com/plexusml/plexus/speech/ctc"
	"github.com/plexusml/plexus/speech/wav2vec2"
)

// recognisers are the CTC speech recognisers: the compact log-mel Transformer plexus
// trains (speech/asr) and wav2vec 2.0 with torchaudio's names (speech/wav2vec2).
func recognisers() []modelKind {
	return []modelKind{
		recogniserKind(asr.Architecture, "compact log-mel Transformer-CTC recogniser that plexus trains (speech/asr; `plexus train` kind speech.ctc)", 256<<20),
		recogniserKind(wav2vec2.Architecture, "wav2vec 2.0 CTC recogniser with torchaudio's parameter names (wav2vec2_model state_dict, e.g. WAV2VEC2_ASR_BASE_960H as safetensors or .pth)", 1<<30),
	}
}

func recogniserKind(name, desc string, memory int64) modelKind {
	in := sdk.Contract{Modalities: []string{"audio", "tensor"}, Fields: []sdk.FieldSpec{
		{Name: "audio", Kind: "any", Description: "the recording: WAV bytes (any rate, channels down-mixed), or a float32 waveform tensor [T] or [channels, T] in [-1, 1]; also read from payload or bytes. Resampled to the model's rate when it differs"},
		{Name: "sample_rate", Kind: "int", Optional: true, Description: "rate of a waveform tensor; default: the model's (16000)"},
	}}
	out := sdk.Contract{Fields: []sdk.FieldSpec{
		{Name: "text", Kind: "string", Description: "the transcript: words joined by single spaces, in the model's labels' case"},
		{Name: "words", Kind: "list", Description: "one [word, start, end, confidence] list a word: start and end in seconds from the start of the audio (frame index × frame_samples / sample_rate, from the CTC alignment), confidence the geometric mean of the word's aligned frame probabilities, in (0, 1]"},
		{Name: "emissions", Kind: "tensor", DType: "float32", Shape: []string{"frames", "labels"}, Optional: true, Description: "the raw CTC logits (only with emissions: true)"},
	}}
	return modelKind{
		info: sdk.ModelInfo{
			Name:        name,
			Description: desc,
			Tasks: []sdk.Task{{Name: "transcribe", Description: "speech → text with word timestamps: CTC emissions of the audio (long audio in overlapping windows, stitched by frame), " +
				"decoded greedily or by prefix beam search with an optional character n-gram LM. A batch's recordings (and windows) run in groups of similar length, " +
				"so padding stays small. A bad item (no audio, an unreadable WAV, a tensor of the wrong rank, an empty or too short recording) fails alone.", Input: in, Output: out}},
			Config: []sdk.ConfigField{
				{Name: "weights", Type: "string", Required: true, Description: "safetensors or .pth file"},
				{Name: "config", Type: "string", Description: "config.json, whose architecture must be " + name + "; default: NAME.json or config.json beside the weights"},
				{Name: "decoder", Type: "string", Default: ctc.Greedy, Enum: []string{ctc.Greedy, ctc.Beam}, Description: "greedy (best label per frame) or beam (prefix beam search, with the LM when lm is set)"},
				{Name: "beam_width", Type: "int", Default: int64(ctc.DefaultBeamWidth), Description: "prefixes kept per frame by the beam decoder"},
				{Name: "lm", Type: "string", Description: "character n-gram LM (.charlm, from `plexus train` kind ctc.charlm) for the beam decoder"},
				{Name: "lm_weight", Type: "float", Default: 0.5, Description: "weight α of the LM's log probability"},
				{Name: "word_bonus", Type: "float", Default: 0.0, Description: "score β added per word, against the LM's bias to short transcripts"},
				{Name: "chunk_seconds", Type: "float", Default: 20.0, Description: "longer audio is split into windows of this length (0: never split)"},
				{Name: "overlap_seconds", Type: "float", Default: 2.0, Description: "overlap of consecutive windows; each frame is taken from the window it lies deepest in"},
				{Name: "batch_size", Type: "int", Default: int64(8), Description: "most recordings or windows per model call"},
				{Name: "emissions", Type: "bool", Default: false, Description: "also output the raw emissions"},
				{Name: "max_seconds", Type: "float", Default: 3600.0, Description: "longest recording accepted"},
			},
			Resources: sdk.Resources{Devices: []string{"cpu"}, Memory: memory},
			MaxBatch:  16,
		},
		load: func(ctx context.Context, req sdk.LoadRequest) (sdk.Instance, error) {
			return loadRecogniser(ctx, name, req)
		},
	}
}

type recogniser struct {
	name      string
	m         ctc.Acoustic
	dec       *ctc.Decoder
	run       ctc.RunOptions
	emissions bool
	maxSecs   float64
	limits    media.Limits
	tasks     []sdk.Task
}

// architecture reads config.json's "architecture" for the dispatch to a model package.
func architecture(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var c struct {
		Architecture string `json:"architecture"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return c.Architecture, nil
}

// configPath finds the config.json as both model packages do: explicit, NAME.json or
// config.json beside the weights.
func configPath(w, explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	base := strings.TrimSuffix(w, filepath.Ext(w)) + ".json"
	for _, p := range []string{base, filepath.Join(filepath.Dir(w), "config.json")} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: no config (tried %s and config.json beside it)", w, base)
}

func loadRecogniser(_ context.Context, name string, req sdk.LoadRequest) (sdk.Instance, error) {
	str := func(k string) string { s, _ := req.Config[k].(string); return s }
	num := func(k string, def float64) float64 {
		switch v := req.Config[k].(type) {
		case float64:
			return v
		case int64:
			return float64(v)
		}
		return def
	}
	w := str("weights")
	cp, err := configPath(w, str("config"))
	if err != nil {
		return nil, err
	}
	arch, err := architecture(cp)
	if err != nil {
		return nil, err
	}
	if arch == "" {
		arch = name
	}
	if arch != name {
		return nil, fmt.Errorf("%s: architecture %q: load it as model %q, not %q", cp, arch, arch, name)
	}
	var m ctc.Acoustic
	switch arch {
	case asr.Architecture:
		m, err = asr.Open(w, cp)
	case wav2vec2.Architecture:
		var wm *wav2vec2.Model
		if wm, err = wav2vec2.Open(w, cp); err == nil && wm.Labels() == nil {
			err = fmt.Errorf("%s: the model has no CTC head (aux_num_out is null), so nothing to transcribe", w)
		}
		m = wm
	}
	if err != nil {
		return nil, err
	}
	inst := &recogniser{name: name, m: m, emissions: req.Config["emissions"] == true, maxSecs: num("max_seconds", 3600),
		limits: media.DefaultLimits(), tasks: recogniserKind(name, "", 0).info.Tasks}
	inst.limits.MaxDuration = time.Duration(inst.maxSecs * float64(time.Second))
	inst.run, err = ctc.RunOptions{ChunkSeconds: num("chunk_seconds", 20), OverlapSeconds: num("overlap_seconds", 2),
		MaxBatch: int(num("batch_size", 8))}.Check()
	if err != nil {
		return nil, err
	}
	o := ctc.Options{Method: str("decoder"), BeamWidth: int(num("beam_width", ctc.DefaultBeamWidth)),
		LMWeight: num("lm_weight", 0.5), WordBonus: num("word_bonus", 0),
		FrameSeconds: float64(m.FrameSamples()) / float64(m.SampleRate())}
	if p := str("lm"); p != "" {
		if o.Method != ctc.Beam {
			return nil, fmt.Errorf("lm %s: the LM needs decoder: beam", p)
		}
		if o.LM, err = ctc.LoadCharLM(p); err != nil {
			return nil, err
		}
	}
	if inst.dec, err = ctc.NewDecoder(m.Labels(), o); err != nil {
		return nil, err
	}
	return inst, nil
}

// Process transcribes a batch: every good item's audio goes through the model together
// (grouped by length, long ones in windows), then each is decoded alone.
func (r *recogniser) Process(ctx context.Context, task string, items []sdk.Item) []sdk.Result {
	if task != "transcribe" {
		return badTask(items, r.name, task, r.tasks)
	}
	out := make([]sdk.Result, len(items))
	var wavs [][]float32
	var idx []int
	for i, it := range items {
		w, err := r.waveform(it)
		if err != nil {
			out[i] = sdk.Fail(sdk.BadItem("%s: %v", it.ID, err))
			continue
		}
		wavs = append(wavs, w)
		idx = append(idx, i)
	}
	if len(wavs) == 0 {
		return out
	}
	em, err := ctc.Run(ctx, r.m, wavs, r.run)
	if err != nil {
		for _, i := range idx {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				out[i] = sdk.Fail(err)
			} else {
				out[i] = sdk.Fail(fmt.Errorf("%w: %v", sdk.ErrInternal, err))
			}
		}
		return out
	}
	labels := len(r.m.Labels())
	for k, i := range idx {
		e := em[k]
		if e.Err != nil {
			// The model rejected this recording alone (its neighbours ran): the
			// input is at fault, and a retry would fail the same way.
			out[i] = sdk.Fail(sdk.BadItem("%s: %v", items[i].ID, e.Err))
			continue
		}
		res, err := r.dec.Decode(e.Scores, e.Frames)
		if err != nil {
			out[i] = sdk.Fail(fmt.Errorf("%w: %s: %v", sdk.ErrInternal, items[i].ID, err))
			continue
		}
		words := make([]sdk.Value, len(res.Words))
		for j, w := range res.Words {
			words[j] = []sdk.Value{w.Word, round(w.Start, 1e3), round(w.End, 1e3), round(w.Confidence, 1e4)}
		}
		f := map[string]sdk.Value{"text": res.Text, "words": words}
		if r.emissions {
			f["emissions"] = tensor.FromFloat32(e.Scores, e.Frames, labels)
		}
		out[i] = sdk.OK(f)
	}
	return out
}

func round(x, scale float64) float64 { return math.Round(x*scale) / scale }

// waveform returns an item's audio as mono samples at the model's rate.
func (r *recogniser) waveform(it sdk.Item) ([]float32, error) {
	rate := r.m.SampleRate()
	var x []float32
	from := rate
	var src sdk.Value
	for _, f := range audioFields {
		if v, ok := it.Fields[f]; ok && v != nil {
			src = v
			break
		}
	}
	switch v := src.(type) {
	case nil:
		return nil, fmt.Errorf("no audio: want WAV bytes or a waveform tensor in one of the fields %v", audioFields)
	case []byte:
		a, err := media.DecodeWAV(bytes.NewReader(v), r.limits)
		if err != nil {
			return nil, err
		}
		x, from = a.Mono(), a.Rate
	case *tensor.Tensor:
		t := v.ToFloat32().Contiguous()
		d := t.Float32s()
		switch t.Rank() {
		case 1:
			// Items may live in shared memory reused after Process: copy.
			x = append([]float32(nil), d...)
		case 2:
			ch, n := t.Dim(0), t.Dim(1)
			x = make([]float32, n)
			for c := 0; c < ch; c++ {
				for j := range x {
					x[j] += d[c*n+j] / float32(ch)
				}
			}
		default:
			return nil, fmt.Errorf("audio tensor of shape %v: want [samples] or [channels, samples]", t.Shape())
		}
		sr, err := intField(it, "sample_rate", int64(rate))
		if err != nil {
			return nil, err
		}
		if sr < 1000 || sr > 384000 {
			return nil, fmt.Errorf("sample_rate %d is outside 1000..384000 Hz", sr)
		}
		from = int(sr)
		for _, s := range x {
			if math.IsNaN(float64(s)) || math.IsInf(float64(s), 0) {
				return nil, errors.New("the waveform has NaN or infinite samples")
			}
		}
	default:
		return nil, fmt.Errorf("audio is a %T: want WAV bytes or a float32 waveform tensor", src)
	}
	if len(x) == 0 {
		return nil, errors.New("the recording is empty")
	}
	if secs := float64(len(x)) / float64(from); secs > r.maxSecs {
		return nil, fmt.Errorf("%.1f s of audio, over max_seconds %g", secs, r.maxSecs)
	}
	if from != rate {
		var err error
		if x, err = speech.Resample(x, from, rate); err != nil {
			return nil, fmt.Errorf("resample %d → %d Hz: %w", from, rate, err)
		}
	}
	if f, ok := r.m.(interface{ Frames(int) int }); ok && f.Frames(len(x)) < 1 {
		return nil, fmt.Errorf("%.3f s of audio is too short for one frame of the model", float64(len(x))/float64(rate))
	}
	if len(x) < r.m.FrameSamples() {
		return nil, fmt.Errorf("%d samples at %d Hz is shorter than one frame of the model (%d samples)", len(x), rate, r.m.FrameSamples())
	}
	return x, nil
}

var _ sdk.Instance = (*recogniser)(nil)
