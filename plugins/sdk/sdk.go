// Package sdk is what a plexus plugin author imports: implement Plugin (describe the
// models, load one with a validated config) and Instance (process a batch for a task),
// then call Serve from main. The SDK hides go-plugin, gRPC, message limits, the
// shared-memory arena and logging; a plugin never writes to stdout.
package sdk

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/plexusml/plexus/plugins/proto/codec"
)

// Plugin is a plugin's entry point.
type Plugin interface {
	// Describe publishes the plugin's models, tasks, contracts and config schemas. It is
	// called before anything is loaded and must be cheap.
	Describe() Description
	// Load prepares one model instance. req.Config has been validated against the
	// model's schema, with defaults filled in. Read weights here.
	Load(ctx context.Context, req LoadRequest) (Instance, error)
}

// Instance is a loaded model.
type Instance interface {
	// Process runs task over a batch and returns exactly one Result per item, in
	// order. A failed item carries Err (use BadItem when the input is at fault); the
	// others still succeed. Items already failed the task's input contract are never
	// passed in. Tensors in items may live in shared memory that is reused after the
	// call returns: keep a Clone of anything needed later. Process must be idempotent:
	// the host retries a batch after a crash.
	Process(ctx context.Context, task string, items []Item) []Result
}

// An Instance that also implements io.Closer is closed on Unload.

// LoadRequest says which model to load, where and how.
type LoadRequest struct {
	Model  string
	Config map[string]any
	Device string // "cpu", "gpu:0", …
}

// The types a plugin author works with; they are shared with the host.
type (
	Item        = codec.Item
	Result      = codec.Result
	Value       = codec.Value
	Description = codec.Description
	ModelInfo   = codec.ModelInfo
	Task        = codec.Task
	Contract    = codec.Contract
	FieldSpec   = codec.FieldSpec
	ConfigField = codec.ConfigField
	Resources   = codec.Resources
	ItemError   = codec.ItemError
)

// Error kinds, matched with errors.Is.
var (
	ErrBadItem  = codec.ErrBadItem
	ErrInternal = codec.ErrInternal
)

// BadItem returns the error of an item whose input is at fault (it is dead-lettered,
// not retried).
func BadItem(format string, args ...any) error {
	return &codec.ItemError{Kind: codec.ErrBadItem, Reason: fmt.Sprintf(format, args...)}
}

// Fail returns a Result carrying err.
func Fail(err error) Result { return Result{Err: err} }

// OK returns a Result with the given fields.
func OK(fields map[string]Value) Result { return Result{Fields: fields} }

type seedKey struct{}

// Seed is the run's seed, as the host sent it with the batch in ctx.
func Seed(ctx context.Context) int64 {
	s, _ := ctx.Value(seedKey{}).(int64)
	return s
}

// ItemSeed derives the seed for one item's sampling from the run's seed and the
// item's id (FNV-1a), so an item gets the same outputs whatever batch it is in and
// however often it is retried.
func ItemSeed(ctx context.Context, id string) uint64 {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(Seed(ctx)))
	h.Write(b[:])
	h.Write([]byte(id))
	return h.Sum64()
}

var logger = hclog.New(&hclog.LoggerOptions{
	Name:       "plugin",
	Output:     os.Stderr, // stdout carries the go-plugin handshake
	Level:      hclog.LevelFromString(envOr("PLEXUS_LOG_LEVEL", "info")),
	JSONFormat: true, // the host re-parses JSON log lines into its own logger
})

// Logger is the plugin's logger; its lines reach the host's log.
func Logger() hclog.Logger { return logger }

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
