package sched

import (
	"strings"
	"testing"
)

const checkSrc = `version: 1
name: c
source: {path: x}
stages:
  - name: thumbs
    builtin: image.resize
  - name: vocode
    plugin: speech
    model: wavenet
    resources: {device: gpu, memory: 2GiB}
  - name: big
    plugin: nlp
    model: lm
    resources:
      memory: 100GiB
  - name: fine
    plugin: vision
    model: resnet
sinks: [{jsonl: out.jsonl}]
`

func TestCheckPlacement(t *testing.T) {
	p := parsePipeline(t, checkSrc)
	cpuOnly := []Device{{ID: "cpu", Kind: CPU, Memory: 16 * gib, Free: 16 * gib}}
	ds := CheckPlacement(p, cpuOnly)
	got := make([]string, len(ds))
	for i, d := range ds {
		got[i] = d.String()
	}
	want := []string{
		"test.yaml:10:25: stage vocode needs 1 × 2 GiB on gpu; there is no gpu on this machine",
		"test.yaml:15:15: stage big needs 1 × 100 GiB on any device; the largest free device has 16 GiB",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	withGPU := append(cpuOnly, Device{ID: "gpu0", Kind: GPU, Memory: 24 * gib, Free: 24 * gib})
	ds = CheckPlacement(p, withGPU)
	if len(ds) != 1 || !strings.Contains(ds[0].Msg, "stage big") {
		t.Fatalf("with a GPU: %v", ds)
	}
	// Each stage fits alone but not together: the first that no longer fits is named.
	p2 := parsePipeline(t, strings.Replace(checkSrc, "memory: 100GiB", "memory: 14GiB", 1))
	two := []Device{{ID: "cpu", Kind: CPU, Memory: 16 * gib, Free: 16 * gib}, {ID: "gpu0", Kind: GPU, Memory: 4 * gib, Free: 4 * gib}}
	p2.Stages[3].Resources.Memory = 3 << 30
	ds = CheckPlacement(p2, two)
	if len(ds) != 1 || !strings.Contains(ds[0].Msg, "stage fine") || !strings.Contains(ds[0].Msg, "beside the stages before it") {
		t.Fatalf("together: %v", ds)
	}
	if ds := CheckPlacement(parsePipeline(t, strings.Replace(checkSrc, "memory: 100GiB", "memory: 1GiB", 1)), withGPU); len(ds) != 0 {
		t.Fatalf("a placeable pipeline got %v", ds)
	}
}

func TestAssignmentEnv(t *testing.T) {
	g := Assignment{Stage: "s", Device: "gpu1", Kind: GPU, Index: 1}
	if got := strings.Join(g.Env(), " "); got != "CUDA_VISIBLE_DEVICES=1 PLEXUS_DEVICE=gpu1 PLEXUS_DEVICE_KIND=gpu" {
		t.Fatalf("gpu env: %s", got)
	}
	if g.LoadDevice() != "cuda:0" {
		t.Fatalf("gpu load device %q", g.LoadDevice())
	}
	c := Assignment{Stage: "s", Device: "cpu", Kind: CPU}
	if got := strings.Join(c.Env(), " "); got != "CUDA_VISIBLE_DEVICES= PLEXUS_DEVICE=cpu PLEXUS_DEVICE_KIND=cpu" {
		t.Fatalf("cpu env: %s", got)
	}
	if c.LoadDevice() != "cpu" {
		t.Fatalf("cpu load device %q", c.LoadDevice())
	}
}

func TestStageRequest(t *testing.T) {
	p := parsePipeline(t, checkSrc)
	reqs := Requests(p)
	if r := reqs[0]; r.Device != "cpu" || r.Memory != 0 || r.Min != 1 || r.Max != 1 {
		t.Fatalf("builtin request %+v", r)
	}
	if r := reqs[1]; r.Device != "gpu" || r.Memory != 2*gib {
		t.Fatalf("gpu request %+v", r)
	}
	if r := reqs[3]; r.Device != "any" {
		t.Fatalf("default request %+v", r)
	}
}
