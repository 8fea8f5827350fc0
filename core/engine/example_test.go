package engine_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/plexusml/plexus/core/engine"
	"github.com/plexusml/plexus/core/pipeline"
)

// words is a stage that counts the words of its text input.
type words struct{}

func (words) Process(_ context.Context, items []engine.Item, res []engine.Result) error {
	for i := range items {
		s, err := items[i].Text()
		if err != nil {
			res[i].Err = err // this item alone fails
			continue
		}
		res[i].Set("count", len(strings.Fields(s)))
	}
	return nil
}

// lines yields two text records.
type lines struct{ n int }

func (l *lines) Next(context.Context) (*engine.Record, error) {
	texts := []string{"hello plexus", "one two three"}
	if l.n == len(texts) {
		return nil, io.EOF
	}
	l.n++
	return &engine.Record{ID: fmt.Sprint("t", l.n), Modality: "text", Payload: []byte(texts[l.n-1])}, nil
}

// A pipeline from YAML, a stage registered in an Environment, and a run.
func ExampleNew() {
	out, _ := os.MkdirTemp("", "plexus-example-")
	defer os.RemoveAll(out)
	p, err := pipeline.Parse("example.yaml", []byte(`
version: 1
source: {path: memory}
stages: [{name: words, builtin: words, batch: {max: 8}}]
sinks: [{jsonl: `+filepath.Join(out, "results.jsonl")+`}]
`), pipeline.LoadOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	env := engine.NewEnvironment()
	env.RegisterBuiltin(engine.Builtin{Name: "words", New: func(context.Context, engine.Spec) (engine.Stage, error) { return words{}, nil }})
	r, err := engine.New(context.Background(), p, env, engine.Options{Source: &lines{}, Version: "dev"})
	if err != nil {
		fmt.Println(err)
		return
	}
	sum, err := r.Run(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	b, _ := os.ReadFile(filepath.Join(out, "results.jsonl"))
	fmt.Print(string(b))
	fmt.Println(sum.Done, "done")
	// Output:
	// {"id":"t1","modality":"text","fields":{"words.count":2},"provenance":{"plexus":"dev","stages":{"words":{"builtin":"words"}}}}
	// {"id":"t2","modality":"text","fields":{"words.count":3},"provenance":{"plexus":"dev","stages":{"words":{"builtin":"words"}}}}
	// 2 done
}

// Two pipelines in one process share its devices through one Scheduler: make every
// runner first, then run them together; a pipeline of weight 3 gets three times the
// other's share of a busy GPU.
func ExampleNewScheduler() {
	ctx := context.Background()
	out, _ := os.MkdirTemp("", "plexus-example-")
	defer os.RemoveAll(out)
	sch, err := engine.NewScheduler(ctx, engine.SchedulerOptions{Weights: map[string]float64{"a": 1, "b": 3}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sch.Close()
	env := engine.NewEnvironment()
	env.RegisterBuiltin(engine.Builtin{Name: "words", New: func(context.Context, engine.Spec) (engine.Stage, error) { return words{}, nil }})
	var runners []*engine.Runner
	for _, name := range []string{"a", "b"} {
		p, err := pipeline.Parse(name+".yaml", []byte(`
version: 1
name: `+name+`
source: {path: memory}
stages: [{name: words, builtin: words}]
sinks: [{jsonl: `+filepath.Join(out, name, "results.jsonl")+`}]
`), pipeline.LoadOptions{})
		if err != nil {
			fmt.Println(err)
			return
		}
		r, err := engine.New(ctx, p, env, engine.Options{Source: &lines{}, NoLedger: true, Scheduler: sch})
		if err != nil {
			fmt.Println(err)
			return
		}
		runners = append(runners, r)
	}
	done := make(chan *engine.Summary)
	for _, r := range runners {
		go func() {
			sum, _ := r.Run(ctx)
			done <- sum
		}()
	}
	total := (<-done).Done + (<-done).Done
	fmt.Println(total, "done;", len(sch.Stats().Stages), "stages scheduled")
	// Output: 4 done; 2 stages scheduled
}
