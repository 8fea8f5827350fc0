package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"gorgonia.org/gorgonia"

	"github.com/plexusml/plexus/core/kernels"
	"github.com/plexusml/plexus/core/kernels/blas"
	"github.com/plexusml/plexus/core/nn"
	"github.com/plexusml/plexus/core/nn/weights"
	"github.com/plexusml/plexus/core/tensor"
	"github.com/plexusml/plexus/vision/resnet"
)

// Files written in the output folder. The model checkpoint is a torchvision state dict
// with config.json beside it; optimizer.safetensors and state.json complete it for
// resuming. model.safetensors is the final model, written when training ends.
const (
	CheckpointFile = "checkpoint.safetensors"
	OptimizerFile  = "optimizer.safetensors"
	StateFile      = "state.json"
	ConfigFile     = "config.json"
	FinalFile      = "model.safetensors"
)

// state is what state.json records: where training stands and the augmentation RNG.
type state struct {
	Step     int     `json:"step"`  // optimizer steps done
	Epoch    int     `json:"epoch"` // epochs completed
	RNG      []byte  `json:"rng"`   // augmentation PCG state
	TestAcc  float64 `json:"test_accuracy,omitempty"`
	Elapsed  float64 `json:"elapsed_seconds"` // training wall time over every run so far
	Finished bool    `json:"finished,omitempty"`
}

// Run trains as cfg says, resuming from the output folder's checkpoint when there is
// one, and logs progress to log. Cancelling ctx writes a checkpoint and returns
// ctx.Err(). It returns the final test accuracy.
func Run(ctx context.Context, cfg *Config, log io.Writer) (float64, error) {
	h := cfg.Train
	if h.Threads > 0 {
		// core/kernels sizes its worker pool from GOMAXPROCS at first use, and its
		// GEMM packs only part of B when the pool has a single worker (packJob and the
		// driver disagree on the task count), so the pool is started with two workers;
		// GOMAXPROCS then keeps the run on the cores asked for.
		runtime.GOMAXPROCS(max(2, h.Threads))
		kernels.Workers()
		runtime.GOMAXPROCS(h.Threads)
	}
	// The custom ops call core/kernels directly; products gorgonia computes itself
	// (none in this graph today) go through the same SGEMM.
	gorgonia.Use(blas.Implementation{})
	if err := os.MkdirAll(cfg.Output, 0o755); err != nil {
		return 0, err
	}
	m := cfg.Model
	trainSet, err := loadIDX(cfg.Data.TrainImages, cfg.Data.TrainLabels, m.NumClasses)
	if err != nil {
		return 0, err
	}
	testSet, err := loadIDX(cfg.Data.TestImages, cfg.Data.TestLabels, m.NumClasses)
	if err != nil {
		return 0, err
	}
	if m.InChannels != 1 || trainSet.h != m.InputSize || trainSet.w != m.InputSize {
		return 0, fmt.Errorf("%s holds %d×%d grayscale images; model wants %d channel(s) of %d×%d",
			cfg.Data.TrainImages, trainSet.h, trainSet.w, m.InChannels, m.InputSize, m.InputSize)
	}
	initRNG := rand.New(rand.NewPCG(h.Seed, 1))
	nt, err := buildNet(m, h.BatchSize, initRNG)
	if err != nil {
		return 0, err
	}
	opt := &SGD{Momentum: h.Momentum, Nesterov: h.Nesterov, WeightDecay: h.WeightDecay}
	for _, p := range nt.params {
		opt.Decay = append(opt.Decay, p.decay)
	}
	augPCG := rand.NewPCG(h.Seed, 2)
	st := state{}
	resumed, err := loadCheckpoint(cfg.Output, nt, opt, &st, augPCG)
	if err != nil {
		return 0, fmt.Errorf("resume from %s: %w", cfg.Output, err)
	}
	perEpoch := trainSet.n / h.BatchSize
	total := perEpoch * h.Epochs
	if resumed {
		fmt.Fprintf(log, "resumed from %s at step %d/%d (epoch %d)\n", cfg.Output, st.Step, total, st.Epoch)
	} else {
		fmt.Fprintf(log, "training %s %s %v widths %v: %d parameters, %d steps of %d (%d epochs), %d thread(s)\n",
			m.Architecture, m.Block, m.Layers, m.Widths, nt.numParams(), total, h.BatchSize, h.Epochs, runtime.GOMAXPROCS(0))
	}
	if st.Finished && st.Step >= total {
		fmt.Fprintf(log, "already finished: test accuracy %.2f%%\n", 100*st.TestAcc)
		return st.TestAcc, nil
	}
	// A finished run whose config now asks for more epochs continues: the schedule is
	// recomputed over the new total, a warm restart at the learning rate it gives.
	st.Finished = false
	aug := augment{pad: cfg.Data.Pad, flip: cfg.Data.Flip, rng: rand.New(augPCG)}
	labels := make([]int, h.BatchSize)
	mean, std := m.Mean[0], m.Std[0]
	start := time.Now()
	base := st.Elapsed
	elapsed := func() float64 { return base + time.Since(start).Seconds() }
	save := func() error {
		st.Elapsed = elapsed()
		return saveCheckpoint(cfg, nt, opt, &st, augPCG)
	}
	var lossSum float64
	var correct, seen int
	tick := time.Now()
	for st.Step < total {
		epoch := st.Step / perEpoch
		perm := rand.New(rand.NewPCG(h.Seed, uint64(100+epoch))).Perm(trainSet.n)
		for st.Step < (epoch+1)*perEpoch {
			if err := ctx.Err(); err != nil {
				if serr := save(); serr != nil {
					return 0, errors.Join(err, serr)
				}
				fmt.Fprintf(log, "interrupted: checkpoint at step %d written to %s\n", st.Step, cfg.Output)
				return 0, err
			}
			i := st.Step - epoch*perEpoch
			trainSet.fill(perm[i*h.BatchSize:(i+1)*h.BatchSize], nt.input.Float32s(), labels, mean, std, aug)
			opt.LR = scheduleLR(h.LR, st.Step, h.WarmupSteps, total)
			loss, ok, err := nt.step(labels)
			if err != nil {
				return 0, fmt.Errorf("step %d: %w", st.Step, err)
			}
			if err := opt.Step(nt.valueGrads()); err != nil {
				return 0, fmt.Errorf("step %d: %w", st.Step, err)
			}
			st.Step++
			lossSum += float64(loss)
			correct += ok
			seen += h.BatchSize
			if st.Step%h.LogEvery == 0 {
				dt := time.Since(tick).Seconds()
				fmt.Fprintf(log, "epoch %d step %d/%d lr %.4f loss %.4f train-acc %.2f%% %.0f img/s elapsed %s\n",
					epoch+1, st.Step, total, opt.LR, lossSum/float64(seen/h.BatchSize), 100*float64(correct)/float64(seen),
					float64(seen)/dt, time.Duration(elapsed()*float64(time.Second)).Round(time.Second))
				lossSum, correct, seen = 0, 0, 0
				tick = time.Now()
			}
			if st.Step%h.CheckpointEvery == 0 && st.Step%perEpoch != 0 {
				if err := save(); err != nil {
					return 0, err
				}
			}
		}
		st.Epoch = epoch + 1
		acc, err := evaluate(nt, testSet, h.EvalBatch)
		if err != nil {
			return 0, fmt.Errorf("evaluate after epoch %d: %w", st.Epoch, err)
		}
		st.TestAcc = acc
		fmt.Fprintf(log, "epoch %d done: test accuracy %.2f%% (%d images) elapsed %s\n", st.Epoch, 100*acc, testSet.n,
			time.Duration(elapsed()*float64(time.Second)).Round(time.Second))
		if err := save(); err != nil {
			return 0, err
		}
	}
	st.Finished = true
	if err := save(); err != nil {
		return 0, err
	}
	if err := nt.writeModel(filepath.Join(cfg.Output, FinalFile), map[string]string{"step": fmt.Sprint(st.Step)}); err != nil {
		return 0, err
	}
	fmt.Fprintf(log, "finished: test accuracy %.2f%%, %s of training; model in %s\n", 100*st.TestAcc,
		time.Duration(st.Elapsed*float64(time.Second)).Round(time.Second), filepath.Join(cfg.Output, FinalFile))
	return st.TestAcc, nil
}

// evaluate runs the test set through the inference path (vision/resnet with BatchNorm
// folded), exactly as a shipped model would run.
func evaluate(nt *net, d *images, batch int) (float64, error) {
	model, err := resnet.Load(weights.NewMapStore("", nt.stateDict()), nt.cfg)
	if err != nil {
		return 0, err
	}
	return evaluateModel(model, &nt.cfg, d, batch)
}

func evaluateModel(model *resnet.Model, cfg *resnet.Config, d *images, batch int) (float64, error) {
	mean, std := cfg.Mean[0], cfg.Std[0]
	hw := d.h * d.w
	x := make([]float32, batch*hw)
	labels := make([]int, batch)
	idx := make([]int, 0, batch)
	correct := 0
	k := cfg.NumClasses
	arena := nn.NewArena(0)
	for s := 0; s < d.n; s += batch {
		idx = idx[:0]
		for i := s; i < min(s+batch, d.n); i++ {
			idx = append(idx, i)
		}
		n := len(idx)
		d.fill(idx, x[:n*hw], labels[:n], mean, std, augment{})
		arena.Reset()
		out, err := model.Forward(arena, nn.NewAct(x[:n*hw], n, 1, d.h, d.w))
		if err != nil {
			return 0, err
		}
		logits := out.Data
		for i := 0; i < n; i++ {
			if argmax(logits[i*k:(i+1)*k]) == labels[i] {
				correct++
			}
		}
	}
	return float64(correct) / float64(d.n), nil
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// stateDict returns the model's tensors under torchvision's names, sharing memory.
func (nt *net) stateDict() map[string]*tensor.Tensor {
	sd := make(map[string]*tensor.Tensor, len(nt.params)+3*len(nt.bns))
	for _, p := range nt.params {
		sd[p.name] = tensor.FromFloat32(p.values(), p.shape...)
	}
	for _, b := range nt.bns {
		sd[b.prefix+".running_mean"] = tensor.FromFloat32(b.bn.runningMean, b.bn.c)
		sd[b.prefix+".running_var"] = tensor.FromFloat32(b.bn.runningVar, b.bn.c)
		sd[b.prefix+".num_batches_tracked"] = scalarInt64(b.bn.numBatches)
	}
	return sd
}

func (nt *net) writeModel(path string, meta map[string]string) error {
	if err := atomicWrite(path, func(tmp string) error {
		return weights.WriteSafetensors(tmp, nt.stateDict(), meta)
	}); err != nil {
		return err
	}
	return resnet.WriteConfig(filepath.Join(filepath.Dir(path), ConfigFile), &nt.cfg)
}

// atomicWrite writes through a temporary file and renames it, so a kill mid-write
// leaves the previous checkpoint intact.
func atomicWrite(path string, write func(tmp string) error) error {
	tmp := path + ".tmp"
	if err := write(tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

func saveCheckpoint(cfg *Config, nt *net, opt *SGD, st *state, pcg *rand.PCG) error {
	meta := map[string]string{"step": fmt.Sprint(st.Step)}
	if err := nt.writeModel(filepath.Join(cfg.Output, CheckpointFile), meta); err != nil {
		return err
	}
	ot := map[string]*tensor.Tensor{}
	for i, p := range nt.params {
		v := make([]float32, len(p.data))
		if opt.Velocity != nil && opt.Velocity[i] != nil {
			copy(v, opt.Velocity[i])
		}
		ot["momentum_buffer."+p.name] = tensor.FromFloat32(v, p.shape...)
	}
	if err := atomicWrite(filepath.Join(cfg.Output, OptimizerFile), func(tmp string) error {
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
	return atomicWrite(filepath.Join(cfg.Output, StateFile), func(tmp string) error {
		return os.WriteFile(tmp, append(data, '\n'), 0o644)
	})
}

// loadCheckpoint restores a run from dir; it reports false when dir has no state.json.
// The three files must come from the same step, which their metadata records.
func loadCheckpoint(dir string, nt *net, opt *SGD, st *state, pcg *rand.PCG) (bool, error) {
	data, err := os.ReadFile(filepath.Join(dir, StateFile))
	if os.IsNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(data, st); err != nil {
		return false, fmt.Errorf("%s: %w", StateFile, err)
	}
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
	for _, p := range nt.params {
		if v := b.Float32(p.name, p.shape...); v != nil {
			copy(p.values(), v)
		}
	}
	for _, l := range nt.bns {
		if v := b.Float32(l.prefix+".running_mean", l.bn.c); v != nil {
			copy(l.bn.runningMean, v)
		}
		if v := b.Float32(l.prefix+".running_var", l.bn.c); v != nil {
			copy(l.bn.runningVar, v)
		}
		if v := b.Int64(l.prefix+".num_batches_tracked", []int{}...); v != nil {
			l.bn.numBatches = v[0]
		}
	}
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
	ob := weights.NewBinder(of)
	opt.Velocity = make([][]float32, len(nt.params))
	for i, p := range nt.params {
		if v := ob.Float32("momentum_buffer."+p.name, p.shape...); v != nil {
			opt.Velocity[i] = append([]float32(nil), v...)
		}
	}
	if err := ob.Err(); err != nil {
		return false, err
	}
	return true, nil
}

// scalarInt64 is a 0-d int64 tensor, the shape PyTorch gives num_batches_tracked.
func scalarInt64(v int64) *tensor.Tensor {
	t := tensor.New(tensor.Int64)
	t.Int64s()[0] = v
	return t
}

// Evaluate measures a trained model (a safetensors or .pth state dict, config from the
// training config) on the config's test set, through the inference path.
func Evaluate(cfg *Config, weightsPath string) (float64, error) {
	store, err := weights.Open(weightsPath)
	if err != nil {
		return 0, err
	}
	defer store.Close()
	model, err := resnet.Load(store, cfg.Model)
	if err != nil {
		return 0, err
	}
	testSet, err := loadIDX(cfg.Data.TestImages, cfg.Data.TestLabels, cfg.Model.NumClasses)
	if err != nil {
		return 0, err
	}
	return evaluateModel(model, &cfg.Model, testSet, cfg.Train.EvalBatch)
}
