package sched

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

var k0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

const mib = int64(1) << 20

func oneGPU(mem int64) []Device {
	return []Device{{ID: "g0", Kind: GPU, Memory: mem, Free: mem, Speed: 1}}
}

func at(ms float64) time.Time { return k0.Add(time.Duration(ms * float64(time.Millisecond))) }

func mustStage[T any](t *testing.T, s *Scheduler[T], c StageConfig, insts ...Assignment) StageID {
	t.Helper()
	id, err := s.AddStage(c, insts)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func submitN(t *testing.T, s *Scheduler[int], now time.Time, st StageID, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if err := s.Submit(now, st, i, 0); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMaxDelayHonoured(t *testing.T) {
	s := NewScheduler[int](oneGPU(gib), SchedulerOptions{})
	st := mustStage(t, s, StageConfig{Name: "a", Batch: BatchOptions{Max: 8, Delay: 5 * time.Millisecond}},
		Assignment{Stage: "a", Device: "g0"})
	submitN(t, s, at(0), st, 0, 2)
	submitN(t, s, at(3), st, 2, 1)
	if _, ok := s.Next(at(4.999)); ok {
		t.Fatal("a partial batch left before its oldest item's deadline")
	}
	dl, ok := s.NextDeadline(at(4.999))
	if !ok || !dl.Equal(at(5)) {
		t.Fatalf("NextDeadline = %v %v, want the first item's arrival + 5ms", dl, ok)
	}
	d, ok := s.Next(at(5))
	if !ok || !reflect.DeepEqual(d.Items, []int{0, 1, 2}) {
		t.Fatalf("at the deadline got %v %v, want the 3 waiting items", d.Items, ok)
	}
	if st := s.Stats(at(5)).Stages[0]; st.MaxWait != 5*time.Millisecond {
		t.Fatalf("max wait %v, want 5ms", st.MaxWait)
	}
	// A full batch leaves at once, deadline or not.
	s.Done(at(6), d.ID)
	submitN(t, s, at(6), st, 3, 8)
	if d, ok := s.Next(at(6)); !ok || len(d.Items) != 8 {
		t.Fatalf("full batch: got %d items %v", len(d.Items), ok)
	}
}

func TestMaxDelayWithDispatcherAndFakeClock(t *testing.T) {
	clk := NewFakeClock(k0)
	s := NewScheduler[int](oneGPU(gib), SchedulerOptions{})
	st := mustStage(t, s, StageConfig{Name: "a", Batch: BatchOptions{Max: 8, Delay: 5 * time.Millisecond}},
		Assignment{Stage: "a", Device: "g0"})
	d := NewDispatcher(s, clk)
	ctx := t.Context()
	errc := make(chan error, 1)
	go func() { errc <- d.Run(ctx) }()
	for i := range 3 {
		if err := d.Submit(ctx, st, i, 0); err != nil {
			t.Fatal(err)
		}
	}
	got := make(chan Dispatch[int], 1)
	go func() {
		b, err := d.Next(ctx, st, 0)
		if err != nil {
			t.Error(err)
		}
		got <- b
	}()
	clk.WaitTimers(1) // Run armed the deadline
	clk.Advance(4 * time.Millisecond)
	select {
	case b := <-got:
		t.Fatalf("batch %v left before the deadline", b.Items)
	default:
	}
	clk.Advance(time.Millisecond)
	b := <-got
	if !reflect.DeepEqual(b.Items, []int{0, 1, 2}) {
		t.Fatalf("batch = %v", b.Items)
	}
	d.Done(b)
	d.Close()
	if err := <-errc; err != nil {
		t.Fatalf("Run after Close: %v", err)
	}
}

func TestPreferredSizes(t *testing.T) {
	s := NewScheduler[int](oneGPU(gib), SchedulerOptions{Concurrency: map[Kind]int{GPU: 1}})
	st := mustStage(t, s, StageConfig{Name: "a", Batch: BatchOptions{Max: 16, Delay: time.Second}, Preferred: []int{4, 8}},
		Assignment{Stage: "a", Device: "g0"})
	submitN(t, s, at(0), st, 0, 3)
	if _, ok := s.Next(at(0)); ok {
		t.Fatal("cut below the smallest preferred size before the deadline")
	}
	submitN(t, s, at(1), st, 3, 3)
	d, ok := s.Next(at(1))
	if !ok || len(d.Items) != 4 {
		t.Fatalf("with 6 waiting and an idle instance got %d items, want preferred size 4", len(d.Items))
	}
	// While the only instance is busy items gather: 2 left + 14 = 16 is a full batch,
	// which is queued, not cut at a preferred size.
	submitN(t, s, at(2), st, 6, 14)
	if _, ok := s.Next(at(2)); ok {
		t.Fatal("dispatched to a busy instance")
	}
	if q := s.Stats(at(2)).Stages[0].Instances[0].Queued; q != 1 {
		t.Fatalf("full batches queued at the instance = %d, want 1", q)
	}
	s.Done(at(3), d.ID)
	if d, ok := s.Next(at(3)); !ok || len(d.Items) != 16 || d.Items[0] != 4 {
		t.Fatalf("after Done got %v, want the queued batch of 16 starting at item 4", d.Items)
	}
}

func TestPreferredLargestThatFits(t *testing.T) {
	s := NewScheduler[int](oneGPU(gib), SchedulerOptions{})
	st := mustStage(t, s, StageConfig{Name: "a", Batch: BatchOptions{Max: 16, Delay: time.Second}, Preferred: []int{2, 8, 12}},
		Assignment{Stage: "a", Device: "g0"})
	submitN(t, s, at(0), st, 0, 11)
	if d, ok := s.Next(at(0)); !ok || len(d.Items) != 8 {
		t.Fatalf("11 waiting: got %d, want the largest preferred size that can be cut (8)", len(d.Items))
	}
}

// TestDispatchLimits drives random work through the scheduler and checks after every
// step that no device runs more batches than its limit or more working memory than
// its budget, and that every item runs exactly once.
func TestDispatchLimits(t *testing.T) {
	devs := []Device{
		{ID: "g0", Kind: GPU, Memory: 4 * gib, Speed: 2},
		{ID: "g1", Kind: GPU, Memory: 4 * gib, Speed: 1},
		{ID: "c", Kind: CPU, Memory: 8 * gib, Speed: 1},
	}
	s := NewScheduler[int](devs, SchedulerOptions{Concurrency: map[Kind]int{GPU: 3}, QueueDepth: 2})
	stages := []StageID{
		mustStage(t, s, StageConfig{Pipeline: "p", Name: "a", Batch: BatchOptions{Max: 8, Delay: 2 * time.Millisecond},
			InstanceMemory: gib, ItemMemory: 200 * mib},
			Assignment{Stage: "a", Instance: 0, Device: "g0"}, Assignment{Stage: "a", Instance: 1, Device: "g1"},
			Assignment{Stage: "a", Instance: 2, Device: "g0"}),
		mustStage(t, s, StageConfig{Pipeline: "p", Name: "b", Batch: BatchOptions{Max: 4, Delay: time.Millisecond},
			Preferred: []int{2, 4}, InstanceMemory: gib, ItemMemory: 300 * mib},
			Assignment{Stage: "b", Instance: 0, Device: "g1"}, Assignment{Stage: "b", Instance: 1, Device: "g0"}),
		mustStage(t, s, StageConfig{Pipeline: "q", Name: "c", Batch: BatchOptions{Max: 16},
			InstanceMemory: gib, ItemMemory: gib},
			Assignment{Stage: "c", Instance: 0, Device: "c"}, Assignment{Stage: "c", Instance: 1, Device: "g1"}),
	}
	rng := rand.New(rand.NewPCG(1, 2))
	seen := map[int]int{}
	var running []Dispatch[int]
	now := k0
	next := 0
	peak := map[string]int64{}
	check := func() {
		t.Helper()
		for _, d := range s.Stats(now).Devices {
			peak[d.ID] = max(peak[d.ID], d.MemoryInUse)
			if d.Running > d.Limit {
				t.Fatalf("%s runs %d batches, limit %d", d.ID, d.Running, d.Limit)
			}
			if d.MemoryInUse > d.MemoryBudget {
				t.Fatalf("%s uses %s, budget %s", d.ID, FormatBytes(d.MemoryInUse), FormatBytes(d.MemoryBudget))
			}
		}
	}
	for step := 0; step < 5000 || len(running) > 0 || !s.Idle(); step++ {
		if step > 100000 {
			t.Fatal("work never drained")
		}
		now = now.Add(time.Duration(rng.IntN(800)) * time.Microsecond)
		if step < 5000 {
			for range rng.IntN(4) {
				if err := s.Submit(now, stages[rng.IntN(len(stages))], next, 0); err != nil {
					t.Fatal(err)
				}
				next++
			}
		}
		for {
			d, ok := s.Next(now)
			if !ok {
				break
			}
			running = append(running, d)
			check()
		}
		if len(running) > 0 && rng.IntN(3) > 0 {
			i := rng.IntN(len(running))
			if !s.Done(now, running[i].ID) {
				t.Fatalf("Done(%d) = false for a running batch", running[i].ID)
			}
			for _, x := range running[i].Items {
				seen[x]++
			}
			running = append(running[:i], running[i+1:]...)
		}
		check()
	}
	if len(seen) != next {
		t.Fatalf("%d of %d items ran", len(seen), next)
	}
	for x, n := range seen {
		if n != 1 {
			t.Fatalf("item %d ran %d times", x, n)
		}
	}
	for _, st := range s.Stats(now).Stages {
		if st.Batches == 0 {
			t.Fatalf("stage %s never ran", st.Stage)
		}
	}
	// The GPUs have 1 GiB each for batches: the test only means something if work
	// pressed against that.
	for _, id := range []string{"g0", "g1"} {
		if peak[id] < gib/2 {
			t.Fatalf("%s peaked at %s of working memory: admission never mattered", id, FormatBytes(peak[id]))
		}
	}
}

func TestAdmissionHoldsBack(t *testing.T) {
	// 1 GiB budget after the instances: two batches of 4 × 128 MiB fit, a third waits.
	s := NewScheduler[int](oneGPU(3*gib), SchedulerOptions{Concurrency: map[Kind]int{GPU: 8}})
	c := StageConfig{Name: "a", Batch: BatchOptions{Max: 4}, InstanceMemory: gib / 2, ItemMemory: 128 * mib}
	var insts []Assignment
	for i := range 4 {
		insts = append(insts, Assignment{Stage: "a", Instance: i, Device: "g0"})
	}
	st := mustStage(t, s, c, insts...)
	submitN(t, s, at(0), st, 0, 12)
	var got []Dispatch[int]
	for {
		d, ok := s.Next(at(0))
		if !ok {
			break
		}
		got = append(got, d)
	}
	if len(got) != 2 {
		t.Fatalf("started %d batches, want 2: a third would over-commit memory", len(got))
	}
	if st := s.Stats(at(0)); st.Devices[0].MemoryInUse != gib || st.Stages[0].Instances[0].Queued+st.Stages[0].Instances[2].Queued+st.Stages[0].Instances[3].Queued == 0 {
		t.Fatalf("memory in use %s, queued %+v", FormatBytes(st.Devices[0].MemoryInUse), st.Stages[0].Instances)
	}
	s.Done(at(1), got[0].ID)
	if d, ok := s.Next(at(1)); !ok || len(d.Items) != 4 {
		t.Fatal("the held-back batch did not start once memory was freed")
	}
}

func TestAdmissionCapsBatchSize(t *testing.T) {
	s := NewScheduler[int](oneGPU(gib), SchedulerOptions{})
	st := mustStage(t, s, StageConfig{Name: "a", Batch: BatchOptions{Max: 16}, ItemMemory: 300 * mib},
		Assignment{Stage: "a", Device: "g0"})
	submitN(t, s, at(0), st, 0, 16)
	d, ok := s.Next(at(0))
	if !ok || len(d.Items) != 3 {
		t.Fatalf("got %d items, want 3 (3 × 300 MiB fit in 1 GiB)", len(d.Items))
	}
	if _, err := s.AddStage(StageConfig{Name: "huge", ItemMemory: 2 * gib}, []Assignment{{Stage: "huge", Device: "g0"}}); err == nil {
		t.Fatal("a stage whose single item cannot fit was accepted")
	}
	if _, err := s.AddStage(StageConfig{Name: "x", InstanceMemory: 2 * gib}, []Assignment{{Stage: "x", Device: "g0"}}); err == nil {
		t.Fatal("an instance larger than its device was accepted")
	}
	if _, err := s.AddStage(StageConfig{Name: "y"}, []Assignment{{Stage: "y", Device: "nope"}}); err == nil {
		t.Fatal("an unknown device was accepted")
	}
}

func TestDeadInstanceRedispatched(t *testing.T) {
	devs := []Device{{ID: "g0", Kind: GPU, Memory: gib}, {ID: "g1", Kind: GPU, Memory: gib}}
	s := NewScheduler[int](devs, SchedulerOptions{Concurrency: map[Kind]int{GPU: 1}})
	st := mustStage(t, s, StageConfig{Name: "a", Batch: BatchOptions{Max: 2}},
		Assignment{Stage: "a", Instance: 0, Device: "g0"}, Assignment{Stage: "a", Instance: 1, Device: "g1"})
	submitN(t, s, at(0), st, 0, 8)
	first := map[int]Dispatch[int]{}
	for {
		d, ok := s.Next(at(0))
		if !ok {
			break
		}
		first[d.Instance] = d
	}
	if len(first) != 2 {
		t.Fatalf("started on %d instances, want both", len(first))
	}
	lost := first[0]
	if n := s.Fail(at(1), st, 0); n != 2 {
		t.Fatalf("Fail requeued %d batches, want 2 (the running one and the one queued at it)", n)
	}
	if s.Done(at(2), lost.ID) {
		t.Fatal("Done of the dead instance's batch was accepted")
	}
	if _, ok := s.Next(at(2)); ok {
		t.Fatal("dispatched while the only live instance is busy")
	}
	s.Done(at(3), first[1].ID)
	d, ok := s.Next(at(3))
	if !ok || d.Instance != 1 || !reflect.DeepEqual(d.Items, lost.Items) || d.Attempt != 2 {
		t.Fatalf("got %+v, want the dead instance's batch %v again on instance 1, attempt 2", d, lost.Items)
	}
	// Everything still runs exactly once more, on instance 1 only.
	ran := map[int]bool{}
	for _, x := range first[1].Items {
		ran[x] = true
	}
	for now := at(4); ; now = now.Add(time.Millisecond) {
		for _, x := range d.Items {
			if ran[x] {
				t.Fatalf("item %d ran twice", x)
			}
			ran[x] = true
		}
		s.Done(now, d.ID)
		if d, ok = s.Next(now); !ok {
			break
		}
		if d.Instance != 1 {
			t.Fatalf("dispatched to dead instance %d", d.Instance)
		}
	}
	if len(ran) != 8 {
		t.Fatalf("%d of 8 items ran", len(ran))
	}
	if st := s.Stats(at(10)).Stages[0]; st.Instances[0].Alive || st.Retry != 0 {
		t.Fatalf("stats after failure: %+v", st)
	}
	s.Revive(at(10), st, 0)
	submitN(t, s, at(10), st, 100, 2)
	if d, ok := s.Next(at(10)); !ok || d.Instance != 0 {
		t.Fatalf("revived instance got nothing: %+v %v", d, ok)
	}
}

func TestDeadInstanceDispatcher(t *testing.T) {
	clk := NewFakeClock(k0)
	devs := []Device{{ID: "g0", Kind: GPU, Memory: gib}, {ID: "g1", Kind: GPU, Memory: gib}}
	s := NewScheduler[int](devs, SchedulerOptions{})
	st := mustStage(t, s, StageConfig{Name: "a", Batch: BatchOptions{Max: 4, Delay: time.Hour}},
		Assignment{Stage: "a", Instance: 0, Device: "g0"}, Assignment{Stage: "a", Instance: 1, Device: "g1"})
	d := NewDispatcher(s, clk)
	ctx := t.Context()
	for i := range 4 {
		if err := d.Submit(ctx, st, i, 0); err != nil {
			t.Fatal(err)
		}
	}
	// The first full batch goes to instance 0 (least loaded, first); it dies.
	b, err := d.Next(ctx, st, 0)
	if err != nil {
		t.Fatal(err)
	}
	d.Fail(st, 0)
	d.Done(b) // a late report from the dead instance changes nothing
	b1, err := d.Next(ctx, st, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(b1.Items, b.Items) || b1.Attempt != 2 {
		t.Fatalf("instance 1 got %v attempt %d, want %v attempt 2", b1.Items, b1.Attempt, b.Items)
	}
	d.Done(b1)
	if st := d.Stats().Stages[0]; st.Items != 4 || st.Instances[1].Items != 4 {
		t.Fatalf("stats: %+v", st)
	}
	d.Close()
	if _, err := d.Next(ctx, st, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
}

func TestSubmitBackPressure(t *testing.T) {
	s := NewScheduler[int](oneGPU(gib), SchedulerOptions{Concurrency: map[Kind]int{GPU: 1}, QueueDepth: 1})
	st := mustStage(t, s, StageConfig{Name: "a", Batch: BatchOptions{Max: 2, Delay: time.Hour}, QueueCap: 2},
		Assignment{Stage: "a", Device: "g0"})
	submitN(t, s, at(0), st, 0, 2) // cut and started at once
	if _, ok := s.Next(at(0)); !ok {
		t.Fatal("no batch")
	}
	submitN(t, s, at(0), st, 2, 2) // full: queued at the instance by the next Next
	if _, ok := s.Next(at(0)); ok {
		t.Fatal("dispatched to a busy instance")
	}
	submitN(t, s, at(0), st, 4, 2) // waits in the stage queue
	if err := s.Submit(at(0), st, 6, 0); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Submit beyond QueueCap: %v, want ErrQueueFull", err)
	}

	clk := NewFakeClock(k0)
	s2 := NewScheduler[int](oneGPU(gib), SchedulerOptions{Concurrency: map[Kind]int{GPU: 1}})
	st2 := mustStage(t, s2, StageConfig{Name: "a", Batch: BatchOptions{Max: 1}, QueueCap: 1},
		Assignment{Stage: "a", Device: "g0"})
	d := NewDispatcher(s2, clk)
	ctx := t.Context()
	for i := range 3 { // one running, one queued at the instance, one in the stage queue
		if err := d.Submit(ctx, st2, i, 0); err != nil {
			t.Fatal(err)
		}
	}
	blocked := make(chan error, 1)
	go func() { blocked <- d.Submit(ctx, st2, 3, 0) }()
	select {
	case err := <-blocked:
		t.Fatalf("Submit into a full queue returned %v instead of waiting", err)
	default:
	}
	b, _ := d.Next(ctx, st2, 0)
	d.Done(b) // frees the instance: the queue moves and the blocked Submit goes in
	if err := <-blocked; err != nil {
		t.Fatal(err)
	}
	d.Close()
}

func TestLeastLoadedAndStealing(t *testing.T) {
	devs := []Device{{ID: "g0", Kind: GPU, Memory: gib}, {ID: "g1", Kind: GPU, Memory: gib}}
	s := NewScheduler[int](devs, SchedulerOptions{Concurrency: map[Kind]int{GPU: 1}, QueueDepth: 2})
	st := mustStage(t, s, StageConfig{Name: "a", Batch: BatchOptions{Max: 2}},
		Assignment{Stage: "a", Instance: 0, Device: "g0"}, Assignment{Stage: "a", Instance: 1, Device: "g1"})
	submitN(t, s, at(0), st, 0, 12)
	per := map[int]int{}
	var started []Dispatch[int]
	for {
		d, ok := s.Next(at(0))
		if !ok {
			break
		}
		per[d.Instance]++
		started = append(started, d)
	}
	if per[0] != 1 || per[1] != 1 {
		t.Fatalf("first batches per instance %v, want one each", per)
	}
	ins := s.Stats(at(0)).Stages[0].Instances
	if ins[0].Queued != 2 || ins[1].Queued != 2 {
		t.Fatalf("queued per instance %d/%d, want 2/2 (least-loaded)", ins[0].Queued, ins[1].Queued)
	}
	// Instance 1 finishes its own work twice over: then it takes instance 0's queue
	// instead of idling while instance 0 is stuck on a long batch.
	now := at(1)
	s.Done(now, started[1].ID)
	for i := 0; i < 4; i++ {
		d, ok := s.Next(now)
		if !ok || d.Instance != 1 {
			t.Fatalf("step %d: %+v %v, want instance 1 to keep working", i, d, ok)
		}
		s.Done(now, d.ID)
	}
	if q := s.Stats(now).Stages[0].Instances[0].Queued; q != 0 {
		t.Fatalf("instance 0 still holds %d batches", q)
	}
}

func TestPriorityWithinPipeline(t *testing.T) {
	s := NewScheduler[int](oneGPU(gib), SchedulerOptions{Concurrency: map[Kind]int{GPU: 1}})
	lo := mustStage(t, s, StageConfig{Pipeline: "p", Name: "lo", Batch: BatchOptions{Max: 1}}, Assignment{Stage: "lo", Device: "g0"})
	hi := mustStage(t, s, StageConfig{Pipeline: "p", Name: "hi", Batch: BatchOptions{Max: 1}, Priority: 5}, Assignment{Stage: "hi", Device: "g0"})
	submitN(t, s, at(0), lo, 0, 3)
	submitN(t, s, at(0), hi, 10, 3)
	var order []StageID
	now := at(0)
	for {
		d, ok := s.Next(now)
		if !ok {
			break
		}
		order = append(order, d.Stage)
		now = now.Add(time.Millisecond)
		s.Done(now, d.ID)
	}
	want := []StageID{hi, hi, hi, lo, lo, lo}
	if !reflect.DeepEqual(order, want) {
		t.Fatalf("order %v, want %v", order, want)
	}
}

// BenchmarkScheduler measures the scheduler's own cost per item: submit, batch,
// dispatch and complete, with four stages of two instances over three devices.
func BenchmarkScheduler(b *testing.B) {
	devs := []Device{{ID: "g0", Kind: GPU, Memory: 24 * gib}, {ID: "g1", Kind: GPU, Memory: 24 * gib}, {ID: "c", Kind: CPU, Memory: 64 * gib, Cores: 8}}
	s := NewScheduler[int](devs, SchedulerOptions{})
	var ids []StageID
	for i, name := range []string{"a", "b", "c", "d"} {
		id, err := s.AddStage(StageConfig{Pipeline: "p", Name: name, Batch: BatchOptions{Max: 16, Delay: time.Millisecond}, Preferred: []int{4, 8}},
			[]Assignment{{Stage: name, Instance: 0, Device: devs[i%3].ID}, {Stage: name, Instance: 1, Device: devs[(i+1)%3].ID}})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, id)
	}
	now := k0
	var running []uint64
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		now = now.Add(50 * time.Microsecond)
		if err := s.Submit(now, ids[i%len(ids)], i, 0); err != nil {
			b.Fatal(err)
		}
		for {
			d, ok := s.Next(now)
			if !ok {
				break
			}
			running = append(running, d.ID)
		}
		if len(running) > 4 {
			s.Done(now, running[0])
			running = running[1:]
		}
	}
}

func TestDrainCutsAtOnce(t *testing.T) {
	s := NewScheduler[int](oneGPU(gib), SchedulerOptions{})
	st := mustStage(t, s, StageConfig{Name: "a", Batch: BatchOptions{Max: 8, Delay: time.Hour}, Preferred: []int{4}},
		Assignment{Stage: "a", Device: "g0"})
	submitN(t, s, at(0), st, 0, 2)
	if _, ok := s.Next(at(1)); ok || s.Idle() {
		t.Fatal("cut before the deadline, or idle with items waiting")
	}
	s.Drain(st, true)
	d, ok := s.Next(at(1))
	if !ok || len(d.Items) != 2 {
		t.Fatalf("after Drain got %v %v, want the 2 waiting items", d.Items, ok)
	}
	s.Done(at(2), d.ID)
	if !s.Idle() {
		t.Fatal("not idle after everything ran")
	}
}

func TestSubmitBatchDispatchedWhole(t *testing.T) {
	devs := []Device{{ID: "g0", Kind: GPU, Memory: gib}, {ID: "g1", Kind: GPU, Memory: gib}}
	s := NewScheduler[int](devs, SchedulerOptions{Concurrency: map[Kind]int{GPU: 1}})
	st := mustStage(t, s, StageConfig{Name: "a", Batch: BatchOptions{Max: 4}, ItemMemory: 300 * mib},
		Assignment{Stage: "a", Instance: 0, Device: "g0"}, Assignment{Stage: "a", Instance: 1, Device: "g1"})
	if err := s.SubmitBatch(at(0), st, []int{0, 1}); err != nil {
		t.Fatal(err)
	}
	// 5 items: more than 3 × 300 MiB fit in 1 GiB, so it is split 3 + 2.
	if err := s.SubmitBatch(at(0), st, []int{2, 3, 4, 5, 6}); err != nil {
		t.Fatal(err)
	}
	var got [][]int
	per := map[int]int{}
	for {
		d, ok := s.Next(at(0))
		if !ok {
			break
		}
		got = append(got, d.Items)
		per[d.Instance]++
	}
	if !reflect.DeepEqual(got, [][]int{{0, 1}, {2, 3, 4}}) || per[0] != 1 || per[1] != 1 {
		t.Fatalf("started %v on %v, want [0 1] and [2 3 4] on one instance each", got, per)
	}
	ins := s.Stats(at(0)).Stages[0].Instances
	if s.Queued(st) != 0 || ins[0].Queued+ins[1].Queued != 1 {
		t.Fatalf("the split's second half is not queued at an instance: %+v", ins)
	}
}
