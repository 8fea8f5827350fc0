package sched

import (
	"slices"
	"time"
)

// fifo is the naive baseline PolicyFIFO describes. It honours the same device
// concurrency limits and placement as the scheduler, so a comparison measures the
// scheduling, not the hardware.
type fifo struct {
	batch   int
	devs    map[string]*fifoDev
	stages  []*fifoStage
	queue   []*fifoBatch
	running map[uint64]*fifoBatch
	nextID  uint64
}

type fifoDev struct {
	limit, running int
}

type fifoInst struct {
	idx  int
	dev  *fifoDev
	id   string
	busy bool
}

type fifoStage struct {
	cfg     StageConfig
	size    int
	pending []int
	first   time.Time
	insts   []*fifoInst
}

type fifoBatch struct {
	stage StageID
	items []int
	inst  *fifoInst
}

func newFIFO(devs []Device, o SchedulerOptions, batch int) *fifo {
	f := &fifo{batch: max(batch, 1), devs: map[string]*fifoDev{}, running: map[uint64]*fifoBatch{}}
	// The same limits as NewScheduler, so both policies see the same devices.
	probe := NewScheduler[int](devs, o)
	for _, d := range probe.devs {
		f.devs[d.d.ID] = &fifoDev{limit: d.limit}
	}
	return f
}

func (f *fifo) addStage(c StageConfig, insts []Assignment) StageID {
	st := &fifoStage{cfg: c, size: min(f.batch, max(c.Batch.Max, 1))}
	for _, a := range insts {
		st.insts = append(st.insts, &fifoInst{idx: a.Instance, dev: f.devs[a.Device], id: a.Device})
	}
	f.stages = append(f.stages, st)
	return StageID(len(f.stages) - 1)
}

func (f *fifo) Submit(now time.Time, id StageID, x int, _ int64) error {
	st := f.stages[id]
	if len(st.pending) == 0 {
		st.first = now
	}
	st.pending = append(st.pending, x)
	if len(st.pending) == st.size {
		f.flush(id)
	}
	return nil
}

func (f *fifo) flush(id StageID) {
	st := f.stages[id]
	f.queue = append(f.queue, &fifoBatch{stage: id, items: st.pending})
	st.pending = nil
}

func (f *fifo) NextDeadline(now time.Time) (time.Time, bool) {
	var best time.Time
	ok := false
	for _, st := range f.stages {
		if len(st.pending) == 0 {
			continue
		}
		if dl := st.first.Add(st.cfg.Batch.Delay); dl.After(now) && (!ok || dl.Before(best)) {
			best, ok = dl, true
		}
	}
	return best, ok
}

func (f *fifo) Next(now time.Time) (Dispatch[int], bool) {
	for i, st := range f.stages {
		if len(st.pending) > 0 && !st.first.Add(st.cfg.Batch.Delay).After(now) {
			f.flush(StageID(i))
		}
	}
	if len(f.queue) == 0 {
		return Dispatch[int]{}, false
	}
	head := f.queue[0]
	for _, in := range f.stages[head.stage].insts {
		if in.busy || in.dev.running >= in.dev.limit {
			continue
		}
		f.queue = f.queue[1:]
		in.busy = true
		in.dev.running++
		head.inst = in
		f.nextID++
		f.running[f.nextID] = head
		return Dispatch[int]{ID: f.nextID, Stage: head.stage, Instance: in.idx, Device: in.id,
			Items: slices.Clone(head.items), Attempt: 1}, true
	}
	return Dispatch[int]{}, false // head-of-line blocking: the naive part
}

func (f *fifo) Done(_ time.Time, id uint64) bool {
	b := f.running[id]
	if b == nil {
		return false
	}
	delete(f.running, id)
	b.inst.busy = false
	b.inst.dev.running--
	return true
}
