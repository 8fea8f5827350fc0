package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/plexusml/plexus/builtins"
	"github.com/plexusml/plexus/core/dataset/datasettest"
	"github.com/plexusml/plexus/core/engine"
	"github.com/plexusml/plexus/core/pipeline"
)

const imagesPipeline = `version: 1
name: images
source: {path: DATA}
stages:
  - {name: thumbs, builtin: image.resize, when: image, config: {size: 8}, batch: {max: 4}, resources: {instances: 2}}
sinks: [{jsonl: OUT/results.jsonl}]
errors: {policy: dead-letter, path: OUT/errors.jsonl}
`

const textPipeline = `version: 1
name: text
source: {path: DATA}
stages:
  - {name: norm, builtin: text.normalize, when: text, batch: {max: 8, delay: 2ms}}
  - {name: thumbs, builtin: image.resize, when: image, config: {size: 4}}
sinks: [{jsonl: OUT/results.jsonl}]
errors: {policy: dead-letter, path: OUT/errors.jsonl}
`

// TestRunTwoPipelinesTogether runs two builtin pipelines over one dataset in one
// process through the real binary: both outputs are complete (every item once, in its
// results or its dead-letter file), each has its own ledger, and the summary has one
// table per pipeline. Running the command again resumes both and changes nothing.
func TestRunTwoPipelinesTogether(t *testing.T) {
	bin := plexusBinary(t)
	dir := t.TempDir()
	m, err := datasettest.Generate(filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	var pipes, outs []string
	for _, c := range []struct{ name, spec string }{{"images", imagesPipeline}, {"text", textPipeline}} {
		out := filepath.Join(dir, "out-"+c.name)
		pipe := filepath.Join(dir, c.name+".yaml")
		spec := strings.NewReplacer("DATA", m.Root, "OUT", out).Replace(c.spec)
		if err := os.WriteFile(pipe, []byte(spec), 0o644); err != nil {
			t.Fatal(err)
		}
		pipes, outs = append(pipes, pipe), append(outs, out)
	}
	cmd := exec.Command(bin, "run", pipes[0], pipes[1], "--weight", "text=3", "--progress", "none")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("plexus run: %v\n%s", err, stderr.String())
	}
	for i, out := range outs {
		results := readJSONL(t, filepath.Join(out, "results.jsonl"))
		dead := readJSONL(t, filepath.Join(out, "errors.jsonl"))
		seen := map[string]int{}
		for _, r := range append(results, dead...) {
			seen[r["id"].(string)]++
		}
		for _, e := range m.Files {
			if seen[e.ID] != 1 {
				t.Errorf("%s: item %s written %d times, want once", pipes[i], e.ID, seen[e.ID])
			}
		}
		if len(results)+len(dead) != len(m.Files) {
			t.Errorf("%s: %d results + %d dead letters, want %d items", pipes[i], len(results), len(dead), len(m.Files))
		}
		if _, err := os.Stat(filepath.Join(out, ".plexus-ledger")); err != nil {
			t.Errorf("%s: no ledger of its own: %v", pipes[i], err)
		}
	}
	t.Logf("plexus run stderr:\n%s", stderr.String())
	for _, want := range []string{"pipeline images (" + pipes[0] + ")", "pipeline text (" + pipes[1] + ")", "mean batch", "utilisation"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, stderr.String())
		}
	}
	// Everything is committed: a second run resumes both and writes nothing.
	before, _ := os.ReadFile(filepath.Join(outs[1], "results.jsonl"))
	if b, err := exec.Command(bin, "run", pipes[0], pipes[1], "--progress", "none").CombinedOutput(); err != nil {
		t.Fatalf("second run: %v\n%s", err, b)
	}
	after, _ := os.ReadFile(filepath.Join(outs[1], "results.jsonl"))
	if !bytes.Equal(before, after) {
		t.Fatal("re-running finished pipelines changed their results")
	}
}

func TestRunRefusesSharedOutputsAndBadWeights(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	os.MkdirAll(data, 0o755)
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	same := filepath.Join(dir, "out")
	os.WriteFile(a, []byte(strings.NewReplacer("DATA", data, "OUT", same).Replace(imagesPipeline)), 0o644)
	os.WriteFile(b, []byte(strings.NewReplacer("DATA", data, "OUT", same).Replace(textPipeline)), 0o644)
	_, _, err := runCmd(t, newRunCmd(), a, b, "--progress", "none")
	if err == nil || !strings.Contains(err.Error(), "both write") {
		t.Fatalf("shared outputs: err = %v", err)
	}
	os.WriteFile(b, []byte(strings.NewReplacer("DATA", data, "OUT", filepath.Join(dir, "out2")).Replace(textPipeline)), 0o644)
	for _, c := range []struct{ flag, want string }{
		{"nope=2", `no pipeline is named "nope" (running: images, text)`},
		{"text=0", "must be a positive number"},
		{"text", "want NAME=W"},
	} {
		_, _, err := runCmd(t, newRunCmd(), a, b, "--weight", c.flag, "--progress", "none")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("--weight %s: err = %v, want %q", c.flag, err, c.want)
		}
	}
}

// TestMetricsOfTwoPipelines: two pipelines with the same stage names export their
// series side by side, told apart by a pipeline label, and the shared devices once.
func TestMetricsOfTwoPipelines(t *testing.T) {
	ctx := context.Background()
	sch, err := engine.NewScheduler(ctx, engine.SchedulerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sch.Close()
	env := engine.NewEnvironment()
	if err := builtins.Register(env); err != nil {
		t.Fatal(err)
	}
	var runs []*pipelineRun
	for _, name := range []string{"a", "b"} {
		spec := strings.ReplaceAll(`version: 1
name: NAME
source: {path: memory}
stages: [{name: norm, builtin: text.normalize, batch: {max: 8}}]
sinks: [{jsonl: OUT/results.jsonl}]
`, "NAME", name)
		spec = strings.ReplaceAll(spec, "OUT", t.TempDir())
		p, err := pipeline.Parse(name+".yaml", []byte(spec), pipeline.LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		r, err := engine.New(ctx, p, env, engine.Options{Source: &benchSource{n: 100}, Scheduler: sch})
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, &pipelineRun{file: name + ".yaml", p: p, r: r})
	}
	var wg sync.WaitGroup
	for _, pr := range runs {
		wg.Go(func() { pr.sum, pr.err = pr.r.Run(ctx) })
	}
	wg.Wait()
	for _, pr := range runs {
		if pr.err != nil || pr.sum.Done != 100 {
			t.Fatalf("%s: %v, done %d", pr.file, pr.err, pr.sum.Done)
		}
	}
	reg, err := metricsRegistry(runs, sch)
	if err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "{" + l.GetName() + "=" + l.GetValue() + "}"
			}
			if c := m.GetCounter(); c != nil {
				got[key] = c.GetValue()
			}
		}
	}
	for _, k := range []string{"plexus_stage_items_total{pipeline=a}{stage=norm}", "plexus_stage_items_total{pipeline=b}{stage=norm}"} {
		if got[k] != 100 {
			t.Errorf("%s = %v, want 100", k, got[k])
		}
	}
	if got["plexus_device_batches_total{device=cpu}{kind=cpu}"] == 0 {
		t.Errorf("no device metrics: %v", got)
	}
}
