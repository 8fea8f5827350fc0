package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/plexusml/plexus/core/media"
	"github.com/plexusml/plexus/speech"
	"github.com/plexusml/plexus/speech/asr"
	"github.com/plexusml/plexus/speech/ctc"
	"github.com/plexusml/plexus/speech/wav2vec2"
)

// The CTC recognisers in `plexus predict --model asr-ctc|wav2vec2` (transcripts with
// word timestamps) and `plexus train` kind ctc.charlm (the decoders' character LM).
func init() {
	registerPredictModels(predictFamily{
		accepts: func(m string) bool { return m == asr.Architecture || m == wav2vec2.Architecture },
		names:   []string{asr.Architecture, wav2vec2.Architecture},
		open:    openRecogniser,
		options: map[string]string{
			"decoder": "greedy or beam", "beam_width": "prefixes kept per frame", "lm": "character LM file (implies beam)",
			"lm_weight": "LM weight", "word_bonus": "score added per word", "chunk_seconds": "window length for long audio (0: none)",
			"overlap_seconds": "overlap of the windows",
		},
	})
	registerTrainKind(charLMKind, func(ctx context.Context, file string, data []byte, log io.Writer) error {
		cfg, err := parseCharLMConfig(file, data)
		if err != nil {
			return err
		}
		return trainCharLM(ctx, cfg, log)
	})
}

func openRecogniser(model, w, c string) (predictor, error) {
	var m ctc.Acoustic
	var err error
	if model == asr.Architecture {
		m, err = asr.Open(w, c)
	} else {
		var wm *wav2vec2.Model
		if wm, err = wav2vec2.Open(w, c); err == nil && wm.Labels() == nil {
			err = fmt.Errorf("%s: the model has no CTC head (aux_num_out is null), so nothing to transcribe", w)
		}
		m = wm
	}
	if err != nil {
		return nil, err
	}
	return &recognisePredictor{m: m}, nil
}

// recognisePredictor transcribes WAV files (any rate: resampled to the model's) and
// .npy waveforms at the model's rate ([T] or a batch [B, T]), long ones in 20 s windows
// with 2 s overlap. It decodes greedily, or by beam search with a character LM given as
// the named input lm=FILE.charlm. --raw prints the emissions as "emissions" (one input)
// or "emissions.I" (waveform I).
type recognisePredictor struct{ m ctc.Acoustic }

func (p *recognisePredictor) Close() error { return nil }

func (p *recognisePredictor) Predict(ctx context.Context, in []predictInput, opt predictOptions) (*predictResult, error) {
	rate := p.m.SampleRate()
	dopt := ctc.Options{FrameSeconds: float64(p.m.FrameSamples()) / float64(rate)}
	res := &predictResult{Raw: map[string]rawOutput{}}
	var wavs [][]float32
	var idx []int
	for _, x := range in {
		if x.Name == "lm" {
			lm, err := ctc.ReadCharLM(bytes.NewReader(x.Data))
			if err != nil {
				return nil, fmt.Errorf("lm %s: %w", x.Path, err)
			}
			dopt.Method, dopt.LM, dopt.LMWeight = ctc.Beam, lm, 0.5
			continue
		}
		it := predictItem{Input: x.Path}
		var ws [][]float32
		switch {
		case x.Tensors != nil:
			for _, t := range x.Tensors {
				s := t.Shape()
				if len(s) != 1 && len(s) != 2 || s[len(s)-1] < 1 {
					it.Err = fmt.Errorf("waveform tensor of shape %v: want [samples] or [batch, samples] at %d Hz", s, rate)
					break
				}
				d := t.ToFloat32().Contiguous().Float32s()
				n := s[len(s)-1]
				for b := 0; b < len(d)/n; b++ {
					ws = append(ws, d[b*n:(b+1)*n])
				}
			}
		default:
			a, err := media.DecodeWAV(bytes.NewReader(x.Data), opt.Limits)
			if err != nil {
				it.Err = err
				break
			}
			w := a.Mono()
			if a.Rate != rate {
				if w, err = speech.Resample(w, a.Rate, rate); err != nil {
					it.Err = err
					break
				}
			}
			if len(w) == 0 {
				it.Err = errors.New("the recording is empty")
				break
			}
			ws = [][]float32{w}
		}
		for _, w := range ws {
			wavs = append(wavs, w)
			idx = append(idx, len(res.Items))
		}
		res.Items = append(res.Items, it)
	}
	ropt := ctc.DefaultRunOptions()
	if err := applyRecogniserOpts(opt.Opts, &dopt, &ropt); err != nil {
		return nil, err
	}
	dec, err := ctc.NewDecoder(p.m.Labels(), dopt)
	if err != nil {
		return nil, err
	}
	if len(wavs) == 0 {
		return res, nil
	}
	em, err := ctc.Run(ctx, p.m, wavs, ropt)
	if err != nil {
		return nil, err
	}
	for j, e := range em {
		it := &res.Items[idx[j]]
		if e.Err != nil {
			it.Err = e.Err
			continue
		}
		key := "emissions"
		if len(em) > 1 {
			key = fmt.Sprintf("emissions.%d", j)
		}
		res.Raw[key] = rawOutput{Shape: []int{e.Frames, len(p.m.Labels())}, Data: e.Scores}
		r, err := dec.Decode(e.Scores, e.Frames)
		if err != nil {
			it.Err = err
			continue
		}
		if it.Text != "" {
			it.Text += "\n"
		}
		it.Text += formatTranscript(r)
	}
	return res, nil
}

// applyRecogniserOpts reads predict's --opt settings into the decoder and window options.
func applyRecogniserOpts(set map[string]string, d *ctc.Options, r *ctc.RunOptions) error {
	num := func(k string, dst *float64) error {
		v, err := strconv.ParseFloat(set[k], 64)
		if err != nil {
			return fmt.Errorf("--opt %s=%s: want a number", k, set[k])
		}
		*dst = v
		return nil
	}
	for _, k := range slices.Sorted(maps.Keys(set)) {
		var err error
		switch k {
		case "decoder":
			if set[k] != ctc.Greedy && set[k] != ctc.Beam {
				return fmt.Errorf("--opt decoder=%s: want %s or %s", set[k], ctc.Greedy, ctc.Beam)
			}
			d.Method = set[k]
		case "beam_width":
			var n int
			if n, err = strconv.Atoi(set[k]); err != nil || n < 1 {
				return fmt.Errorf("--opt beam_width=%s: want a positive integer", set[k])
			}
			d.BeamWidth = n
		case "lm":
			f, err := os.Open(set[k])
			if err != nil {
				return fmt.Errorf("--opt lm: %w", err)
			}
			lm, err := ctc.ReadCharLM(f)
			f.Close()
			if err != nil {
				return fmt.Errorf("--opt lm %s: %w", set[k], err)
			}
			d.Method, d.LM = ctc.Beam, lm
			if _, ok := set["lm_weight"]; !ok {
				d.LMWeight = 0.5
			}
		case "lm_weight":
			err = num(k, &d.LMWeight)
		case "word_bonus":
			err = num(k, &d.WordBonus)
		case "chunk_seconds":
			err = num(k, &r.ChunkSeconds)
		case "overlap_seconds":
			err = num(k, &r.OverlapSeconds)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// formatTranscript writes the transcript, then one line a word: start and end in
// seconds, the word, its confidence.
func formatTranscript(r ctc.Result) string {
	var b strings.Builder
	b.WriteString(r.Text)
	if r.Text == "" {
		b.WriteString("(no speech)")
	}
	for _, w := range r.Words {
		fmt.Fprintf(&b, "\n  %7.2f %7.2f  %-16s %.2f", w.Start, w.End, w.Word, w.Confidence)
	}
	return b.String()
}

// charLMKind is the `plexus train` kind that builds a character n-gram LM for the CTC
// beam decoder from a text file.
const charLMKind = "ctc.charlm"

// charLMConfig is the YAML of kind ctc.charlm:
//
//	kind: ctc.charlm
//	text: data/sentences.txt   # one sentence a line; or a list of files
//	order: 6                   # n-gram order (1..16), default 6
//	case: lower                # lower, upper or keep: match the recogniser's labels
//	eval: data/heldout.txt     # optional: report bits per character on held-out text
//	output: models/digits.charlm
type charLMConfig struct {
	Kind   string    `yaml:"kind"`
	Text   yamlPaths `yaml:"text"`
	Order  int       `yaml:"order"`
	Case   string    `yaml:"case"`
	Eval   string    `yaml:"eval"`
	Output string    `yaml:"output"`
}

// yamlPaths is a path or a list of paths.
type yamlPaths []string

func (p *yamlPaths) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*p = yamlPaths{n.Value}
		return nil
	}
	var l []string
	if err := n.Decode(&l); err != nil {
		return err
	}
	*p = l
	return nil
}

func parseCharLMConfig(file string, data []byte) (*charLMConfig, error) {
	c := &charLMConfig{Order: 6}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if c.Case == "keep" {
		c.Case = ""
	}
	switch {
	case c.Kind != charLMKind:
		return nil, fmt.Errorf("%s: kind %q, want %s", file, c.Kind, charLMKind)
	case len(c.Text) == 0 || c.Output == "":
		return nil, fmt.Errorf("%s: text and output are required", file)
	case c.Order < 1 || c.Order > ctc.MaxOrder:
		return nil, fmt.Errorf("%s: order %d is outside 1..%d", file, c.Order, ctc.MaxOrder)
	case c.Case != "" && c.Case != "lower" && c.Case != "upper":
		return nil, fmt.Errorf("%s: case %q, want lower, upper or keep", file, c.Case)
	}
	return c, nil
}

// trainCharLM counts the n-grams of the text files, writes the model, and reports its
// size and, with eval, its bits per character on held-out text.
func trainCharLM(_ context.Context, c *charLMConfig, log io.Writer) error {
	start := time.Now()
	var rs []io.Reader
	for _, p := range c.Text {
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("ctc.charlm: %w", err)
		}
		defer f.Close()
		// A file without a final newline must not run into the next one's first line.
		rs = append(rs, f, strings.NewReader("\n"))
	}
	lm, err := ctc.TrainCharLM(io.MultiReader(rs...), c.Order, ctc.CharLMOptions{Case: c.Case})
	if err != nil {
		return fmt.Errorf("ctc.charlm %s: %w", strings.Join(c.Text, ", "), err)
	}
	if err := lm.Save(c.Output); err != nil {
		return err
	}
	voc := lm.Vocabulary()
	fmt.Fprintf(log, "ctc.charlm: order %d, %d symbols %q, %d n-grams → %s (%.1fs)\n",
		lm.Order(), len(voc)-2, string(voc[:len(voc)-2]), lm.NGrams(), c.Output, time.Since(start).Seconds())
	if c.Eval != "" {
		b, err := os.ReadFile(c.Eval)
		if err != nil {
			return fmt.Errorf("ctc.charlm eval: %w", err)
		}
		bits, n := lm.BitsPerChar(bytes.NewReader(b), ctc.CharLMOptions{Case: c.Case})
		fmt.Fprintf(log, "ctc.charlm: %s: %.3f bits per character over %d characters (sentence ends included)\n", c.Eval, bits, n)
	}
	return nil
}
