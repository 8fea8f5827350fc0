// Package trainckpt writes and reads the resumable checkpoints of plexus's gorgonia
// trainers: the model's state dict in its reference names, the Adam moments, the model
// config and the run state, each replaced atomically and state.json last, so that a run
// killed at any moment resumes from the last complete checkpoint.
package trainckpt

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/plexusml/plexus/core/nn/weights"
	"github.com/plexusml/plexus/core/tensor"
)

// Files in a training output folder.
const (
	CheckpointFile = "checkpoint.safetensors" // reference names, loadable for inference
	ConfigFile     = "config.json"
	OptimizerFile  = "optimizer.safetensors" // Adam moments
	StateFile      = "state.json"
)

// Param names one trained parameter and its size, in the order of the optimiser's
// moment slices.
type Param struct {
	Name string
	Size int
}

// Adam is the optimiser state a checkpoint keeps: per parameter, the first and second
// moments (nil before the first step), and the step count.
type Adam struct {
	M, V [][]float32
	Step int
}

// Save writes the checkpoint into dir: the state dict (with meta), the moments of
// params, config and state as JSON. state.json is written last: it names the step only
// once everything it describes is on disk.
func Save(dir string, stateDict map[string]*tensor.Tensor, meta map[string]string, params []Param, opt Adam, config, state any) error {
	write := func(name string, f func(tmp string) error) error {
		path := filepath.Join(dir, name)
		tmp := path + ".tmp"
		if err := f(tmp); err != nil {
			return err
		}
		return os.Rename(tmp, path)
	}
	moments := map[string]*tensor.Tensor{}
	if opt.M != nil {
		for i, p := range params {
			moments[p.Name+".m"] = tensor.FromFloat32(append([]float32(nil), opt.M[i]...), p.Size)
			moments[p.Name+".v"] = tensor.FromFloat32(append([]float32(nil), opt.V[i]...), p.Size)
		}
	}
	cj, err := json.MarshalIndent(config, "", "  ")
	if err != nil {
		return err
	}
	sj, err := json.MarshalIndent(state, "", "  ")
	if err != nil {
		return err
	}
	if err := write(CheckpointFile, func(tmp string) error { return weights.WriteSafetensors(tmp, stateDict, meta) }); err != nil {
		return err
	}
	if err := write(OptimizerFile, func(tmp string) error {
		return weights.WriteSafetensors(tmp, moments, map[string]string{"adam_step": fmt.Sprint(opt.Step)})
	}); err != nil {
		return err
	}
	if err := write(ConfigFile, func(tmp string) error { return os.WriteFile(tmp, append(cj, '\n'), 0o644) }); err != nil {
		return err
	}
	return write(StateFile, func(tmp string) error { return os.WriteFile(tmp, append(sj, '\n'), 0o644) })
}

// LoadState reads dir's state.json into state; false when there is none (a fresh run).
func LoadState(dir string, state any) (bool, error) {
	sb, err := os.ReadFile(filepath.Join(dir, StateFile))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(sb, state); err != nil {
		return false, fmt.Errorf("%s: %w", filepath.Join(dir, StateFile), err)
	}
	return true, nil
}

// LoadWeights opens dir's checkpoint and hands it to load (which copies what it needs).
func LoadWeights(dir string, load func(weights.Store) error) error {
	path := filepath.Join(dir, CheckpointFile)
	ck, err := weights.OpenSafetensors(path)
	if err != nil {
		return err
	}
	defer ck.Close()
	if err := load(ck); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// LoadAdam reads the moments of params from dir's optimizer file.
func LoadAdam(dir string, params []Param) (Adam, error) {
	path := filepath.Join(dir, OptimizerFile)
	ost, err := weights.OpenSafetensors(path)
	if err != nil {
		return Adam{}, err
	}
	defer ost.Close()
	var a Adam
	for _, p := range params {
		m, ok1 := ost.Get(p.Name + ".m")
		v, ok2 := ost.Get(p.Name + ".v")
		if !ok1 || !ok2 || m.NumElems() != p.Size || v.NumElems() != p.Size {
			return Adam{}, fmt.Errorf("%s: no moments for %s", path, p.Name)
		}
		a.M = append(a.M, append([]float32(nil), m.Float32s()...))
		a.V = append(a.V, append([]float32(nil), v.Float32s()...))
	}
	if _, err := fmt.Sscan(ost.Metadata()["adam_step"], &a.Step); err != nil {
		return Adam{}, fmt.Errorf("%s: adam_step: %w", path, err)
	}
	return a, nil
}
