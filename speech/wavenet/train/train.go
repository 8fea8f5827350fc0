// Package train trains a WaveNet vocoder (speech/wavenet) with gorgonia: a graph over
// random crops of a speech corpus, mu-law targets, log-mel conditioning, Adam, and
// checkpoints in the reference layout that resume by themselves. It is `plexus train`'s
// kind speech.wavenet.
package train

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"gopkg.in/yaml.v3"
	"gorgonia.org/gorgonia"

	"github.com/plexusml/plexus/core/kernels"
	"github.com/plexusml/plexus/core/kernels/blas"
	"github.com/plexusml/plexus/core/nn/weights"
	"github.com/plexusml/plexus/internal/trainckpt"
	"github.com/plexusml/plexus/speech/wavenet"
)

// Kind is the `kind:` of a training config.
const Kind = "speech.wavenet"

// Files in the output folder.
const (
	CheckpointFile = trainckpt.CheckpointFile // reference names, loadable by speech/wavenet
	ConfigFile     = trainckpt.ConfigFile
	OptimizerFile  = trainckpt.OptimizerFile // Adam moments
	StateFile      = trainckpt.StateFile
	LogFile        = "train.log"
)

// Config is a training config (configs/train/wavenet.yaml).
type Config struct {
	Kind   string         `json:"kind"`
	Output string         `json:"output"`
	Data   DataConfig     `json:"data"`
	Model  wavenet.Config `json:"model"`
	Train  Hyper          `json:"train"`
	Eval   EvalConfig     `json:"eval"`
}

// DataConfig names the corpus manifests (tools/speechcorpus).
type DataConfig struct {
	Train string `json:"train"`
	Test  string `json:"test"`
}

// Hyper are the optimisation settings.
type Hyper struct {
	Batch           int     `json:"batch"`
	CropFrames      int     `json:"crop_frames"`
	LR              float64 `json:"lr"`
	ClipNorm        float64 `json:"clip_norm"`
	Steps           int     `json:"steps"`
	MaxMinutes      float64 `json:"max_minutes"` // per run; zero means no limit
	Seed            uint64  `json:"seed"`
	CheckpointEvery int     `json:"checkpoint_every"`
	LogEvery        int     `json:"log_every"`
	Threads         int     `json:"threads"`
}

// EvalConfig is the held-out evaluation run when training stops.
type EvalConfig struct {
	Utterances  int     `json:"utterances"`
	Seconds     float64 `json:"seconds"`
	Samples     string  `json:"samples"` // folder for WAVs; empty: none
	Temperature float32 `json:"temperature"`
	GriffinLim  int     `json:"griffin_lim_iters"`
}

// ParseConfig decodes a YAML config strictly (unknown keys are errors).
func ParseConfig(file string, data []byte) (*Config, error) {
	var raw any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	j, err := json.Marshal(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	c := &Config{Train: Hyper{Batch: 2, CropFrames: 25, LR: 1e-3, ClipNorm: 10, Steps: 100000, Seed: 1,
		CheckpointEvery: 100, LogEvery: 10, Threads: 1}, Eval: EvalConfig{Utterances: 6, Seconds: 2, Temperature: 1, GriffinLim: 32}}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if c.Kind != Kind {
		return nil, fmt.Errorf("%s: kind %q, want %s", file, c.Kind, Kind)
	}
	if err := c.Model.Validate(); err != nil {
		return nil, fmt.Errorf("%s: model: %w", file, err)
	}
	if c.Output == "" || c.Data.Train == "" {
		return nil, fmt.Errorf("%s: output and data.train are required", file)
	}
	if c.Train.Batch < 1 || c.Train.CropFrames < 1 || c.Train.LR <= 0 {
		return nil, fmt.Errorf("%s: train: batch %d, crop_frames %d, lr %g", file, c.Train.Batch, c.Train.CropFrames, c.Train.LR)
	}
	return c, nil
}

// state is state.json: where training stands.
type state struct {
	Step     int       `json:"step"`
	Elapsed  float64   `json:"elapsed_seconds"`
	Losses   []float64 `json:"loss_log"` // mean loss per log interval
	RNG      []byte    `json:"rng"`
	Finished bool      `json:"finished,omitempty"`
}

// Run trains, resuming from the output folder when it holds a checkpoint, until the
// step budget or max_minutes is reached or ctx is cancelled; it then checkpoints and
// evaluates on the held-out manifest.
func Run(ctx context.Context, cfg *Config, log io.Writer) error {
	h := cfg.Train
	if h.Threads > 0 {
		// The kernels pool is sized at first use; start it with two workers (its GEMM
		// packs only part of B with a single one), then hold the run to Threads.
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
	corpus, err := loadCorpus(cfg.Data.Train, mc, 0)
	if err != nil {
		return err
	}
	var secs float64
	for _, u := range corpus {
		secs += float64(len(u.audio)) / float64(mc.Audio.SampleRate)
	}
	fmt.Fprintf(log, "corpus %s: %d utterances, %.1f s; receptive field %d samples\n", cfg.Data.Train, len(corpus), secs, mc.ReceptiveField())
	T := h.CropFrames * mc.Hop()
	nt, err := buildNet(mc, h.Batch, T, rand.New(rand.NewPCG(h.Seed, 1)))
	if err != nil {
		return err
	}
	opt := &Adam{LR: h.LR, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, ClipNorm: h.ClipNorm}
	st := &state{}
	pcg := rand.NewPCG(h.Seed, 2)
	if ok, err := loadCheckpoint(cfg.Output, nt, opt, st, pcg); err != nil {
		return err
	} else if ok {
		fmt.Fprintf(log, "resumed at step %d (%.0f s trained)\n", st.Step, st.Elapsed)
	}
	rng := rand.New(pcg)
	// The upsampling kernels are fixed (averaging) in training, so one model built
	// from the initial export serves every batch's conditioning.
	up, err := toModel(nt)
	if err != nil {
		return err
	}
	start := time.Now()
	base := st.Elapsed
	var acc float64
	var n, ran int
	save := func() error {
		st.Elapsed = base + time.Since(start).Seconds()
		return saveCheckpoint(cfg, nt, opt, st, pcg)
	}
	for st.Step < h.Steps {
		if ctx.Err() != nil || (h.MaxMinutes > 0 && time.Since(start).Minutes() >= h.MaxMinutes) {
			break
		}
		fillBatch(nt, corpus, up, rng)
		loss, err := nt.step()
		if err != nil {
			return fmt.Errorf("step %d: %w", st.Step, err)
		}
		gn, err := opt.Update(nt.params)
		if err != nil {
			return err
		}
		st.Step++
		ran++
		acc += loss
		n++
		if st.Step%h.LogEvery == 0 {
			st.Losses = append(st.Losses, acc/float64(n))
			fmt.Fprintf(log, "step %d loss %.4f grad-norm %.2f %.1f s/step elapsed %.0f s\n", st.Step, acc/float64(n), gn,
				time.Since(start).Seconds()/float64(ran), base+time.Since(start).Seconds())
			acc, n = 0, 0
		}
		if st.Step%h.CheckpointEvery == 0 {
			if err := save(); err != nil {
				return err
			}
		}
	}
	st.Finished = st.Step >= h.Steps
	if err := save(); err != nil {
		return err
	}
	fmt.Fprintf(log, "checkpoint at step %d in %s\n", st.Step, cfg.Output)
	if cfg.Data.Test == "" || cfg.Eval.Utterances == 0 {
		return ctx.Err()
	}
	m, err := toModel(nt)
	if err != nil {
		return err
	}
	rep, err := Evaluate(context.WithoutCancel(ctx), m, cfg.Data.Test, cfg.Eval, log)
	if err != nil {
		return err
	}
	b, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.WriteFile(filepath.Join(cfg.Output, "eval.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	return ctx.Err()
}

// toModel builds the inference model from the current parameters.
func toModel(nt *net) (*wavenet.Model, error) {
	return wavenet.New(weights.NewBinder(weights.NewMapStore("training", nt.stateDict()), weights.CopyData()), nt.cfg)
}

func saveCheckpoint(cfg *Config, nt *net, opt *Adam, st *state, pcg *rand.PCG) error {
	rngState, err := pcg.MarshalBinary()
	if err != nil {
		return err
	}
	st.RNG = rngState
	meta := map[string]string{"step": fmt.Sprint(st.Step), "kind": Kind}
	modelCfg := cfg.Model
	modelCfg.Architecture = "wavenet"
	return trainckpt.Save(cfg.Output, nt.stateDict(), meta, ckptParams(nt.params), trainckpt.Adam{M: opt.M, V: opt.V, Step: opt.Step}, modelCfg, st)
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
func loadCheckpoint(dir string, nt *net, opt *Adam, st *state, pcg *rand.PCG) (bool, error) {
	if ok, err := trainckpt.LoadState(dir, st); !ok || err != nil {
		return false, err
	}
	if err := pcg.UnmarshalBinary(st.RNG); err != nil {
		return false, fmt.Errorf("%s: rng: %w", filepath.Join(dir, StateFile), err)
	}
	if err := trainckpt.LoadWeights(dir, nt.loadStateDict); err != nil {
		return false, err
	}
	a, err := trainckpt.LoadAdam(dir, ckptParams(nt.params))
	if err != nil {
		return false, err
	}
	opt.M, opt.V, opt.Step = a.M, a.V, a.Step
	return true, nil
}
