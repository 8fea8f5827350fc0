package sched

import (
	"math"
	"testing"
	"time"
)

// fairRun keeps every stage backlogged on one device that runs one batch at a time
// and returns the device time each stage got over span of simulated time.
func fairRun(t *testing.T, o SchedulerOptions, cfgs []StageConfig, perItem []time.Duration, span time.Duration) []time.Duration {
	t.Helper()
	o.Concurrency = map[Kind]int{GPU: 1}
	s := NewScheduler[int](oneGPU(8*gib), o)
	var ids []StageID
	for _, c := range cfgs {
		ids = append(ids, mustStage(t, s, c, Assignment{Stage: c.Name, Device: "g0"}))
	}
	used := make([]time.Duration, len(cfgs))
	now := k0
	for now.Sub(k0) < span {
		for _, id := range ids {
			for s.Queued(id) < 2*cfgs[id].Batch.Max {
				if err := s.Submit(now, id, 0, 0); err != nil {
					t.Fatal(err)
				}
			}
		}
		d, ok := s.Next(now)
		if !ok {
			t.Fatal("nothing to run with every stage backlogged")
		}
		cost := time.Millisecond + time.Duration(len(d.Items))*perItem[d.Stage]
		now = now.Add(cost)
		used[d.Stage] += cost
		s.Done(now, d.ID)
	}
	return used
}

func within(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 0.1*want {
		t.Errorf("%s: share %.3f, want %.3f ± 10%%", what, got, want)
	} else {
		t.Logf("%s: share %.3f, want %.3f", what, got, want)
	}
}

func TestFairnessBetweenPipelines(t *testing.T) {
	// Pipeline b weighs 3, a weighs 1; a's items cost three times b's, so an
	// item-count share would be far off: the share is of device time.
	o := SchedulerOptions{PipelineWeights: map[string]float64{"a": 1, "b": 3}}
	cfgs := []StageConfig{
		{Pipeline: "a", Name: "sa", Batch: BatchOptions{Max: 8}},
		{Pipeline: "b", Name: "sb", Batch: BatchOptions{Max: 4}},
	}
	used := fairRun(t, o, cfgs, []time.Duration{3 * time.Millisecond, time.Millisecond}, 30*time.Second)
	total := float64(used[0] + used[1])
	within(t, "pipeline a", float64(used[0])/total, 0.25)
	within(t, "pipeline b", float64(used[1])/total, 0.75)
}

func TestFairnessBetweenStagesAndPipelines(t *testing.T) {
	// Pipelines a and b share equally; inside a, stage a2 weighs 2 and a1 weighs 1.
	cfgs := []StageConfig{
		{Pipeline: "a", Name: "a1", Batch: BatchOptions{Max: 4}, Weight: 1},
		{Pipeline: "a", Name: "a2", Batch: BatchOptions{Max: 2}, Weight: 2},
		{Pipeline: "b", Name: "b1", Batch: BatchOptions{Max: 16}},
	}
	used := fairRun(t, SchedulerOptions{}, cfgs, []time.Duration{time.Millisecond, 5 * time.Millisecond, 500 * time.Microsecond}, 30*time.Second)
	total := float64(used[0] + used[1] + used[2])
	within(t, "stage a1", float64(used[0])/total, 1.0/6)
	within(t, "stage a2", float64(used[1])/total, 2.0/6)
	within(t, "pipeline b", float64(used[2])/total, 0.5)
}

func TestFairnessNoBankedCredit(t *testing.T) {
	// Pipeline b sleeps while a runs alone for a long time; when b wakes it gets its
	// half from then on, not the whole device until it has caught up.
	s := NewScheduler[int](oneGPU(gib), SchedulerOptions{Concurrency: map[Kind]int{GPU: 1}})
	a := mustStage(t, s, StageConfig{Pipeline: "a", Name: "a", Batch: BatchOptions{Max: 1}}, Assignment{Stage: "a", Device: "g0"})
	b := mustStage(t, s, StageConfig{Pipeline: "b", Name: "b", Batch: BatchOptions{Max: 1}}, Assignment{Stage: "b", Device: "g0"})
	now := k0
	run := func(n int, both bool) (na, nb int) {
		for range n {
			submitN(t, s, now, a, 0, 1)
			if both {
				submitN(t, s, now, b, 0, 1)
			}
			for {
				d, ok := s.Next(now)
				if !ok {
					break
				}
				now = now.Add(time.Millisecond)
				s.Done(now, d.ID)
				if d.Stage == a {
					na++
				} else {
					nb++
				}
			}
		}
		return
	}
	run(1000, false)
	// From now on both submit one item a step; a backlog of a's keeps a busy.
	submitN(t, s, now, a, 0, 50)
	na, nb := 0, 0
	for range 100 {
		submitN(t, s, now, a, 0, 1)
		submitN(t, s, now, b, 0, 1)
		d, ok := s.Next(now)
		if !ok {
			t.Fatal("idle")
		}
		now = now.Add(time.Millisecond)
		s.Done(now, d.ID)
		if d.Stage == a {
			na++
		} else {
			nb++
		}
	}
	if na < 40 || nb < 40 {
		t.Fatalf("after waking: a ran %d, b ran %d of 100; want about half each", na, nb)
	}
}
