package train

import (
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
	"time"

	"gorgonia.org/gorgonia"

	"github.com/plexusml/plexus/core/kernels"
	"github.com/plexusml/plexus/core/kernels/blas"
	"github.com/plexusml/plexus/core/nn/weights"
	"github.com/plexusml/plexus/core/tensor"
	"github.com/plexusml/plexus/nlp/lstm"
	"github.com/plexusml/plexus/nlp/tokenize"
)

// Files written in the output folder. checkpoint.safetensors (a PyTorch state dict),
// optimizer.safetensors (Adam's moments and the carried LSTM state) and state.json
// resume a run; model.safetensors is the model with the best held-out loss so far, and
// config.json (architecture, sizes, tokenizer vocabulary) describes both.
const (
	CheckpointFile = "checkpoint.safetensors"
	OptimizerFile  = "optimizer.safetensors"
	StateFile      = "state.json"
	ConfigFile     = "config.json"
	ModelFile      = "model.safetensors"
)

// state is what state.json records: where training stands. The data position follows
// from Step (epoch and window); RNG is the dropout generator's state.
type state struct {
	Step      int       `json:"step"`
	Total     int       `json:"total_steps"`
	PerEpoch  int       `json:"steps_per_epoch"`
	RNG       []byte    `json:"rng"`
	Elapsed   float64   `json:"elapsed_seconds"` // training wall time over every run so far
	BestBPC   float64   `json:"best_heldout_bpc,omitempty"`
	BestStep  int       `json:"best_step,omitempty"`
	History   []evalRow `json:"evals,omitempty"`
	Finished  bool      `json:"finished,omitempty"`
	TrainToks int       `json:"train_tokens"`
	HeldToks  int       `json:"heldout_tokens"`
}

type evalRow struct {
	Step    int     `json:"step"`
	BPC     float64 `json:"heldout_bpc"`
	Elapsed float64 `json:"elapsed_seconds"`
}

// Result is what a finished (or interrupted) run reports.
type Result struct {
	BestBPC  float64 // held-out bits per token of the best model
	BestStep int
	Steps    int
	Elapsed  time.Duration
}

// Run trains as cfg says, resuming from the output folder when it holds a checkpoint,
// and logs progress to log. Cancelling ctx writes a checkpoint and returns ctx.Err().
func Run(ctx context.Context, cfg *Config, log io.Writer) (Result, error) {
	h := cfg.Train
	if h.Threads > 0 {
		// core/kernels sizes its worker pool at first use; start it with at least two
		// workers (its GEMM needs them, see vision/train) and then limit GOMAXPROCS.
		runtime.GOMAXPROCS(max(2, h.Threads))
		kernels.Workers()
		runtime.GOMAXPROCS(h.Threads)
	}
	gorgonia.Use(blas.Implementation{})
	if err := os.MkdirAll(cfg.Output, 0o755); err != nil {
		return Result{}, err
	}
	files, err := dataFiles(cfg.Data)
	if err != nil {
		return Result{}, err
	}
	text, err := readFortunes(files, cfg.Data.HoldoutEvery)
	if err != nil {
		return Result{}, err
	}
	tok, spec, err := makeTokenizer(cfg, text.train)
	if err != nil {
		return Result{}, err
	}
	trainIDs, err := tok.Encode(text.train)
	if err != nil {
		return Result{}, fmt.Errorf("training text: %w", err)
	}
	heldIDs, err := tok.Encode(text.heldOut)
	if err != nil {
		return Result{}, fmt.Errorf("held-out text: %w", err)
	}
	m := cfg.Model
	V := tok.VocabSize()
	mcfg := &lstm.Config{Architecture: lstm.Architecture, VocabSize: V, EmbeddingSize: m.Embedding,
		HiddenSize: m.Hidden, OutputSize: V, NumLayers: m.Layers, Dropout: m.Dropout, Tokenizer: spec, StartText: Separator}

	dropPCG := rand.NewPCG(h.Seed, 2)
	nt, err := buildNet(V, m.Embedding, m.Hidden, m.Layers, h.BatchSize, h.BPTT, m.Dropout,
		rand.New(rand.NewPCG(h.Seed, 1)), rand.New(dropPCG))
	if err != nil {
		return Result{}, fmt.Errorf("build graph: %w", err)
	}
	opt := &Adam{Beta1: h.Beta1, Beta2: h.Beta2, Eps: h.Eps, WeightDecay: h.WeightDecay, Clip: h.Clip}
	for _, p := range nt.params {
		opt.Decay = append(opt.Decay, len(p.shape) == 2 && p.name != "embedding.weight")
	}
	perEpoch := newStreams(trainIDs, h.BatchSize, h.BPTT, h.BPTT).windowsPerEp
	if perEpoch < 1 {
		return Result{}, fmt.Errorf("%d training tokens are too few for batch %d × bptt %d", len(trainIDs), h.BatchSize, h.BPTT)
	}
	st := state{Total: int(math.Round(h.Epochs * float64(perEpoch))), PerEpoch: perEpoch, TrainToks: len(trainIDs), HeldToks: len(heldIDs)}
	resumed, err := loadCheckpoint(cfg.Output, nt, opt, &st, dropPCG)
	if err != nil {
		return Result{}, fmt.Errorf("resume from %s: %w", cfg.Output, err)
	}
	if resumed {
		fmt.Fprintf(log, "resumed from %s at step %d/%d (%d thread(s))\n", cfg.Output, st.Step, st.Total, runtime.GOMAXPROCS(0))
	} else {
		fmt.Fprintf(log, "training lstm-lm: %d texts (%d tokens) for training, %d (%d tokens) held out, vocabulary %d (%s)\n",
			text.nTrain, len(trainIDs), text.nHeld, len(heldIDs), V, spec.Type)
		fmt.Fprintf(log, "model: embedding %d, %d×LSTM %d, dropout %g: %d parameters; %d steps of %d×%d (%g epochs of %d), %d thread(s)\n",
			m.Embedding, m.Layers, m.Hidden, m.Dropout, nt.numParams(), st.Total, h.BatchSize, h.BPTT, h.Epochs, perEpoch, runtime.GOMAXPROCS(0))
	}
	if st.Finished {
		fmt.Fprintf(log, "already finished: best held-out %.4f bits per token at step %d\n", st.BestBPC, st.BestStep)
		return st.result(), nil
	}
	start := time.Now()
	base := st.Elapsed
	elapsed := func() float64 { return base + time.Since(start).Seconds() }
	save := func() error {
		st.Elapsed = elapsed()
		return saveCheckpoint(cfg.Output, mcfg, nt, opt, &st, dropPCG)
	}
	evaluate := func() error {
		model, err := lstm.New(weights.NewBinder(weights.NewMapStore("", nt.stateDict())), mcfg)
		if err != nil {
			return err
		}
		loss, n, err := model.StreamLoss(heldIDs, 64, 256)
		if err != nil {
			return err
		}
		bpc := loss / float64(n) / math.Ln2
		st.History = append(st.History, evalRow{Step: st.Step, BPC: bpc, Elapsed: elapsed()})
		best := ""
		if st.BestBPC == 0 || bpc < st.BestBPC {
			st.BestBPC, st.BestStep = bpc, st.Step
			if err := writeModel(filepath.Join(cfg.Output, ModelFile), mcfg, nt, st.Step); err != nil {
				return err
			}
			best = " (best: model.safetensors written)"
		}
		fmt.Fprintf(log, "eval step %d: held-out %.4f bits per token over %d tokens%s elapsed %s\n", st.Step, bpc, n, best,
			time.Duration(elapsed()*float64(time.Second)).Round(time.Second))
		return nil
	}
	var lossSum float64
	var toks int
	tick := time.Now()
	var s *streams
	sEpoch := -1
	for st.Step < st.Total {
		if err := ctx.Err(); err != nil {
			if serr := save(); serr != nil {
				return st.result(), errors.Join(err, serr)
			}
			fmt.Fprintf(log, "interrupted: checkpoint at step %d written to %s\n", st.Step, cfg.Output)
			return st.result(), err
		}
		epoch, w := st.Step/perEpoch, st.Step%perEpoch
		if epoch != sEpoch {
			// Each epoch cuts the streams at a different offset, so the windows'
			// boundaries move and no text is always at a window's start.
			off := rand.New(rand.NewPCG(h.Seed, uint64(1000+epoch))).IntN(h.BPTT)
			s, sEpoch = newStreams(trainIDs, h.BatchSize, h.BPTT, off), epoch
		}
		if w == 0 {
			for _, hc := range nt.state {
				clear(hc)
			}
		}
		s.fill(w, nt.ids, nt.targets)
		opt.LR = scheduleLR(h.LR, h.MinLR, st.Step, h.WarmupSteps, st.Total)
		loss, err := nt.step()
		if err != nil {
			return st.result(), fmt.Errorf("step %d: %w", st.Step, err)
		}
		norm, err := opt.Update(nt.valueGrads())
		if err != nil {
			return st.result(), fmt.Errorf("step %d: %w", st.Step, err)
		}
		st.Step++
		if afterStep != nil {
			afterStep(st.Step)
		}
		lossSum += loss
		toks += h.BatchSize * h.BPTT
		if st.Step%h.LogEvery == 0 {
			dt := time.Since(tick).Seconds()
			fmt.Fprintf(log, "epoch %d step %d/%d lr %.5f loss %.4f (%.3f bits) grad-norm %.2f %.0f tokens/s elapsed %s\n",
				epoch+1, st.Step, st.Total, opt.LR, lossSum/float64(toks), lossSum/float64(toks)/math.Ln2, norm,
				float64(toks)/dt, time.Duration(elapsed()*float64(time.Second)).Round(time.Second))
			lossSum, toks = 0, 0
			tick = time.Now()
		}
		if st.Step%h.EvalEvery == 0 || st.Step == st.Total {
			if err := evaluate(); err != nil {
				return st.result(), fmt.Errorf("evaluate at step %d: %w", st.Step, err)
			}
		}
		if st.Step%h.CheckpointEvery == 0 || st.Step%h.EvalEvery == 0 {
			if err := save(); err != nil {
				return st.result(), err
			}
		}
	}
	st.Finished = true
	if err := save(); err != nil {
		return st.result(), err
	}
	fmt.Fprintf(log, "finished: best held-out %.4f bits per token at step %d, %s of training; model in %s\n", st.BestBPC, st.BestStep,
		time.Duration(st.Elapsed*float64(time.Second)).Round(time.Second), filepath.Join(cfg.Output, ModelFile))
	return st.result(), nil
}

// afterStep, when set (by tests), is called after every optimizer step.
var afterStep func(step int)

func (st *state) result() Result {
	return Result{BestBPC: st.BestBPC, BestStep: st.BestStep, Steps: st.Step, Elapsed: time.Duration(st.Elapsed * float64(time.Second))}
}

func makeTokenizer(cfg *Config, train string) (tokenize.Tokenizer, tokenize.Spec, error) {
	if cfg.Data.Tokenizer == "byte" {
		return tokenize.Byte{}, tokenize.Byte{}.Spec(), nil
	}
	c, err := tokenize.NewChar(train)
	if err != nil {
		return nil, tokenize.Spec{}, fmt.Errorf("training text: %w", err)
	}
	return c, c.Spec(), nil
}

func writeModel(path string, mcfg *lstm.Config, nt *net, step int) error {
	if err := atomicWrite(path, func(tmp string) error {
		return weights.WriteSafetensors(tmp, nt.stateDict(), map[string]string{"step": fmt.Sprint(step)})
	}); err != nil {
		return err
	}
	return atomicWrite(filepath.Join(filepath.Dir(path), ConfigFile), func(tmp string) error {
		return lstm.WriteConfig(tmp, mcfg)
	})
}

// atomicWrite writes through a temporary file and renames it, so a kill mid-write
// leaves the previous file intact.
func atomicWrite(path string, write func(tmp string) error) error {
	tmp := path + ".tmp"
	if err := write(tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

func saveCheckpoint(dir string, mcfg *lstm.Config, nt *net, opt *Adam, st *state, pcg *rand.PCG) error {
	if err := writeModel(filepath.Join(dir, CheckpointFile), mcfg, nt, st.Step); err != nil {
		return err
	}
	ot := map[string]*tensor.Tensor{}
	for i, p := range nt.params {
		mv, vv := make([]float32, len(p.values())), make([]float32, len(p.values()))
		if opt.M != nil && opt.M[i] != nil {
			copy(mv, opt.M[i])
			copy(vv, opt.V[i])
		}
		ot["exp_avg."+p.name] = tensor.FromFloat32(mv, p.shape...)
		ot["exp_avg_sq."+p.name] = tensor.FromFloat32(vv, p.shape...)
	}
	for l, hc := range nt.state {
		ot[fmt.Sprintf("carried_state.l%d", l)] = tensor.FromFloat32(append([]float32(nil), hc...), nt.batch, 2*nt.hidden)
	}
	meta := map[string]string{"step": fmt.Sprint(st.Step), "adam_step": fmt.Sprint(opt.Step)}
	if err := atomicWrite(filepath.Join(dir, OptimizerFile), func(tmp string) error {
		return weights.WriteSafetensors(tmp, ot, meta)
	}); err != nil {
		return err
	}
	rng, err := pcg.MarshalBinary()
	if err != nil {
		return err
	}
	st.RNG = rng
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return atomicWrite(filepath.Join(dir, StateFile), func(tmp string) error {
		return os.WriteFile(tmp, append(data, '\n'), 0o644)
	})
}

// loadCheckpoint restores a run from dir; it reports false when dir has no state.json.
// The files must come from the same step, which their metadata records.
func loadCheckpoint(dir string, nt *net, opt *Adam, st *state, pcg *rand.PCG) (bool, error) {
	data, err := os.ReadFile(filepath.Join(dir, StateFile))
	if os.IsNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	total, perEpoch, toks := st.Total, st.PerEpoch, st.TrainToks
	if err := json.Unmarshal(data, st); err != nil {
		return false, fmt.Errorf("%s: %w", StateFile, err)
	}
	// The data position follows from the step, so the data and the window must be
	// those of the interrupted run; the length of the run (epochs) may change, and the
	// learning-rate schedule then follows the new length from the current step.
	if st.TrainToks != toks || st.PerEpoch != 0 && st.PerEpoch != perEpoch {
		return false, fmt.Errorf("%s: the run trained on %d tokens in %d-step epochs, the config now gives %d tokens in %d-step epochs: resume with the same data, batch size and bptt",
			StateFile, st.TrainToks, st.PerEpoch, toks, perEpoch)
	}
	st.Total, st.PerEpoch = total, perEpoch
	if err := pcg.UnmarshalBinary(st.RNG); err != nil {
		return false, fmt.Errorf("%s: rng: %w", StateFile, err)
	}
	step := fmt.Sprint(st.Step)
	ck, err := weights.OpenSafetensors(filepath.Join(dir, CheckpointFile))
	if err != nil {
		return false, err
	}
	defer ck.Close()
	if s := ck.Metadata()["step"]; s != step {
		return false, fmt.Errorf("%s is from step %s, %s from step %s", CheckpointFile, s, StateFile, step)
	}
	b := weights.NewBinder(ck)
	nt.loadStateDict(b.Float32)
	if err := b.Err(); err != nil {
		return false, err
	}
	of, err := weights.OpenSafetensors(filepath.Join(dir, OptimizerFile))
	if err != nil {
		return false, err
	}
	defer of.Close()
	if s := of.Metadata()["step"]; s != step {
		return false, fmt.Errorf("%s is from step %s, %s from step %s", OptimizerFile, s, StateFile, step)
	}
	if _, err := fmt.Sscan(of.Metadata()["adam_step"], &opt.Step); err != nil {
		return false, fmt.Errorf("%s: adam_step: %w", OptimizerFile, err)
	}
	ob := weights.NewBinder(of)
	opt.M, opt.V = make([][]float32, len(nt.params)), make([][]float32, len(nt.params))
	for i, p := range nt.params {
		if v := ob.Float32("exp_avg."+p.name, p.shape...); v != nil {
			opt.M[i] = append([]float32(nil), v...)
		}
		if v := ob.Float32("exp_avg_sq."+p.name, p.shape...); v != nil {
			opt.V[i] = append([]float32(nil), v...)
		}
	}
	for l, hc := range nt.state {
		if v := ob.Float32(fmt.Sprintf("carried_state.l%d", l), nt.batch, 2*nt.hidden); v != nil {
			copy(hc, v)
		}
	}
	if err := ob.Err(); err != nil {
		return false, err
	}
	return true, nil
}
