// Package train trains the compact speech recogniser (speech/asr) with gorgonia: a
// Transformer-CTC graph per length bucket over one shared parameter set, SpecAugment,
// Adam with warm-up, and checkpoints in the inference model's names that resume by
// themselves. It is `plexus train`'s kind speech.ctc.
package train

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
	"gorgonia.org/gorgonia"

	"github.com/plexusml/plexus/core/kernels"
	"github.com/plexusml/plexus/core/kernels/blas"
	"github.com/plexusml/plexus/internal/trainckpt"
	"github.com/plexusml/plexus/speech/asr"
)

// Kind is the `kind:` of a training config.
const Kind = "speech.ctc"

// Files in the output folder.
const (
	CheckpointFile = trainckpt.CheckpointFile // reference names, loadable by speech/asr
	ConfigFile     = trainckpt.ConfigFile
	OptimizerFile  = trainckpt.OptimizerFile // Adam moments
	StateFile      = trainckpt.StateFile
	LogFile        = "train.log"
	EvalFile       = "eval.json"
)

// Config is a training config (configs/train/speech-ctc.yaml).
type Config struct {
	Kind   string     `yaml:"kind"`
	Output string     `yaml:"output"`
	Data   DataConfig `yaml:"data"`
	Model  asr.Config `yaml:"model"`
	Train  Hyper      `yaml:"train"`
	Eval   EvalConfig `yaml:"eval"`
}

// DataConfig names the corpus manifests (tools/speechcorpus).
type DataConfig struct {
	Train string `yaml:"train"`
	Test  string `yaml:"test"`
	// DigitsFraction is the share of digit strings among the drawn utterances.
	DigitsFraction float64 `yaml:"digits_fraction"`
}

// Hyper are the optimisation settings.
type Hyper struct {
	// Buckets are the padded lengths (log-mel frames) of the batch shapes; each gets a
	// batch of BatchFrames / bucket utterances.
	Buckets     []int   `yaml:"buckets"`
	BatchFrames int     `yaml:"batch_frames"`
	LR          float64 `yaml:"lr"`
	Warmup      int     `yaml:"warmup"` // steps of linear warm-up, then lr·sqrt(warmup/step)
	MinLR       float64 `yaml:"min_lr"`
	Beta2       float64 `yaml:"beta2"`
	ClipNorm    float64 `yaml:"clip_norm"`
	Steps       int     `yaml:"steps"`
	MaxMinutes  float64 `yaml:"max_minutes"` // per run; zero means no limit
	Seed        uint64  `yaml:"seed"`
	// CheckpointEvery, LogEvery and EvalEvery are in steps.
	CheckpointEvery int         `yaml:"checkpoint_every"`
	LogEvery        int         `yaml:"log_every"`
	EvalEvery       int         `yaml:"eval_every"`
	Threads         int         `yaml:"threads"`
	Dropout         float64     `yaml:"dropout"`
	SpecAugment     SpecAugment `yaml:"spec_augment"`
}

// EvalConfig is the held-out evaluation (every EvalEvery steps and at the end).
type EvalConfig struct {
	Batch    int `yaml:"batch"`
	Examples int `yaml:"examples"`
	// Utterances limits the periodic evaluations (0: all); the final one uses all.
	Utterances int `yaml:"utterances"`
}

// ParseConfig decodes a YAML config strictly: unknown keys and bad values are errors
// that name the file and line.
func ParseConfig(file string, data []byte) (*Config, error) {
	c := &Config{
		Model: asr.DefaultConfig(),
		Data:  DataConfig{DigitsFraction: 0.7},
		Train: Hyper{Buckets: []int{160, 240, 320, 448}, BatchFrames: 6400, LR: 1e-3, Warmup: 500, MinLR: 1e-5, Beta2: 0.98,
			ClipNorm: 5, Steps: 100000, Seed: 1, CheckpointEvery: 100, LogEvery: 10, EvalEvery: 500, Threads: 0,
			SpecAugment: SpecAugment{FreqMasks: 2, FreqWidth: 15, TimeMasks: 2, TimeWidth: 20, TimeRatio: 0.05}},
		Eval: EvalConfig{Batch: 16, Examples: 8},
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			// "line 6: field lrr not found in type train.Hyper" → "FILE:6: field lrr …"
			msgs := make([]string, len(te.Errors))
			for i, m := range te.Errors {
				var line int
				if _, e := fmt.Sscanf(m, "line %d:", &line); e == nil {
					m = fmt.Sprintf("%s:%d:%s", file, line, m[strings.Index(m, ":")+1:])
				} else {
					m = file + ": " + m
				}
				msgs[i] = m
			}
			return nil, errors.New(strings.Join(msgs, "; "))
		}
		return nil, fmt.Errorf("%s: %s", file, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	bad := func(path, format string, a ...any) error {
		return fmt.Errorf("%s:%d: %s: %s", file, lineOf(&root, strings.Split(path, ".")...), path, fmt.Sprintf(format, a...))
	}
	if c.Kind != Kind {
		return nil, bad("kind", "%q, want %s", c.Kind, Kind)
	}
	if err := c.Model.Validate(); err != nil {
		return nil, bad("model", "%v", err)
	}
	h := c.Train
	switch {
	case c.Output == "":
		return nil, bad("output", "required")
	case c.Data.Train == "":
		return nil, bad("data.train", "required")
	case c.Data.DigitsFraction < 0 || c.Data.DigitsFraction > 1:
		return nil, bad("data.digits_fraction", "%g is not in [0, 1]", c.Data.DigitsFraction)
	case len(h.Buckets) == 0:
		return nil, bad("train.buckets", "at least one")
	case h.BatchFrames < 1:
		return nil, bad("train.batch_frames", "%d, want at least 1", h.BatchFrames)
	case !(h.LR > 0) || h.MinLR < 0 || h.Warmup < 0:
		return nil, bad("train.lr", "lr %g, min_lr %g, warmup %d", h.LR, h.MinLR, h.Warmup)
	case !(h.Beta2 > 0 && h.Beta2 < 1):
		return nil, bad("train.beta2", "%g is not in (0, 1)", h.Beta2)
	case h.Dropout < 0 || h.Dropout >= 1:
		return nil, bad("train.dropout", "%g is not in [0, 1)", h.Dropout)
	case h.Steps < 0 || h.MaxMinutes < 0 || h.ClipNorm < 0 || h.Threads < 0:
		return nil, bad("train", "steps %d, max_minutes %g, clip_norm %g, threads %d", h.Steps, h.MaxMinutes, h.ClipNorm, h.Threads)
	case h.CheckpointEvery < 1 || h.LogEvery < 1 || h.EvalEvery < 0:
		return nil, bad("train.checkpoint_every", "checkpoint_every %d, log_every %d, eval_every %d", h.CheckpointEvery, h.LogEvery, h.EvalEvery)
	case c.Eval.Batch < 1 || c.Eval.Examples < 0 || c.Eval.Utterances < 0:
		return nil, bad("eval", "batch %d, examples %d, utterances %d", c.Eval.Batch, c.Eval.Examples, c.Eval.Utterances)
	}
	for _, b := range h.Buckets {
		if b < 4 || b > 100000 {
			return nil, bad("train.buckets", "%d frames, want 4 to 100000", b)
		}
	}
	a := h.SpecAugment
	if a.Warp < 0 || a.Warp >= 1 || a.FreqMasks < 0 || a.FreqWidth < 0 || a.TimeMasks < 0 || a.TimeWidth < 0 || a.TimeRatio < 0 || a.TimeRatio > 1 {
		return nil, bad("train.spec_augment", "%+v", a)
	}
	return c, nil
}

// lineOf finds the line of a key path in a YAML document (the document's first line
// when the key is absent).
func lineOf(root *yaml.Node, path ...string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := max(n.Line, 1)
	for _, k := range path {
		if n.Kind != yaml.MappingNode {
			return line
		}
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				line, n, found = n.Content[i].Line, n.Content[i+1], true
				break
			}
		}
		if !found {
			return line
		}
	}
	return line
}

// state is state.json: where training stands.
type state struct {
	Step     int       `json:"step"`
	Elapsed  float64   `json:"elapsed_seconds"`
	Losses   []float64 `json:"loss_log"` // mean loss per log interval
	RNG      []byte    `json:"rng"`
	Finished bool      `json:"finished,omitempty"`
}

// lr is the learning rate at a step (1-based): linear warm-up, then inverse square
// root decay, floored at MinLR.
func (h Hyper) lr(step int) float64 {
	if h.Warmup > 0 && step <= h.Warmup {
		return h.LR * float64(step) / float64(h.Warmup)
	}
	r := h.LR
	if h.Warmup > 0 {
		r = h.LR * math.Sqrt(float64(h.Warmup)/float64(step))
	}
	return max(r, h.MinLR)
}

// Run trains, resuming from the output folder when it holds a checkpoint, until the
// step budget or max_minutes is reached or ctx is cancelled; it then checkpoints and
// evaluates on the held-out manifest.
func Run(ctx context.Context, cfg *Config, log io.Writer) error {
	h := cfg.Train
	if h.Threads > 0 {
		runtime.GOMAXPROCS(max(2, h.Threads))
		kernels.Workers()
		runtime.GOMAXPROCS(h.Threads)
	}
	gorgonia.Use(blas.Implementation{})
	if err := os.MkdirAll(cfg.Output, 0o755); err != nil {
		return err
	}
	lf, err := os.OpenFile(filepath.Join(cfg.Output, LogFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer lf.Close()
	log = io.MultiWriter(log, lf)
	mc := cfg.Model
	t0 := time.Now()
	corpus, err := loadCorpus(cfg.Data.Train, mc)
	if err != nil {
		return err
	}
	var test []*utterance
	if cfg.Data.Test != "" {
		if test, err = loadCorpus(cfg.Data.Test, mc); err != nil {
			return err
		}
	}
	smp, dropped, err := newSampler(corpus, append([]int(nil), h.Buckets...), h.BatchFrames, cfg.Data.DigitsFraction)
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.Data.Train, err)
	}
	fmt.Fprintf(log, "corpus %s: %d utterances (%d longer than the largest bucket, dropped), test %d; loaded in %.0f s\n",
		cfg.Data.Train, len(corpus), dropped, len(test), time.Since(t0).Seconds())
	ps := newParams(mc, rand.New(rand.NewPCG(h.Seed, 1)))
	n := 0
	for _, p := range ps.list {
		n += len(p.data)
	}
	for _, b := range smp.buckets {
		if b.net, err = buildNet(ps, b.batch, b.cap, h.Dropout); err != nil {
			return err
		}
		fmt.Fprintf(log, "bucket %d frames: batch %d, %d utterances\n", b.cap, b.batch, len(b.items))
	}
	fmt.Fprintf(log, "model: %d layers, d_model %d, %d parameters\n", mc.Layers, mc.DModel, n)
	opt := &Adam{Beta1: 0.9, Beta2: h.Beta2, Eps: 1e-9, ClipNorm: h.ClipNorm}
	st := &state{}
	pcg := rand.NewPCG(h.Seed, 2)
	if ok, err := loadCheckpoint(cfg.Output, ps, opt, st, pcg); err != nil {
		return err
	} else if ok {
		fmt.Fprintf(log, "resumed at step %d (%.0f s trained)\n", st.Step, st.Elapsed)
	}
	rng := rand.New(pcg)
	start := time.Now()
	base := st.Elapsed
	var acc float64
	var cnt, ran, bad, nonFinite int
	var scratch []float32
	save := func() error {
		st.Elapsed = base + time.Since(start).Seconds()
		return saveCheckpoint(cfg, ps, opt, st, pcg)
	}
	evaluate := func(limit int) (*Report, error) {
		m, err := ps.model()
		if err != nil {
			return nil, err
		}
		sub := test
		if limit > 0 && limit < len(test) {
			// An even spread over the split, so every set is represented.
			sub = nil
			for i := 0; i < limit; i++ {
				sub = append(sub, test[i*len(test)/limit])
			}
		}
		rep, err := Evaluate(m, sub, cfg.Eval.Batch, cfg.Eval.Examples)
		if err != nil {
			return nil, err
		}
		rep.Step = st.Step
		return rep, nil
	}
	for st.Step < h.Steps {
		if ctx.Err() != nil || (h.MaxMinutes > 0 && time.Since(start).Minutes() >= h.MaxMinutes) {
			break
		}
		b, us := smp.next(rng)
		b.net.fill(us, &h.SpecAugment, rng, &scratch)
		b.net.rng = rng
		loss, err := b.net.step()
		if err != nil {
			return fmt.Errorf("step %d: %w", st.Step, err)
		}
		bad += b.net.stats.infeasible
		grads, err := b.net.grads()
		if err != nil {
			return err
		}
		opt.LR = h.lr(st.Step + 1)
		gn, err := opt.Update(ps, grads)
		if err != nil {
			return err
		}
		if math.IsNaN(loss) || math.IsNaN(gn) || math.IsInf(gn, 0) {
			// Adam skipped the update; a run of them means the model has diverged.
			nonFinite++
			fmt.Fprintf(log, "step %d: loss %g, gradient norm %g: update skipped\n", st.Step, loss, gn)
			if nonFinite == 20 {
				return fmt.Errorf("step %d: 20 non-finite steps in a row", st.Step)
			}
			continue
		}
		nonFinite = 0
		st.Step++
		ran++
		acc += loss
		cnt++
		if st.Step%h.LogEvery == 0 {
			st.Losses = append(st.Losses, acc/float64(cnt))
			fmt.Fprintf(log, "step %d loss %.4f grad-norm %.2f lr %.2e bucket %d infeasible %d %.2f s/step elapsed %.0f s\n",
				st.Step, acc/float64(cnt), gn, opt.LR, b.cap, bad, time.Since(start).Seconds()/float64(ran), base+time.Since(start).Seconds())
			if st.Step%(5*h.LogEvery) == 0 {
				C := len(mc.Labels)
				fmt.Fprintf(log, "  sample %s: %q -> %q\n", us[0].id, us[0].text, Greedy(b.net.logitsOut[:b.net.lens[0]*C], mc.Labels))
			}
			acc, cnt, bad = 0, 0, 0
		}
		if st.Step%h.CheckpointEvery == 0 {
			if err := save(); err != nil {
				return err
			}
		}
		if h.EvalEvery > 0 && st.Step%h.EvalEvery == 0 && len(test) > 0 {
			rep, err := evaluate(cfg.Eval.Utterances)
			if err != nil {
				return err
			}
			rep.print(log)
		}
	}
	st.Finished = st.Step >= h.Steps
	if err := save(); err != nil {
		return err
	}
	fmt.Fprintf(log, "checkpoint at step %d in %s\n", st.Step, cfg.Output)
	if len(test) == 0 {
		return ctx.Err()
	}
	rep, err := evaluate(0)
	if err != nil {
		return err
	}
	rep.print(log)
	b, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.WriteFile(filepath.Join(cfg.Output, EvalFile), append(b, '\n'), 0o644); err != nil {
		return err
	}
	return ctx.Err()
}

func saveCheckpoint(cfg *Config, ps *params, opt *Adam, st *state, pcg *rand.PCG) error {
	rngState, err := pcg.MarshalBinary()
	if err != nil {
		return err
	}
	st.RNG = rngState
	meta := map[string]string{"step": fmt.Sprint(st.Step), "kind": Kind}
	modelCfg := cfg.Model
	return trainckpt.Save(cfg.Output, ps.stateDict(), meta, ckptParams(ps.list), trainckpt.Adam{M: opt.M, V: opt.V, Step: opt.Step}, modelCfg, st)
}

// ckptParams lists the parameters in the order of the optimiser's moments.
func ckptParams(list []*param) []trainckpt.Param {
	out := make([]trainckpt.Param, len(list))
	for i, p := range list {
		out[i] = trainckpt.Param{Name: p.name, Size: len(p.data)}
	}
	return out
}

// loadCheckpoint restores parameters, Adam moments, the state and the data RNG.
func loadCheckpoint(dir string, ps *params, opt *Adam, st *state, pcg *rand.PCG) (bool, error) {
	if ok, err := trainckpt.LoadState(dir, st); !ok || err != nil {
		return false, err
	}
	if err := pcg.UnmarshalBinary(st.RNG); err != nil {
		return false, fmt.Errorf("%s: rng: %w", filepath.Join(dir, StateFile), err)
	}
	if err := trainckpt.LoadWeights(dir, ps.loadStateDict); err != nil {
		return false, err
	}
	a, err := trainckpt.LoadAdam(dir, ckptParams(ps.list))
	if err != nil {
		return false, err
	}
	opt.M, opt.V, opt.Step = a.M, a.V, a.Step
	return true, nil
}
