package engine

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/plexusml/plexus/core/plugin"
)

// actionSource yields items whose "action" field tells the faulty test plugin what to do.
type actionSource struct {
	actions []string
	i       int
}

func (s *actionSource) Next(context.Context) (*Record, error) {
	if s.i >= len(s.actions) {
		return nil, io.EOF
	}
	s.i++
	return &Record{ID: fmt.Sprintf("a%03d", s.i), Modality: "text", Fields: map[string]any{"action": s.actions[s.i-1]}}, nil
}

// TestPluginStageSupervision runs a stage on a real plugin process that crashes once,
// is poisoned by one item and rejects another: the crash is retried transparently, the
// poison and the bad item are dead-lettered with their reasons, and every other item
// comes through with the plugin's fields and provenance.
func TestPluginStageSupervision(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts plugin processes")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "faulty")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/plexusml/plexus/core/plugin/internal/testplugins/faulty").CombinedOutput(); err != nil {
		t.Fatalf("build the faulty plugin: %v\n%s", err, out)
	}
	state := filepath.Join(dir, "state")
	os.MkdirAll(state, 0o755)
	host := plugin.NewHost(plugin.HostOptions{SkipPATH: true, Env: []string{"FAULTY_STATE=" + state},
		Logger: hclog.New(&hclog.LoggerOptions{Output: io.Discard})})
	defer host.Close()
	host.Add(plugin.Found{Name: "faulty", Path: bin})
	env := NewEnvironment()
	env.SetPlugins(PluginFactory(host))

	actions := make([]string, 40)
	for i := range actions {
		actions[i] = "ok"
	}
	actions[5], actions[17], actions[30] = "exit-once", "poison", "bad"
	p := parse(t, dir, `
version: 1
source: {path: mem}
stages:
  - {name: p, plugin: faulty, model: m, task: run, config: {greeting: hello}, batch: {max: 8}, resources: {instances: 2}}
sinks: [{jsonl: OUT/out.jsonl}]
errors: {policy: dead-letter, path: OUT/dead.jsonl}
`)
	r, err := New(context.Background(), p, env, Options{Source: &actionSource{actions: actions}, Version: "t"})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := readLines(t, filepath.Join(dir, "out.jsonl"))
	if len(out) != 38 {
		t.Fatalf("%d results, want 38", len(out))
	}
	for _, m := range out {
		f := m["fields"].(map[string]any)
		if f["p.greeting"] != "hello" || f["p.id"] != m["id"] {
			t.Fatalf("result %v", m)
		}
		st := m["provenance"].(map[string]any)["stages"].(map[string]any)["p"].(map[string]any)
		if st["plugin"] != "faulty" || st["version"] != "0.1.0" || st["model"] != "m" {
			t.Fatalf("provenance %v", st)
		}
	}
	dead := map[string]string{}
	for _, m := range readLines(t, filepath.Join(dir, "dead.jsonl")) {
		dead[m["id"].(string)] = m["error"].(string)
	}
	if !strings.Contains(dead["a018"], "crashes its plugin") || !strings.Contains(dead["a031"], "cannot be processed") || len(dead) != 2 {
		t.Fatalf("dead letters %v", dead)
	}
	if sum.Stages[0].Restarts == 0 {
		t.Fatalf("no plugin restarts counted: %+v", sum.Stages[0])
	}
}

// TestPluginInstancesStartOnTheirDevices runs a real plugin process per instance of a
// GPU stage placed on two (simulated) GPUs: each process is started pinned to its GPU
// (CUDA_VISIBLE_DEVICES) and told its device, and a CPU stage's process is told "cpu".
func TestPluginInstancesStartOnTheirDevices(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts plugin processes")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "where")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/plexusml/plexus/core/engine/internal/whereplugin").CombinedOutput(); err != nil {
		t.Fatalf("build the test plugin: %v\n%s", err, out)
	}
	host := plugin.NewHost(plugin.HostOptions{SkipPATH: true, Logger: hclog.New(&hclog.LoggerOptions{Output: io.Discard})})
	defer host.Close()
	host.Add(plugin.Found{Name: "where", Path: bin})
	env := NewEnvironment()
	env.SetPlugins(PluginFactory(host))
	p := parse(t, dir, `
version: 1
source: {path: mem}
stages:
  - {name: g, plugin: where, model: where, task: where, batch: {max: 2}, resources: {device: gpu, memory: 1GiB, instances: 2}}
  - {name: c, plugin: where, model: where, task: where, resources: {device: cpu}}
sinks: [{jsonl: OUT/out.jsonl}]
`)
	sch, err := NewScheduler(context.Background(), SchedulerOptions{Devices: simDevices()})
	if err != nil {
		t.Fatal(err)
	}
	defer sch.Close()
	r, err := New(context.Background(), p, env, Options{Source: &memSource{n: 40}, Scheduler: sch})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	gpus := map[string]bool{}
	for _, l := range readLines(t, filepath.Join(dir, "out.jsonl")) {
		f := l["fields"].(map[string]any)
		load, cuda, env := f["g.load"], f["g.cuda"], f["g.env"]
		if load != "gpu:"+fmt.Sprint(cuda) || env != load {
			t.Fatalf("%s: GPU instance loaded on %v with CUDA_VISIBLE_DEVICES=%v, PLEXUS_DEVICE=%v", l["id"], load, cuda, env)
		}
		gpus[load.(string)] = true
		if f["c.load"] != "cpu" || f["c.env"] != "cpu" {
			t.Fatalf("%s: CPU instance loaded on %v, PLEXUS_DEVICE=%v", l["id"], f["c.load"], f["c.env"])
		}
	}
	if !gpus["gpu:0"] || !gpus["gpu:1"] {
		t.Fatalf("items ran on %v, want both GPUs", gpus)
	}
}

// TestDeadPluginInstanceWorkMovesToSibling: the plugin process of one of two instances
// exits on its first batch and then never loads again. Its supervisor gives up, the
// engine declares the instance dead to the scheduler, and its batches run on the other
// instance: every item comes through, all from the live GPU.
func TestDeadPluginInstanceWorkMovesToSibling(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts plugin processes")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "where")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/plexusml/plexus/core/engine/internal/whereplugin").CombinedOutput(); err != nil {
		t.Fatalf("build the test plugin: %v\n%s", err, out)
	}
	host := plugin.NewHost(plugin.HostOptions{SkipPATH: true, Env: []string{"WHERE_DIE_ON=gpu:0", "WHERE_STATE=" + dir},
		Backoff: plugin.Backoff{Initial: time.Millisecond, Max: 10 * time.Millisecond},
		Logger:  hclog.New(&hclog.LoggerOptions{Output: io.Discard})})
	defer host.Close()
	host.Add(plugin.Found{Name: "where", Path: bin})
	env := NewEnvironment()
	env.SetPlugins(PluginFactory(host))
	p := parse(t, dir, `
version: 1
source: {path: mem}
stages:
  - {name: g, plugin: where, model: where, task: where, batch: {max: 4}, resources: {device: gpu, memory: 1GiB, instances: 2}}
sinks: [{jsonl: OUT/out.jsonl}]
errors: {policy: retry, retries: 3}
`)
	sch, err := NewScheduler(context.Background(), SchedulerOptions{Devices: simDevices()})
	if err != nil {
		t.Fatal(err)
	}
	defer sch.Close()
	r, err := New(context.Background(), p, env, Options{Source: &memSource{n: 100}, Scheduler: sch})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Done != 100 {
		t.Fatalf("done %d, want 100", sum.Done)
	}
	if _, err := os.Stat(filepath.Join(dir, "died-gpu:0")); err != nil {
		t.Fatalf("the gpu:0 instance never ran a batch, so nothing was tested: %v", err)
	}
	for _, l := range readLines(t, filepath.Join(dir, "out.jsonl")) {
		if f := l["fields"].(map[string]any); f["g.load"] != "gpu:1" {
			t.Fatalf("%s ran on %v", l["id"], f["g.load"])
		}
	}
}
