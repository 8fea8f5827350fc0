package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/plexusml/plexus/core/media"
	"github.com/plexusml/plexus/core/nn/weights"
	"github.com/plexusml/plexus/core/plugin"
	"github.com/plexusml/plexus/core/tensor"
	"github.com/plexusml/plexus/plugins/sdk"
	"github.com/plexusml/plexus/speech"
	"github.com/plexusml/plexus/speech/asr"
	"github.com/plexusml/plexus/speech/ctc"
	"github.com/plexusml/plexus/speech/wav2vec2"
)

// recogniserFiles writes a small model of the kind with seeded random weights and its
// config.json, and returns their paths and the model opened from them.
func recogniserFiles(t *testing.T, kind string) (w, c string, m ctc.Acoustic) {
	t.Helper()
	dir := t.TempDir()
	w, c = filepath.Join(dir, kind+".safetensors"), filepath.Join(dir, kind+".json")
	var params map[string]*tensor.Tensor
	var cfgJSON []byte
	var err error
	switch kind {
	case asr.Architecture:
		cfg := asr.DefaultConfig()
		cfg.DModel, cfg.Heads, cfg.FFDim, cfg.Layers, cfg.NMels = 32, 2, 64, 2, 40
		params, err = asr.RandomWeights(cfg, 11)
		cfgJSON, _ = json.Marshal(cfg)
	case wav2vec2.Architecture:
		cfgJSON, err = os.ReadFile(filepath.Join("..", "..", "speech", "wav2vec2", "testdata", "gn_post.json"))
		if err != nil {
			t.Fatal(err)
		}
		var cfg wav2vec2.Config
		if cfg, _, err = wav2vec2.ParseConfig(cfgJSON); err != nil {
			t.Fatal(err)
		}
		params, err = wav2vec2.RandomWeights(cfg, 11)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := weights.WriteSafetensors(w, params, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c, cfgJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	switch kind {
	case asr.Architecture:
		m, err = asr.Open(w, c)
	default:
		m, err = wav2vec2.Open(w, c)
	}
	if err != nil {
		t.Fatal(err)
	}
	return w, c, m
}

// noise returns n samples of a chirp in noise.
func noise(seed uint64, n int) []float32 {
	rng := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(0.3*math.Sin(float64(i)*(0.02+float64(i)*1e-6)) + 0.1*rng.NormFloat64())
	}
	return x
}

func wavBytes(t *testing.T, x []float32, rate, channels int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := media.EncodeWAV(&b, x, rate, channels, 16); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// decoded returns what a WAV decodes to: mono samples and rate.
func decoded(t *testing.T, b []byte) ([]float32, int) {
	t.Helper()
	a, err := media.DecodeWAV(bytes.NewReader(b), media.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	return a.Mono(), a.Rate
}

// checkWords checks a result's words against its text and the audio's length.
func checkWords(t *testing.T, id string, r sdk.Result, seconds float64) {
	t.Helper()
	text, ok := r.Fields["text"].(string)
	if !ok {
		t.Fatalf("%s: text %#v", id, r.Fields["text"])
	}
	words, ok := r.Fields["words"].([]sdk.Value)
	if !ok {
		t.Fatalf("%s: words %#v", id, r.Fields["words"])
	}
	var ws []string
	prevEnd := 0.0
	for _, v := range words {
		w, ok := v.([]sdk.Value)
		if !ok || len(w) != 4 {
			t.Fatalf("%s: word %#v, want [word, start, end, confidence]", id, v)
		}
		s, _ := w[0].(string)
		st, _ := w[1].(float64)
		en, _ := w[2].(float64)
		cf, _ := w[3].(float64)
		if s == "" || st < prevEnd || en <= st || en > seconds+0.05 || cf <= 0 || cf > 1 {
			t.Fatalf("%s: word %#v (audio %.2f s)", id, w, seconds)
		}
		ws = append(ws, s)
		prevEnd = en
	}
	if strings.Join(ws, " ") != text {
		t.Fatalf("%s: words %v, text %q", id, ws, text)
	}
}

func transcribeItems(t *testing.T) ([]sdk.Item, map[string][]float32) {
	w16 := noise(1, 21000)
	w8 := noise(2, 2*7000) // stereo, interleaved
	long := noise(3, 16000*5+123)
	tens := noise(4, 9000)
	tens2 := noise(5, 2*11025)
	items := []sdk.Item{
		{ID: "wav16", Modality: "audio", Fields: map[string]sdk.Value{"audio": wavBytes(t, w16, 16000, 1)}},
		{ID: "wav8", Modality: "audio", Fields: map[string]sdk.Value{"audio": wavBytes(t, w8, 8000, 2)}},
		{ID: "long", Modality: "audio", Fields: map[string]sdk.Value{"audio": wavBytes(t, long, 16000, 1)}},
		{ID: "tensor", Modality: "tensor", Fields: map[string]sdk.Value{"audio": tensor.FromFloat32(tens, len(tens))}},
		{ID: "tensor2", Modality: "tensor", Fields: map[string]sdk.Value{"audio": tensor.FromFloat32(tens2, 2, 11025), "sample_rate": int64(22050)}},
		{ID: "none", Modality: "audio", Fields: map[string]sdk.Value{}},
		{ID: "rank3", Modality: "tensor", Fields: map[string]sdk.Value{"audio": tensor.FromFloat32(tens, 1, 1, len(tens))}},
		{ID: "empty", Modality: "audio", Fields: map[string]sdk.Value{"audio": wavBytes(t, nil, 16000, 1)}},
		{ID: "cut", Modality: "audio", Fields: map[string]sdk.Value{"audio": wavBytes(t, w16, 16000, 1)[:30]}},
		{ID: "short", Modality: "tensor", Fields: map[string]sdk.Value{"audio": tensor.FromFloat32(tens[:10], 10)}},
		{ID: "text", Modality: "text", Fields: map[string]sdk.Value{"audio": "hello"}},
	}
	// The waveforms each good item reaches the model as, at 16 kHz.
	want := map[string][]float32{}
	for _, it := range items[:3] {
		x, rate := decoded(t, it.Fields["audio"].([]byte))
		if rate != 16000 {
			x, _ = speech.Resample(x, rate, 16000)
		}
		want[it.ID] = x
	}
	want["tensor"] = tens
	mono := make([]float32, 11025)
	for i := range mono {
		mono[i] = tens2[i]/2 + tens2[11025+i]/2
	}
	want["tensor2"], _ = speech.Resample(mono, 22050, 16000)
	return items, want
}

// TestTranscribe runs both recognisers with random weights in process: each good item
// gets the emissions the model gives its (resampled, down-mixed) waveform, stitched
// from windows for the long one, and a transcript that is the decoding of those
// emissions; each bad item fails alone.
func TestTranscribe(t *testing.T) {
	for _, kind := range []string{asr.Architecture, wav2vec2.Architecture} {
		t.Run(kind, func(t *testing.T) {
			w, c, m := recogniserFiles(t, kind)
			inst, err := Speech{}.Load(context.Background(), sdk.LoadRequest{Model: kind, Config: map[string]any{
				"weights": w, "config": c, "emissions": true, "chunk_seconds": 2.0, "overlap_seconds": 0.5, "batch_size": int64(3)}})
			if err != nil {
				t.Fatal(err)
			}
			items, want := transcribeItems(t)
			res := inst.Process(context.Background(), "transcribe", items)
			run := ctc.RunOptions{ChunkSeconds: 2, OverlapSeconds: 0.5, MaxBatch: 1}
			dec, _ := ctc.NewDecoder(m.Labels(), ctc.Options{})
			for i, it := range items {
				r := res[i]
				x, good := want[it.ID]
				if !good {
					if !errors.Is(r.Err, sdk.ErrBadItem) || !strings.Contains(r.Err.Error(), it.ID) {
						t.Errorf("%s: %v, want a bad item naming it", it.ID, r.Err)
					}
					continue
				}
				if r.Err != nil {
					t.Fatalf("%s: %v", it.ID, r.Err)
				}
				checkWords(t, it.ID, r, float64(len(x))/16000)
				// The same emissions as the model gives this waveform alone.
				e, err := ctc.Run(context.Background(), m, [][]float32{x}, run)
				if err != nil || e[0].Err != nil {
					t.Fatal(err, e[0].Err)
				}
				got := r.Fields["emissions"].(*tensor.Tensor)
				if got.Dim(0) != e[0].Frames || got.Dim(1) != len(m.Labels()) || maxRel(got.Float32s(), e[0].Scores) > 1e-5 {
					t.Fatalf("%s: emissions %v differ from the model's (%d frames; rel %g)", it.ID, got.Shape(), e[0].Frames, maxRel(got.Float32s(), e[0].Scores))
				}
				if d, _ := dec.Decode(e[0].Scores, e[0].Frames); d.Text != r.Fields["text"] {
					t.Fatalf("%s: text %q, decoding the emissions gives %q", it.ID, r.Fields["text"], d.Text)
				}
			}
			if r := inst.Process(context.Background(), "vocode", items[:1]); !errors.Is(r[0].Err, sdk.ErrBadItem) {
				t.Errorf("vocode: %v", r[0].Err)
			}
		})
	}
}

func maxRel(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var d, m float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
		m = math.Max(m, math.Abs(float64(b[i])))
	}
	return d / m
}

// TestTranscribeBeamLM decodes with the beam search and a character LM trained on the
// model's own alphabet: the transcript is written in the labels' letters only.
func TestTranscribeBeamLM(t *testing.T) {
	w, c, m := recogniserFiles(t, wav2vec2.Architecture)
	lmPath := filepath.Join(t.TempDir(), "w.charlm")
	lm, err := ctc.TrainCharLM(strings.NewReader("THE CAT SAT\nON THE MAT\nIT'S A HAT\n"), 4, ctc.CharLMOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := lm.Save(lmPath); err != nil {
		t.Fatal(err)
	}
	inst, err := Speech{}.Load(context.Background(), sdk.LoadRequest{Model: wav2vec2.Architecture, Config: map[string]any{
		"weights": w, "config": c, "decoder": "beam", "beam_width": int64(8), "lm": lmPath, "lm_weight": 0.8, "word_bonus": 1.5}})
	if err != nil {
		t.Fatal(err)
	}
	items, _ := transcribeItems(t)
	res := inst.Process(context.Background(), "transcribe", items[:2])
	for i, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		checkWords(t, items[i].ID, r, 1.4)
		for _, ch := range r.Fields["text"].(string) {
			if ch != ' ' && !slices.Contains(m.Labels(), string(ch)) {
				t.Fatalf("%q is not in the labels", r.Fields["text"])
			}
		}
		if _, ok := r.Fields["emissions"]; ok {
			t.Error("emissions without emissions: true")
		}
	}
}

func TestRecogniserLoadErrors(t *testing.T) {
	w, c, _ := recogniserFiles(t, asr.Architecture)
	cases := map[string]map[string]any{
		"architecture \"asr-ctc\": load it as model \"asr-ctc\", not \"wav2vec2\"": {"weights": w, "config": c, "model": wav2vec2.Architecture},
		"the LM needs decoder: beam": {"weights": w, "config": c, "lm": "x.charlm"},
		"decoder \"viterbi\"":        {"weights": w, "config": c, "decoder": "viterbi"},
		"overlap_seconds 15":         {"weights": w, "config": c, "overlap_seconds": 15.0},
		"no such file":               {"weights": w, "config": c, "decoder": "beam", "lm": filepath.Join(t.TempDir(), "none.charlm")},
		"no config (tried":           {"weights": filepath.Join(t.TempDir(), "x.safetensors")},
	}
	for want, cfg := range cases {
		model := asr.Architecture
		if m, ok := cfg["model"].(string); ok {
			model = m
			delete(cfg, "model")
		}
		_, err := Speech{}.Load(context.Background(), sdk.LoadRequest{Model: model, Config: cfg})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: %v, want %q", cfg, err, want)
		}
	}
	d := Speech{}.Describe()
	var names []string
	for _, m := range d.Models {
		names = append(names, m.Name)
	}
	if !slices.Equal(names, []string{"wavenet", "asr-ctc", "wav2vec2"}) {
		t.Errorf("models %v", names)
	}
}

// TestTranscribeAsPluginProcess builds the plugin and drives both recognisers through
// the real host: handshake, config validation with defaults, WAV bytes in, text, the
// word list and an emissions tensor back over the wire, a bad item failing alone.
func TestTranscribeAsPluginProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin binary")
	}
	bin := filepath.Join(t.TempDir(), "plexus-plugin-speech")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	h := plugin.NewHost(plugin.HostOptions{SkipPATH: true, Logger: hclog.NewNullLogger()})
	defer h.Close()
	h.Add(plugin.Found{Name: "speech", Path: bin})
	ctx := context.Background()
	items, want := transcribeItems(t)
	items = []sdk.Item{items[0], items[5], items[1]}
	for _, kind := range []string{asr.Architecture, wav2vec2.Architecture} {
		w, c, m := recogniserFiles(t, kind)
		inst, err := h.Instance(ctx, "speech", kind, map[string]any{"weights": w, "config": c, "emissions": true}, "cpu")
		if err != nil {
			t.Fatal(err)
		}
		res := inst.Process(ctx, "transcribe", items)
		if !errors.Is(res[1].Err, plugin.ErrBadItem) {
			t.Errorf("%s: item without audio: %v", kind, res[1].Err)
		}
		dec, _ := ctc.NewDecoder(m.Labels(), ctc.Options{})
		for _, i := range []int{0, 2} {
			r := res[i]
			if r.Err != nil {
				t.Fatalf("%s %s: %v", kind, items[i].ID, r.Err)
			}
			checkWords(t, items[i].ID, r, 1.4)
			x := want[items[i].ID]
			e, err := m.Emissions(ctx, [][]float32{x})
			if err != nil {
				t.Fatal(err)
			}
			got := r.Fields["emissions"].(*tensor.Tensor)
			if maxRel(got.Float32s(), e[0]) > 1e-5 {
				t.Fatalf("%s %s: emissions over the wire differ", kind, items[i].ID)
			}
			if d, _ := dec.Decode(e[0], len(e[0])/len(m.Labels())); d.Text != r.Fields["text"] {
				t.Fatalf("%s %s: text %q, want %q", kind, items[i].ID, r.Fields["text"], d.Text)
			}
		}
		if _, err := h.Instance(ctx, "speech", kind, map[string]any{"config": c}, "cpu"); err == nil {
			t.Errorf("%s: loaded without weights", kind)
		}
	}
}
