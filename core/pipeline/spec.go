// Package pipeline defines the YAML pipeline schema that plexus runs and loads it
// strictly, reporting every problem as FILE:LINE:COL diagnostics.
package pipeline

import (
	"time"

	"github.com/plexusml/plexus/core/pipeline/strict"
)

// Pipeline is one decoded and validated pipeline file.
type Pipeline struct {
	Version int         `koanf:"version" doc:"must be 1" default:"required"`
	Name    string      `koanf:"name" doc:"the pipeline's name" default:"the file name without extension"`
	Source  Source      `koanf:"source"`
	Stages  []Stage     `koanf:"stages" doc:"the stages, at least one (keys below)" default:"required"`
	Sinks   []Sink      `koanf:"sinks" doc:"where committed results go, at least one (keys below)" default:"required"`
	Errors  ErrorPolicy `koanf:"errors" doc:"what a failed item does" default:"{policy: fail-fast}"`
	// Order is "input" (results leave in input order, the default) or "any".
	Order string `koanf:"order" doc:"input (results leave in input order) or any" default:"input"`
	// Seed makes sampling stages reproducible; each item's seed derives from it and the id.
	Seed int64 `koanf:"seed" doc:"run seed; each item's sampling seed derives from it and the item id" default:"0"`

	// File is the path the pipeline was loaded from ("" for in-memory specs).
	File string `koanf:"-" json:"-"`

	// doc and ix locate keys in the loaded file, so checks made later (a plugin's
	// config schema) can still point at a line; both are nil for in-memory specs.
	doc *strict.Doc
	ix  strict.Index
}

// Source says where items come from: a directory, a .jsonl or a .csv manifest.
type Source struct {
	Path      string `koanf:"path" doc:"directory, .jsonl or .csv manifest; ${VAR:-default} is expanded" default:"required"`
	Recursive *bool  `koanf:"recursive" doc:"walk subdirectories" default:"true"` // nil means true
	Limits    Limits `koanf:"limits"`
}

// Limits bound what one item may cost; zero means the engine default.
type Limits struct {
	FileSize  Size     `koanf:"file_size" doc:"largest input file" default:"engine default"`
	Pixels    int64    `koanf:"pixels" doc:"largest decoded image, in pixels" default:"engine default"`
	Duration  Duration `koanf:"duration" doc:"longest audio clip" default:"engine default"`
	TextBytes Size     `koanf:"text_bytes" doc:"largest text item" default:"engine default"`
}

// Stage is one node of the pipeline DAG: a plugin model or an in-process builtin.
type Stage struct {
	Name      string         `koanf:"name" doc:"unique, [a-z][a-z0-9_-]*" default:"required"`
	Plugin    string         `koanf:"plugin" doc:"a model plugin (exactly one of plugin and builtin)"`
	Builtin   string         `koanf:"builtin" doc:"an in-process builtin stage (docs/stages.md)"`
	Model     string         `koanf:"model" doc:"the plugin's model to load" default:"the plugin's only model, if it has one"`
	Weights   string         `koanf:"weights" doc:"weights file the model loads (its config.json beside it)" default:"the model's own"`
	Task      string         `koanf:"task" doc:"the model's task to run" default:"the model's only task, if it has one"`
	Config    map[string]any `koanf:"config" doc:"settings, checked against the plugin's or builtin's published schema" default:"{}"`
	When      string         `koanf:"when" doc:"which items the stage runs for (grammar below)" default:"every item"`
	After     []string       `koanf:"after" doc:"stages this one runs after; one name may be written without brackets" default:"none"`
	Input     []string       `koanf:"input" doc:"fields to read, first present wins: STAGE.field or an item field (text, image, audio, a manifest column)" default:"the item's payload"`
	Batch     Batch          `koanf:"batch"`
	Resources Resources      `koanf:"resources"`
	Errors    *ErrorPolicy   `koanf:"errors" doc:"overrides the pipeline's errors policy; unset keys are inherited" default:"inherited"`

	// Cond is the parsed When expression (nil when When is empty).
	Cond *Expr `koanf:"-" json:"-"`
}

// Batch configures the stage's batcher.
type Batch struct {
	Max       int      `koanf:"max" doc:"largest batch, at least 1" default:"the plugin model's published limit (at most 32); 1 for builtins"`
	Delay     Duration `koanf:"delay" doc:"longest wait to fill a batch" default:"0"`
	Bucket    string   `koanf:"bucket" doc:"length, duration or size: batch similar items together" default:"none"`
	Preferred []int    `koanf:"preferred" doc:"preferred batch sizes, increasing, each at most max (used by plexus sched simulate)" default:"none"`
	Priority  int      `koanf:"priority" doc:"dispatch priority: higher runs first when stages compete for a device" default:"0"`

	// Auto is set by validation when max is not given: the engine then takes the
	// plugin model's published MaxBatch (capped at AutoBatchCap), and 1 for builtins.
	Auto bool `koanf:"-" json:"-"`
}

// AutoBatchCap bounds the batch size taken from a plugin when batch.max is not set, so
// that a model publishing a large limit does not make every stage wait for big batches.
const AutoBatchCap = 32

// Resources says what one instance of a stage needs.
type Resources struct {
	Device    string    `koanf:"device" doc:"gpu, cpu or any" default:"any"`
	Memory    Size      `koanf:"memory" doc:"memory one instance needs on its device" default:"0"`
	Instances Instances `koanf:"instances" doc:"N, or {min: N, max: M} with 1 <= min <= max" default:"1" type:"integer or {min, max}"`
	Weight    int       `koanf:"weight" doc:"fair-share weight, at least 1" default:"1"`
	Timeout   Duration  `koanf:"timeout" doc:"longest one batch may take before the instance counts as hung" default:"engine default"`
}

// Instances is written `instances: 2` or `instances: {min: 1, max: 4}`.
type Instances struct {
	Min int `koanf:"min"`
	Max int `koanf:"max"`
}

// Sink writes committed items somewhere. Exactly one of JSONL or Files is set.
type Sink struct {
	JSONL   string   `koanf:"jsonl" doc:"a JSONL file, one line per committed item (exactly one of jsonl and files)"`
	Files   string   `koanf:"files" doc:"a folder: image, audio and tensor outputs as PNG, WAV and .npy files, DIR/ID.STAGE.FIELD.EXT"`
	Tensors string   `koanf:"tensors" doc:"summary, files or inline: how tensors appear in JSONL" default:"summary"`
	From    []string `koanf:"from" doc:"take only these stages' outputs (and the item's own fields); a jsonl sink then skips items they produced nothing for" default:"every stage"`
}

// ErrorPolicy says what happens to an item a stage fails on.
type ErrorPolicy struct {
	Policy  string `koanf:"policy" doc:"fail-fast (stop the run), skip (drop the item), retry (errors.retries more tries) or dead-letter (write it with its error to errors.path)" default:"fail-fast"`
	Path    string `koanf:"path" doc:"the dead-letter file, required by dead-letter"`
	Retries int    `koanf:"retries" doc:"extra tries of a failed item (retry and dead-letter)" default:"0"`
}

// Duration is a time.Duration written as "5ms", "2s", "1m30s".
type Duration time.Duration

// Size is a byte count written as 1024, "64KiB", "1GiB", "10MB".
type Size int64
