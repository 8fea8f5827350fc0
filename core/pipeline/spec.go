// Package pipeline defines the YAML pipeline schema that plexus runs and loads it
// strictly, reporting every problem as FILE:LINE:COL diagnostics.
package pipeline

import (
	"time"

	"github.com/plexusml/plexus/core/pipeline/strict"
)

// Pipeline is one decoded and validated pipeline file.
type Pipeline struct {
	Version int         `koanf:"version"`
	Name    string      `koanf:"name"`
	Source  Source      `koanf:"source"`
	Stages  []Stage     `koanf:"stages"`
	Sinks   []Sink      `koanf:"sinks"`
	Errors  ErrorPolicy `koanf:"errors"`
	// Order is "input" (results leave in input order, the default) or "any".
	Order string `koanf:"order"`
	// Seed makes sampling stages reproducible; each item's seed derives from it and the id.
	Seed int64 `koanf:"seed"`

	// File is the path the pipeline was loaded from ("" for in-memory specs).
	File string `koanf:"-" json:"-"`

	// doc and ix locate keys in the loaded file, so checks made later (a plugin's
	// config schema) can still point at a line; both are nil for in-memory specs.
	doc *strict.Doc
	ix  strict.Index
}

// Source says where items come from: a directory, a .jsonl or a .csv manifest.
type Source struct {
	Path      string `koanf:"path"`
	Recursive *bool  `koanf:"recursive"` // nil means true
	Limits    Limits `koanf:"limits"`
}

// Limits bound what one item may cost; zero means the engine default.
type Limits struct {
	FileSize  Size     `koanf:"file_size"`
	Pixels    int64    `koanf:"pixels"`
	Duration  Duration `koanf:"duration"`
	TextBytes Size     `koanf:"text_bytes"`
}

// Stage is one node of the pipeline DAG: a plugin model or an in-process builtin.
type Stage struct {
	Name      string         `koanf:"name"`
	Plugin    string         `koanf:"plugin"`
	Builtin   string         `koanf:"builtin"`
	Model     string         `koanf:"model"`
	Weights   string         `koanf:"weights"`
	Task      string         `koanf:"task"`
	Config    map[string]any `koanf:"config"`
	When      string         `koanf:"when"`
	After     []string       `koanf:"after"`
	Input     []string       `koanf:"input"`
	Batch     Batch          `koanf:"batch"`
	Resources Resources      `koanf:"resources"`
	Errors    *ErrorPolicy   `koanf:"errors"` // overrides the pipeline's policy

	// Cond is the parsed When expression (nil when When is empty).
	Cond *Expr `koanf:"-" json:"-"`
}

// Batch configures the stage's batcher.
type Batch struct {
	Max       int      `koanf:"max"`
	Delay     Duration `koanf:"delay"`
	Bucket    string   `koanf:"bucket"` // "", "length", "duration", "size"
	Preferred []int    `koanf:"preferred"`
	Priority  int      `koanf:"priority"`

	// Auto is set by validation when max is not given: the engine then takes the
	// plugin model's published MaxBatch (capped at AutoBatchCap), and 1 for builtins.
	Auto bool `koanf:"-" json:"-"`
}

// AutoBatchCap bounds the batch size taken from a plugin when batch.max is not set, so
// that a model publishing a large limit does not make every stage wait for big batches.
const AutoBatchCap = 32

// Resources says what one instance of a stage needs.
type Resources struct {
	Device    string    `koanf:"device"` // gpu|cpu|any ("" means any)
	Memory    Size      `koanf:"memory"`
	Instances Instances `koanf:"instances"`
	Weight    int       `koanf:"weight"` // fair-share weight, default 1
	Timeout   Duration  `koanf:"timeout"`
}

// Instances is written `instances: 2` or `instances: {min: 1, max: 4}`.
type Instances struct {
	Min int `koanf:"min"`
	Max int `koanf:"max"`
}

// Sink writes committed items somewhere. Exactly one of JSONL or Files is set.
type Sink struct {
	JSONL   string   `koanf:"jsonl"`
	Files   string   `koanf:"files"`
	Tensors string   `koanf:"tensors"` // summary|files|inline
	From    []string `koanf:"from"`
}

// ErrorPolicy says what happens to an item a stage fails on.
type ErrorPolicy struct {
	Policy  string `koanf:"policy"` // fail-fast|skip|retry|dead-letter
	Path    string `koanf:"path"`   // dead-letter file
	Retries int    `koanf:"retries"`
}

// Duration is a time.Duration written as "5ms", "2s", "1m30s".
type Duration time.Duration

// Size is a byte count written as 1024, "64KiB", "1GiB", "10MB".
type Size int64
