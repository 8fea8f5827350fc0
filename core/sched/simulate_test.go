package sched

import (
	"reflect"
	"strings"
	"testing"

	"github.com/plexusml/plexus/core/pipeline"
)

func loadPipelines(t *testing.T, files ...string) []*pipeline.Pipeline {
	t.Helper()
	var ps []*pipeline.Pipeline
	for _, f := range files {
		p, err := pipeline.Load(f, pipeline.LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	return ps
}

func parsePipeline(t *testing.T, src string) *pipeline.Pipeline {
	t.Helper()
	p, err := pipeline.Parse("test.yaml", []byte(src), pipeline.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSimulateShippedDemo is the acceptance check: the shipped mixed pipeline
// on two simulated GPUs with three models reaches at least 1.5× the FIFO baseline's
// throughput, and reports GPU utilisation. The simulation is deterministic, so this
// compares two computed numbers, not timings.
func TestSimulateShippedDemo(t *testing.T) {
	ps := loadPipelines(t, "../../configs/sim-mixed-pipeline.yaml")
	c, err := LoadSimConfig("../../configs/sim-mixed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ours, err := Simulate(ps, c, PolicyScheduler)
	if err != nil {
		t.Fatal(err)
	}
	base, err := Simulate(ps, c, PolicyFIFO)
	if err != nil {
		t.Fatal(err)
	}
	ratio := ours.Throughput / base.Throughput
	t.Logf("scheduler %.1f items/s, fifo %.1f items/s: %.2fx", ours.Throughput, base.Throughput, ratio)
	if ratio < 1.5 {
		t.Errorf("throughput %.2fx the FIFO baseline, want at least 1.5x", ratio)
	}
	gpus := 0
	for _, d := range ours.Devices {
		t.Logf("%s utilisation %.2f", d.ID, d.Utilisation)
		if d.Kind == GPU {
			gpus++
			if d.Utilisation <= 0 || d.Utilisation > 1 {
				t.Errorf("%s utilisation %.3f outside (0, 1]", d.ID, d.Utilisation)
			}
		}
	}
	if gpus != 2 {
		t.Fatalf("%d GPUs in the result, want 2", gpus)
	}
	models := map[string]bool{}
	for _, st := range ps[0].Stages {
		if st.Model != "" {
			models[st.Model] = true
		}
	}
	if len(models) != 3 {
		t.Fatalf("the demo has %d models, want 3", len(models))
	}
	if ours.Items != c.Workload.Items || ours.Pipelines[0].Items != c.Workload.Items {
		t.Fatalf("%d items finished, want %d", ours.Pipelines[0].Items, c.Workload.Items)
	}
	again, err := Simulate(ps, c, PolicyScheduler)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, ours) {
		t.Fatal("two runs of one simulation differ")
	}
}

const simCPUOnly = `
devices:
  - {name: cpu, kind: cpu, memory: 16GiB, cores: 8}
latency:
  image.resize:    {per_item: 300us}
  resnet:          {fixed: 16ms, per_item: 2ms}
  asr-ctc:         {fixed: 40ms, per_item: 24ms}
  lstm-lm:         {fixed: 60ms, per_item: 8ms}
workload: {items: 300, mix: {image: 1, audio: 1, text: 1}}
`

// With no GPU, stages that accept any device run on the CPU, as they do for real.
func TestSimulateCPUOnly(t *testing.T) {
	ps := loadPipelines(t, "../../pipelines/mixed-demo.yaml")
	c, err := ParseSimConfig("cpu.yaml", []byte(simCPUOnly))
	if err != nil {
		t.Fatal(err)
	}
	for _, pol := range []Policy{PolicyScheduler, PolicyFIFO} {
		r, err := Simulate(ps, c, pol)
		if err != nil {
			t.Fatal(err)
		}
		if r.Pipelines[0].Items != 300 {
			t.Fatalf("%s: %d items finished", pol, r.Pipelines[0].Items)
		}
		for _, a := range r.Placement {
			if a.Device != "cpu" {
				t.Fatalf("%s placed on %s", a.Stage, a.Device)
			}
		}
	}
}

func TestSimulateRoutesByWhen(t *testing.T) {
	p := parsePipeline(t, `
version: 1
name: r
source: {path: x}
stages:
  - {name: img, plugin: v, model: m, when: image}
  - {name: txt, plugin: n, model: m, when: "text or has(img.label)"}
sinks: [{jsonl: out.jsonl}]
`)
	c, err := ParseSimConfig("s.yaml", []byte(`
devices: [{name: g, kind: gpu, memory: 8GiB}]
latency: {m: {per_item: 1ms}}
workload: {items: 100, mix: {image: 1, audio: 1, text: 2}}
`))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Simulate([]*pipeline.Pipeline{p}, c, PolicyScheduler)
	if err != nil {
		t.Fatal(err)
	}
	img, txt := r.Stages[0].Items, r.Stages[1].Items
	// Images run img and then txt (has(img.label)); texts run txt; audio runs nothing.
	if img == 0 || txt <= img || txt >= 100 {
		t.Fatalf("img ran %d items, txt %d of 100", img, txt)
	}
}

func TestSimulateTwoPipelinesShare(t *testing.T) {
	src := func(name string) string {
		return `
version: 1
name: ` + name + `
source: {path: x}
stages:
  - {name: s, plugin: v, model: m, batch: {max: 4}, resources: {device: gpu}}
sinks: [{jsonl: out.jsonl}]
`
	}
	a, b := parsePipeline(t, src("a")), parsePipeline(t, src("b"))
	c, err := ParseSimConfig("s.yaml", []byte(`
devices: [{name: g, kind: gpu, memory: 8GiB}]
latency: {m: {fixed: 1ms, per_item: 1ms}}
workload: {items: 2000, rate: 100000, mix: {text: 1}}
scheduler: {gpu_concurrency: 1, weights: {a: 1, b: 3}}
`))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Simulate([]*pipeline.Pipeline{a, b}, c, PolicyScheduler)
	if err != nil {
		t.Fatal(err)
	}
	// Full batches of 4 cost 5ms: the device does 800 items/s. While both are
	// backlogged b (weight 3) gets three quarters of it; b finishes first, so its
	// throughput over its own run is its share.
	pa, pb := r.Pipelines[0], r.Pipelines[1]
	within(t, "pipeline b while both run", pb.Throughput/800, 0.75)
	if pa.Items != 2000 || pb.Items != 2000 {
		t.Fatalf("items %d/%d", pa.Items, pb.Items)
	}
	if pb.Latency.P50 >= pa.Latency.P50 {
		t.Fatalf("the heavier pipeline's median latency %v is not below the lighter one's %v", pb.Latency.P50, pa.Latency.P50)
	}
}

func TestSimulateErrors(t *testing.T) {
	p := parsePipeline(t, `
version: 1
name: e
source: {path: x}
stages:
  - {name: s, plugin: v, model: unknown-model, resources: {device: gpu}}
sinks: [{jsonl: out.jsonl}]
`)
	for _, tc := range []struct{ sim, want string }{
		{"devices: [{name: g, kind: gpu, memory: 8GiB}]\nlatency: {m: {per_item: 1ms}}", "no latency model: add latency.unknown-model"},
		{"devices: [{name: c, kind: cpu, memory: 8GiB}]\nlatency: {unknown-model: {per_item: 1ms}}", "there is no gpu"},
		{"latency: {unknown-model: {per_item: 1ms}}", "declares no devices"},
	} {
		c, err := ParseSimConfig("s.yaml", []byte(tc.sim))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Simulate([]*pipeline.Pipeline{p}, c, PolicyScheduler)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.sim, err, tc.want)
		}
	}
}

func TestParseSimConfigErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"devices: [{name: g, kind: gpu, memory: lots}]", "s.yaml: devices.0 (g): memory: expected a size"},
		{"devices: [{name: g, kind: gpu, memory: 1GiB, colour: red}]", "field colour not found"},
		{"latency: {m: {fixed: fast}}", "latency.m.fixed: expected a duration"},
		{"latency: {m: {}}", "latency.m: fixed and per_item are both zero"},
		{"latency: {m: {per_item: 1ms, item_memory: -3}}", "latency.m.item_memory"},
		{"workload: {items: -1}", "workload.items"},
		{"workload: {mix: {video: 1}}", `workload.mix: "video" is not one of`},
		{"workload: {mix: {text: 0}}", "add up to zero"},
		{"scheduler: {weights: {a: 0}}", "scheduler.weights.a must be positive"},
		{"baseline: {batch: -2}", "baseline.batch"},
		{"devices: {", "s.yaml: yaml:"},
	} {
		_, err := ParseSimConfig("s.yaml", []byte(tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.src, err, tc.want)
		}
	}
	c, err := ParseSimConfig("empty.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Workload.Items != 2000 || c.Workload.Window != 256 || c.BaselineBatch != 4 || len(c.Workload.Mix) != 3 {
		t.Fatalf("defaults: %+v", c)
	}
}

func FuzzParseSimConfig(f *testing.F) {
	f.Add([]byte(simCPUOnly))
	f.Add([]byte("devices: [{name: g, kind: gpu, memory: 1.5GiB, speed: 2}]\nlatency: {m: {fixed: 1ms, item_memory: 1MiB}}"))
	f.Add([]byte("workload: {items: 5, rate: 10, mix: {audio: 0.5}}\nscheduler: {gpu_concurrency: 3, weights: {a: 2}}"))
	f.Add([]byte("latency: {m: {per_item: 1h}}\nbaseline: {batch: 7}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseSimConfig("fuzz.yaml", b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if c.Workload.Items <= 0 || c.Workload.Window <= 0 || c.BaselineBatch <= 0 || c.Workload.Rate < 0 {
			t.Fatalf("accepted an invalid workload: %+v", c.Workload)
		}
		for k, m := range c.Latency {
			if m.Fixed+m.PerItem <= 0 || m.Fixed < 0 || m.PerItem < 0 || m.ItemMemory < 0 {
				t.Fatalf("accepted latency %s: %+v", k, m)
			}
		}
	})
}
