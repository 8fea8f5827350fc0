package engine

import (
	"context"
	"fmt"
	"io"
	"testing"
)

// countSource yields n small text records.
type countSource struct{ n, i int }

func (s *countSource) Next(context.Context) (*Record, error) {
	if s.i >= s.n {
		return nil, io.EOF
	}
	s.i++
	return &Record{ID: fmt.Sprintf("i%07d", s.i), Modality: "text", Payload: []byte("hello world"), Fields: map[string]any{}}, nil
}

type noopStage struct{}

func (noopStage) Process(context.Context, []Item, []Result) error { return nil }

// BenchmarkEngineNoop measures the engine's own cost per item: two no-op stages, the
// JSONL sink and the ledger on. Report with -benchmem; b.N is items.
func BenchmarkEngineNoop(b *testing.B) {
	dir := b.TempDir()
	p := parse(b, dir, `
version: 1
source: {path: mem}
stages:
  - {name: a, builtin: noop, batch: {max: 64}}
  - {name: b, builtin: noop, batch: {max: 64}}
sinks: [{jsonl: OUT/out.jsonl}]
`)
	env := envWith(map[string]Factory{"noop": constFactory(noopStage{})})
	r, err := New(context.Background(), p, env, Options{Source: &countSource{n: b.N}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	if _, err := r.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
}
