//go:build !race

package engine

import (
	"context"
	"runtime"
	"testing"
)

// TestHotPathAllocations guards the per-item cost: through two no-op stages, the
// JSONL sink and the ledger, the engine itself may allocate only a little per item
// beyond what the source makes (the record, its map and its id). The race detector
// changes allocation behaviour, hence the build tag.
func TestHotPathAllocations(t *testing.T) {
	const n = 20000
	dir := t.TempDir()
	p := parse(t, dir, `
version: 1
source: {path: mem}
stages:
  - {name: a, builtin: noop, batch: {max: 64}}
  - {name: b, builtin: noop, batch: {max: 64}}
sinks: [{jsonl: OUT/out.jsonl}]
`)
	env := envWith(map[string]Factory{"noop": constFactory(noopStage{})})
	r, err := New(context.Background(), p, env, Options{Source: &countSource{n: n}})
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	perItem := float64(after.Mallocs-before.Mallocs) / n
	const source = 4 // countSource: the record, its map, the id and its formatting
	t.Logf("%.2f allocations per item (the source makes %d)", perItem, source)
	if perItem > source+2 {
		t.Fatalf("%.2f allocations per item; the engine's share should stay under 2", perItem)
	}
}
