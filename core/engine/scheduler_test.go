package engine

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexusml/plexus/core/sched"
)

// simDevices is a CPU and two GPUs of 16 GiB, as a capacity plan would declare them.
func simDevices() []sched.Device {
	return []sched.Device{
		{ID: "cpu", Kind: sched.CPU, Memory: 64 << 30, Free: 64 << 30, Cores: 4},
		{ID: "sim-gpu0", Kind: sched.GPU, Index: 0, Memory: 16 << 30, Free: 16 << 30},
		{ID: "sim-gpu1", Kind: sched.GPU, Index: 1, Memory: 16 << 30, Free: 16 << 30},
	}
}

// deviceStage is a plugin stage that records where it was placed and upper-cases text.
type deviceStage struct{ dev sched.Assignment }

func (d *deviceStage) Process(ctx context.Context, items []Item, res []Result) error {
	for i := range items {
		res[i].Set("device", d.dev.Device)
	}
	return nil
}

// TestPlacementReachesTheFactory: a GPU stage's instances are spread over the GPUs,
// and each instance's factory call carries its assignment (so a plugin process starts
// pinned to it); a builtin stays on the CPU.
func TestPlacementReachesTheFactory(t *testing.T) {
	dir := t.TempDir()
	p := parse(t, dir, `
version: 1
name: placed
source: {path: mem}
stages:
  - {name: up, builtin: upper, when: text}
  - {name: m, plugin: fake, model: x, resources: {device: gpu, memory: 10GiB, instances: 2}}
sinks: [{jsonl: OUT/out.jsonl}]
`)
	env := envWith(map[string]Factory{"upper": constFactory(upper)})
	var mu sync.Mutex
	var got []sched.Assignment
	env.SetPlugins(func(ctx context.Context, s Spec) (Stage, error) {
		mu.Lock()
		got = append(got, s.Device)
		mu.Unlock()
		return &deviceStage{dev: s.Device}, nil
	})
	sch, err := NewScheduler(context.Background(), SchedulerOptions{Devices: simDevices()})
	if err != nil {
		t.Fatal(err)
	}
	defer sch.Close()
	r, err := New(context.Background(), p, env, Options{Source: &memSource{n: 60}, Scheduler: sch})
	if err != nil {
		t.Fatal(err)
	}
	devs := map[string]bool{}
	for _, a := range got {
		devs[a.Device] = true
		if a.Kind != sched.GPU || a.LoadDevice() != "cuda:0" || !strings.Contains(strings.Join(a.Env(), " "), fmt.Sprintf("CUDA_VISIBLE_DEVICES=%d", a.Index)) {
			t.Errorf("instance %d: assignment %+v, env %v", a.Instance, a, a.Env())
		}
	}
	if len(got) != 2 || !devs["sim-gpu0"] || !devs["sim-gpu1"] {
		t.Fatalf("instances placed on %v, want one on each GPU", got)
	}
	// A 10 GiB instance left 6 GiB on each GPU: a second pipeline asking for 8 GiB on
	// a GPU must not be placed on top of the first.
	p2 := parse(t, t.TempDir(), `
version: 1
source: {path: mem}
stages: [{name: big, plugin: fake, model: x, resources: {device: gpu, memory: 8GiB}}]
sinks: [{jsonl: OUT/out.jsonl}]
`)
	if _, err := New(context.Background(), p2, env, Options{Source: &memSource{n: 1}, Scheduler: sch}); err == nil ||
		!strings.Contains(err.Error(), "stage big needs 1 × 8 GiB on gpu; the largest free GPU has 6 GiB") {
		t.Fatalf("second pipeline: err = %v, want a placement error", err)
	}
	sum, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Done != 60 {
		t.Fatalf("done %d, want 60", sum.Done)
	}
	st := sch.Stats()
	var gpuBatches int64
	for _, d := range st.Devices {
		if d.Kind == sched.GPU {
			gpuBatches += d.Batches
		}
	}
	if gpuBatches == 0 {
		t.Fatalf("no batch ran on a GPU: %+v", st.Devices)
	}
}

// TestNoGPUFailsPlacement: on a machine without a GPU a stage that needs one cannot
// start, and the error says why.
func TestNoGPUFailsPlacement(t *testing.T) {
	p := parse(t, t.TempDir(), `
version: 1
source: {path: mem}
stages: [{name: vocode, plugin: fake, model: x, resources: {device: gpu, memory: 2GiB}}]
sinks: [{jsonl: OUT/out.jsonl}]
`)
	env := NewEnvironment()
	env.SetPlugins(func(ctx context.Context, s Spec) (Stage, error) {
		t.Error("an instance was started although the stage cannot be placed")
		return &deviceStage{}, nil
	})
	sch, err := NewScheduler(context.Background(), SchedulerOptions{Devices: simDevices()[:1]})
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(context.Background(), p, env, Options{Source: &memSource{n: 1}, Scheduler: sch})
	if err == nil || !strings.Contains(err.Error(), "stage vocode needs 1 × 2 GiB on gpu; there is no gpu on this machine") {
		t.Fatalf("err = %v", err)
	}
}

// dying fails every batch as a whole on one instance (a plugin that crashes on load
// every time) and works on the others.
type dying struct {
	dead   bool
	mu     *sync.Mutex
	served map[bool]int
}

func (d *dying) Process(ctx context.Context, items []Item, res []Result) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dead {
		d.served[true] += len(items)
		return errors.New("plugin process died")
	}
	d.served[false] += len(items)
	for i := range res {
		res[i].Set("ok", true)
	}
	return nil
}

// TestDeadInstanceBatchesGoToSiblings: a batch that fails as a whole on one instance
// is handed back to the scheduler and runs on a live sibling, so with retries left
// no item is lost even though one instance never succeeds.
func TestDeadInstanceBatchesGoToSiblings(t *testing.T) {
	dir := t.TempDir()
	p := parse(t, dir, `
version: 1
source: {path: mem}
stages: [{name: s, builtin: dying, batch: {max: 4}, resources: {instances: 2}}]
sinks: [{jsonl: OUT/out.jsonl}]
errors: {policy: retry, retries: 2}
`)
	var mu sync.Mutex
	served := map[bool]int{}
	env := envWith(map[string]Factory{"dying": func(ctx context.Context, s Spec) (Stage, error) {
		return &dying{dead: s.Instance == 0, mu: &mu, served: served}, nil
	}})
	r, err := New(context.Background(), p, env, Options{Source: &memSource{n: 200}})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := r.Run(context.Background())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if sum.Done != 200 || sum.Failed != 0 {
		t.Fatalf("done %d failed %d, want 200 and 0", sum.Done, sum.Failed)
	}
	if n := len(readLines(t, filepath.Join(dir, "out.jsonl"))); n != 200 {
		t.Fatalf("%d lines, want 200", n)
	}
	if served[false] != 200 {
		t.Fatalf("the live instance ran %d items, want all 200", served[false])
	}
}

// TestPipelinesShareOneScheduler: two pipelines run at once through one scheduler,
// each with its own sink and ledger, both complete, and the scheduler's statistics
// cover the stages of both.
func TestPipelinesShareOneScheduler(t *testing.T) {
	sch, err := NewScheduler(context.Background(), SchedulerOptions{Devices: simDevices(), Weights: map[string]float64{"a": 1, "b": 3}})
	if err != nil {
		t.Fatal(err)
	}
	defer sch.Close()
	env := envWith(map[string]Factory{"upper": constFactory(upper)})
	env.SetPlugins(func(ctx context.Context, s Spec) (Stage, error) { return &deviceStage{dev: s.Device}, nil })
	var runners []*Runner
	var dirs []string
	for _, name := range []string{"a", "b"} {
		dir := t.TempDir()
		p := parse(t, dir, `
version: 1
name: `+name+`
source: {path: mem}
stages:
  - {name: up, builtin: upper, when: text, batch: {max: 8}}
  - {name: m, plugin: fake, model: x, batch: {max: 8}, resources: {device: gpu, memory: 4GiB}}
sinks: [{jsonl: OUT/out.jsonl}]
`)
		r, err := New(context.Background(), p, env, Options{Source: &memSource{n: 500}, Scheduler: sch})
		if err != nil {
			t.Fatal(err)
		}
		runners = append(runners, r)
		dirs = append(dirs, dir)
	}
	errs := make([]error, len(runners))
	sums := make([]*Summary, len(runners))
	var wg sync.WaitGroup
	for i, r := range runners {
		wg.Go(func() { sums[i], errs[i] = r.Run(context.Background()) })
	}
	wg.Wait()
	for i := range runners {
		if errs[i] != nil {
			t.Fatalf("pipeline %d: %v", i, errs[i])
		}
		if sums[i].Done != 500 {
			t.Fatalf("pipeline %d: done %d, want 500", i, sums[i].Done)
		}
		if n := len(readLines(t, filepath.Join(dirs[i], "out.jsonl"))); n != 500 {
			t.Fatalf("pipeline %d: %d lines, want 500", i, n)
		}
		if runners[i].LedgerPath() == "" || filepath.Dir(runners[i].LedgerPath()) != dirs[i] {
			t.Fatalf("pipeline %d: ledger %q, want one in %s", i, runners[i].LedgerPath(), dirs[i])
		}
	}
	items := map[string]int64{}
	for _, st := range sch.Stats().Stages {
		items[st.Pipeline+"/"+st.Stage] = st.Items
	}
	if items["a/m"] != 500 || items["b/m"] != 500 || items["a/up"] == 0 || items["b/up"] == 0 {
		t.Fatalf("scheduler items by stage %v", items)
	}
	// The summary carries the scheduler's view of the run's own stages and devices.
	if s := sums[0].Stages[1]; s.Sched == nil || s.Sched.Items != 500 || len(s.Sched.Instances) != 1 {
		t.Fatalf("pipeline a stage m: scheduler stats %+v", s.Sched)
	}
	var buf strings.Builder
	if err := sums[0].WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"device", "sim-gpu0", "m/0"} {
		if !strings.Contains(buf.String(), want) {
			t.Fatalf("summary lacks %q:\n%s", want, buf.String())
		}
	}
}

// failing fails every item for good.
type failing struct{}

func (failing) Process(ctx context.Context, items []Item, res []Result) error {
	for i := range res {
		res[i].Err = Permanent(errors.New("broken model"))
	}
	return nil
}

// TestFailedPipelineReleasesSharedDevice: two pipelines share one GPU that runs one
// batch at a time; the first stops on its first item (fail-fast) with batches still
// dispatched to its instances. Those must leave the GPU, or the second pipeline would
// wait behind them forever.
func TestFailedPipelineReleasesSharedDevice(t *testing.T) {
	devs := simDevices()[:2]
	sch, err := NewScheduler(context.Background(), SchedulerOptions{Devices: devs})
	if err != nil {
		t.Fatal(err)
	}
	defer sch.Close()
	env := NewEnvironment()
	env.SetPlugins(func(ctx context.Context, s Spec) (Stage, error) {
		if s.Pipeline.Name == "broken" {
			return failing{}, nil
		}
		return &deviceStage{dev: s.Device}, nil
	})
	var runners []*Runner
	for _, name := range []string{"broken", "fine"} {
		p := parse(t, t.TempDir(), `
version: 1
name: `+name+`
source: {path: mem}
stages: [{name: m, plugin: fake, model: x, batch: {max: 2}, resources: {device: gpu, memory: 1GiB, instances: 3}}]
sinks: [{jsonl: OUT/out.jsonl}]
errors: {policy: fail-fast}
`)
		r, err := New(context.Background(), p, env, Options{Source: &memSource{n: 2000}, Scheduler: sch})
		if err != nil {
			t.Fatal(err)
		}
		runners = append(runners, r)
	}
	errs := make([]error, 2)
	sums := make([]*Summary, 2)
	var wg sync.WaitGroup
	for i, r := range runners {
		wg.Go(func() { sums[i], errs[i] = r.Run(context.Background()) })
	}
	wg.Wait()
	if errs[0] == nil || !strings.Contains(errs[0].Error(), "broken model") {
		t.Fatalf("broken pipeline: err = %v", errs[0])
	}
	if errs[1] != nil || sums[1].Done != 2000 {
		t.Fatalf("fine pipeline: err = %v, done %d", errs[1], sums[1].Done)
	}
}

// TestTwoGPUStagesOnOneGPUDoNotDeadlock: two chained stages share a GPU that runs one
// batch at a time, with queues of one. A worker waiting for room downstream must not
// keep the GPU's only slot, or the downstream stage could never run to make room.
func TestTwoGPUStagesOnOneGPUDoNotDeadlock(t *testing.T) {
	dir := t.TempDir()
	p := parse(t, dir, `
version: 1
source: {path: mem}
stages:
  - {name: a, plugin: fake, model: x, resources: {device: gpu, memory: 1GiB}}
  - {name: b, plugin: fake, model: x, after: [a], resources: {device: gpu, memory: 1GiB}}
sinks: [{jsonl: OUT/out.jsonl}]
`)
	env := NewEnvironment()
	env.SetPlugins(func(ctx context.Context, s Spec) (Stage, error) { return &deviceStage{dev: s.Device}, nil })
	sch, err := NewScheduler(context.Background(), SchedulerOptions{Devices: simDevices()[:2]})
	if err != nil {
		t.Fatal(err)
	}
	defer sch.Close()
	r, err := New(context.Background(), p, env, Options{Source: &memSource{n: 3000}, QueueCap: 1, Scheduler: sch})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sum, err := r.Run(ctx)
	if err != nil {
		t.Fatalf("run: %v (a deadlock ends in the test's deadline)", err)
	}
	if sum.Done != 3000 {
		t.Fatalf("done %d, want 3000", sum.Done)
	}
}
