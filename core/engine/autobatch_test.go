package engine

import (
	"context"
	"sync"
	"testing"
)

// sizedStage records the batch sizes it is given and publishes a batch limit, as a
// plugin instance does.
type sizedStage struct {
	limit int
	mu    sync.Mutex
	sizes []int
}

func (s *sizedStage) MaxBatch() int { return s.limit }

func (s *sizedStage) Process(_ context.Context, items []Item, res []Result) error {
	s.mu.Lock()
	s.sizes = append(s.sizes, len(items))
	s.mu.Unlock()
	for i := range res {
		res[i].Set("n", len(items))
	}
	return nil
}

// TestBatchMaxDefaultsToModelLimit: a stage that leaves batch.max unset gets batches up
// to the model's published limit; one that sets it keeps its own value.
func TestBatchMaxDefaultsToModelLimit(t *testing.T) {
	for _, tc := range []struct {
		batch   string
		limit   int
		biggest int
	}{
		{"{delay: 1s}", 4, 4},         // unset: the model's limit
		{"{max: 2, delay: 1s}", 4, 2}, // set: the pipeline's value
		{"{delay: 1s}", 1000, 32},     // unset, huge limit: capped
		{"{delay: 1s}", 0, 1},         // no published limit: 1
	} {
		dir := t.TempDir()
		st := &sizedStage{limit: tc.limit}
		env := NewEnvironment()
		env.SetPlugins(func(context.Context, Spec) (Stage, error) { return st, nil })
		p := parse(t, dir, `
version: 1
source: {path: mem}
stages:
  - {name: p, plugin: x, model: m, task: run, batch: `+tc.batch+`}
sinks: [{jsonl: OUT/out.jsonl}]
`)
		actions := make([]string, 40)
		for i := range actions {
			actions[i] = "ok"
		}
		r, err := New(context.Background(), p, env, Options{Source: &actionSource{actions: actions}, Version: "t"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		biggest, total := 0, 0
		for _, n := range st.sizes {
			biggest, total = max(biggest, n), total+n
		}
		if total != 40 || biggest != tc.biggest {
			t.Errorf("batch %s, model limit %d: batches %v (total %d), want the biggest %d", tc.batch, tc.limit, st.sizes, total, tc.biggest)
		}
	}
}
