package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/plexusml/plexus/core/pipeline"
	"github.com/plexusml/plexus/core/sched"
)

// Stage processes batches of items. Results has one slot per item, reset by the
// engine; the stage fills each with outputs (Result.Set) or an error for that item
// alone. Returning an error fails the whole batch (a dead plugin, a lost connection),
// which the engine retries per the error policy; a bad item must never do that.
type Stage interface {
	Process(ctx context.Context, items []Item, results []Result) error
}

// Closer is implemented by stages that hold resources (plugin instances, buffers).
type Closer interface {
	Close() error
}

// Describer is implemented by stages that produce results from a plugin or weights;
// Info goes into every result's provenance.
type Describer interface {
	Info() Info
}

// MaxBatcher is implemented by stages whose model publishes its largest batch; the
// engine takes it as batch.max when the pipeline leaves batch.max unset.
type MaxBatcher interface {
	MaxBatch() int
}

// Info is a stage's provenance.
type Info struct {
	Plugin  string `json:"plugin,omitempty"`
	Version string `json:"version,omitempty"`
	Model   string `json:"model,omitempty"`
	Builtin string `json:"builtin,omitempty"`
	// WeightsSHA256 is filled by the engine from the stage's weights file.
	WeightsSHA256 string `json:"weights_sha256,omitempty"`
}

// Restarter is implemented by stages whose instance can be restarted under them (a
// supervised plugin); the count goes into the summary.
type Restarter interface {
	Restarts() int
}

// Spec is what a stage factory gets: the stage's declaration and the pipeline it
// belongs to, and which of its instances is being made.
type Spec struct {
	Pipeline *pipeline.Pipeline
	Stage    *pipeline.Stage
	Instance int
	// Device is where the scheduler placed this instance: a plugin instance starts
	// with Device.Env() and loads on Device.LoadDevice().
	Device sched.Assignment
}

// Factory makes one instance of a stage.
type Factory func(ctx context.Context, s Spec) (Stage, error)

// Environment is the registry a run draws stages from: builtins by name, and one
// factory for plugin stages. The CLI fills it; the engine never imports a builtin or
// a model.
type Environment struct {
	mu       sync.RWMutex
	builtins map[string]Builtin
	plugins  Factory
}

// Builtin is an in-process stage type.
type Builtin struct {
	Name string // "image.resize"
	Doc  string // one line
	New  Factory
}

// NewEnvironment returns an empty environment.
func NewEnvironment() *Environment {
	return &Environment{builtins: map[string]Builtin{}}
}

// RegisterBuiltin adds a builtin; registering a name twice is an error.
func (e *Environment) RegisterBuiltin(b Builtin) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, dup := e.builtins[b.Name]; dup {
		return fmt.Errorf("builtin %q registered twice", b.Name)
	}
	e.builtins[b.Name] = b
	return nil
}

// SetPlugins sets the factory for stages declared with plugin:.
func (e *Environment) SetPlugins(f Factory) {
	e.mu.Lock()
	e.plugins = f
	e.mu.Unlock()
}

// Builtins lists the registered builtins sorted by name.
func (e *Environment) Builtins() []Builtin {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]Builtin, 0, len(e.builtins))
	for _, b := range e.builtins {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// factory finds what makes stage s.
func (e *Environment) factory(s *pipeline.Stage) (Factory, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if s.Builtin != "" {
		b, ok := e.builtins[s.Builtin]
		if !ok {
			names := make([]string, 0, len(e.builtins))
			for n := range e.builtins {
				names = append(names, n)
			}
			sort.Strings(names)
			return nil, fmt.Errorf("stage %q: unknown builtin %q (have: %v)", s.Name, s.Builtin, names)
		}
		return b.New, nil
	}
	if e.plugins == nil {
		return nil, fmt.Errorf("stage %q: plugin %q: this plexus has no plugin host configured", s.Name, s.Plugin)
	}
	return e.plugins, nil
}

// Permanent marks an item error as not worth retrying (bad input: a truncated image,
// a lying WAV header); the engine applies the error policy at once.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string   { return e.err.Error() }
func (e *permanentError) Unwrap() error   { return e.err }
func (e *permanentError) Permanent() bool { return true }

// IsPermanent reports whether err, or an error it wraps, says it is permanent.
func IsPermanent(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}
