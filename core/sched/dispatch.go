package sched

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"
)

// ErrQueueFull is returned by Scheduler.Submit when a stage already holds
// StageConfig.QueueCap items; the caller waits for a batch to leave and submits again.
var ErrQueueFull = errors.New("stage queue is full")

// StageID names a stage added to a Scheduler.
type StageID int

// StageConfig is what the scheduler needs to know about one stage.
type StageConfig struct {
	Pipeline string // stages of one pipeline share its fair-share weight
	Name     string
	Batch    BatchOptions
	// Preferred batch sizes, increasing, each within 1..Batch.Max (Triton's semantics):
	// while an instance is free and a preferred size can be cut, it is cut at once
	// instead of waiting for Batch.Delay; while every instance is busy items keep
	// gathering toward the largest size that fits.
	Preferred []int
	// Priority orders the stages of one pipeline that compete for a device (higher
	// first). Between pipelines the weights decide, so no pipeline starves another.
	Priority int
	// Weight is the stage's share of a device within its pipeline (at least 1).
	Weight int
	// InstanceMemory is reserved on an instance's device for as long as it lives;
	// ItemMemory is the working memory one item of a running batch needs there.
	InstanceMemory int64
	ItemMemory     int64
	// QueueCap bounds the items waiting to be batched; 0 means unbounded.
	QueueCap int
}

// SchedulerOptions tune a Scheduler; the zero value is usable.
type SchedulerOptions struct {
	// Concurrency is the most batches a device runs at once, by kind. GPUs default to
	// 1, so fair shares and priorities are exact: the scheduler, not the GPU's own
	// time-slicing, decides who runs. Raising it overlaps one batch's input copies
	// with another's compute, but batches running together then split the GPU evenly
	// whatever their weights. CPUs default to their core count, so in-process builtins
	// and CPU instances run side by side as they would without a scheduler; set 1 to
	// make CPU instances take turns. DeviceConcurrency overrides it per device ID.
	Concurrency       map[Kind]int
	DeviceConcurrency map[string]int
	// QueueDepth is how many full batches an instance may hold queued beyond the one
	// it runs; default 1. Partial batches are never queued: they are cut only for an
	// instance that starts them at once, so items keep gathering while all are busy.
	QueueDepth int
	// PipelineWeights share devices between the pipelines of one process; default 1.
	PipelineWeights map[string]float64
}

// Dispatch is one batch handed to one instance.
type Dispatch[T any] struct {
	ID       uint64
	Stage    StageID
	Instance int
	Device   string
	Items    []T
	// Attempt is 1 for a batch's first run and grows each time it is re-dispatched
	// because the instance running or holding it died.
	Attempt int
}

type entry[T any] struct {
	x  T
	at time.Time
}

type itemBucket[T any] struct {
	key   int
	items []entry[T]
}

type batch[T any] struct {
	id      uint64
	stage   *stage[T]
	items   []entry[T]
	attempt int
	inst    *instance[T]
	started time.Time
	est     float64 // device-seconds charged when it started
	share   float64 // device-seconds it has had so far (processor sharing)
	mem     int64
}

type instance[T any] struct {
	stage      *stage[T]
	idx        int
	dev        *device[T]
	alive      bool
	queue      []*batch[T]
	running    *batch[T]
	secPerItem float64 // moving average of device-seconds per item
	batches    int64
	items      int64
	busy       time.Duration
}

type device[T any] struct {
	d       Device
	limit   int
	running []*batch[T]
	mem     memory
	fair    fairness
	last    time.Time
	busy    time.Duration
	batches int64
}

// stageState is the part of a stage that does not depend on the item type.
type stageState struct {
	id  StageID
	cfg StageConfig
}

type stage[T any] struct {
	stageState
	insts    []*instance[T]
	buckets  []itemBucket[T]
	queued   int
	retry    []*batch[T]
	ready    []*batch[T] // cut elsewhere (SubmitBatch), not yet at an instance
	readyN   int
	draining bool
	order    []int // scratch for bucketOrder
	batches  int64
	items    int64
	sizes    []int64 // sizes[n] counts batches of n items
	waitSum  time.Duration
	cutN     int64
	waitMax  time.Duration
}

// Scheduler is the device scheduler as a plain state machine: items enter stage
// queues (Submit), Next says which batch each instance runs next, Done and Fail report
// what became of it. Every method takes the current time and nothing reads a clock,
// so the same code runs the engine (Dispatcher wraps it for goroutines) and the
// discrete-event simulation. It is not safe for concurrent use.
//
// Per stage: items are bucketed and cut into batches (Max, Delay, Preferred); full
// batches are queued at the least-loaded live instance, partial ones only for an
// instance that can start them now. Per device: at most its concurrency limit runs
// at once, batches start only when their working memory fits (admission), and the
// next batch is chosen by weighted fair queueing between pipelines and then stages.
type Scheduler[T any] struct {
	o       SchedulerOptions
	devs    []*device[T]
	byID    map[string]*device[T]
	stages  []*stage[T]
	running map[uint64]*batch[T]
	nextID  uint64
	epoch   time.Time
	begun   bool
	order   []*device[T] // scratch for Next
	cands   []*stageState
}

// NewScheduler returns a scheduler over devs.
func NewScheduler[T any](devs []Device, o SchedulerOptions) *Scheduler[T] {
	if o.QueueDepth <= 0 {
		o.QueueDepth = 1
	}
	s := &Scheduler[T]{o: o, byID: map[string]*device[T]{}, running: map[uint64]*batch[T]{}}
	for _, d := range devs {
		limit := o.DeviceConcurrency[d.ID]
		if limit <= 0 {
			limit = o.Concurrency[d.Kind]
		}
		if limit <= 0 {
			limit = 1
			if d.Kind == CPU {
				limit = max(d.Cores, 1)
			}
		}
		dv := &device[T]{d: d, limit: limit, mem: memory{total: d.Memory}}
		s.devs = append(s.devs, dv)
		s.byID[d.ID] = dv
	}
	return s
}

// AddStage registers a stage and its placed instances (Assignment.Instance numbers
// them; Fail and Dispatch use the same numbers). It reserves InstanceMemory on each
// instance's device and fails when an assignment names an unknown device, when the
// reservations do not fit, or when not even one item's working memory fits anywhere.
func (s *Scheduler[T]) AddStage(c StageConfig, insts []Assignment) (StageID, error) {
	if c.Batch.Max < 1 {
		c.Batch.Max = 1
	}
	if c.Weight < 1 {
		c.Weight = 1
	}
	label := c.Name
	if c.Pipeline != "" {
		label = c.Pipeline + "/" + c.Name
	}
	if len(insts) == 0 {
		return 0, fmt.Errorf("stage %s: no instances", label)
	}
	for i, p := range c.Preferred {
		if p < 1 || p > c.Batch.Max || (i > 0 && p <= c.Preferred[i-1]) {
			return 0, fmt.Errorf("stage %s: preferred batch sizes %v must increase within 1..%d", label, c.Preferred, c.Batch.Max)
		}
	}
	st := &stage[T]{stageState: stageState{id: StageID(len(s.stages)), cfg: c}, sizes: make([]int64, c.Batch.Max+1)}
	fitsSomewhere := false
	for _, a := range insts {
		d := s.byID[a.Device]
		if d == nil {
			return 0, fmt.Errorf("stage %s instance %d: unknown device %q", label, a.Instance, a.Device)
		}
		if err := d.mem.reserve(d.d.ID, label, a.Instance, c.InstanceMemory); err != nil {
			return 0, err
		}
		if d.mem.capItems(c.ItemMemory, c.Batch.Max) > 0 {
			fitsSomewhere = true
		}
		st.insts = append(st.insts, &instance[T]{stage: st, idx: a.Instance, dev: d, alive: true,
			secPerItem: 1e-3 / speedOf(d.d)})
	}
	if !fitsSomewhere {
		return 0, fmt.Errorf("stage %s: one item needs %s of working memory; no device of its instances has that much left",
			label, FormatBytes(c.ItemMemory))
	}
	s.stages = append(s.stages, st)
	return st.id, nil
}

func speedOf(d Device) float64 {
	if d.Speed > 0 {
		return d.Speed
	}
	return 1
}

func (s *Scheduler[T]) touch(now time.Time) {
	if !s.begun {
		s.epoch, s.begun = now, true
		for _, d := range s.devs {
			d.last = now
		}
	}
}

// Submit queues item x of stage st, arriving at now; size is its bucketing measure
// (ignored unless the stage is bucketed). It returns ErrQueueFull when the stage
// already holds QueueCap items.
func (s *Scheduler[T]) Submit(now time.Time, st StageID, x T, size int64) error {
	s.touch(now)
	g := s.stages[st]
	if g.full() {
		return ErrQueueFull
	}
	key := 0
	if g.cfg.Batch.Bucketed {
		key = BucketKey(size)
	}
	i := slices.IndexFunc(g.buckets, func(b itemBucket[T]) bool { return b.key == key })
	if i < 0 {
		g.buckets = append(g.buckets, itemBucket[T]{key: key})
		i = len(g.buckets) - 1
	}
	g.buckets[i].items = append(g.buckets[i].items, entry[T]{x: x, at: now})
	g.queued++
	return nil
}

func (g *stage[T]) full() bool {
	return g.cfg.QueueCap > 0 && g.queued+g.readyN >= g.cfg.QueueCap
}

// SubmitBatch queues a batch cut elsewhere, such as by the engine's own Batcher: it
// is dispatched whole, like a full batch, to the least-loaded instance. A batch larger
// than Batch.Max or than any instance's device can hold is split. It returns
// ErrQueueFull when the stage already holds QueueCap items.
func (s *Scheduler[T]) SubmitBatch(now time.Time, st StageID, items []T) error {
	s.touch(now)
	g := s.stages[st]
	if g.full() {
		return ErrQueueFull
	}
	c := 1
	for _, in := range g.insts {
		c = max(c, g.capOn(in.dev))
	}
	for len(items) > 0 {
		n := min(len(items), c)
		b := &batch[T]{stage: g, items: make([]entry[T], n)}
		for i, x := range items[:n] {
			b.items[i] = entry[T]{x: x, at: now}
		}
		g.ready = append(g.ready, b)
		g.readyN += n
		items = items[n:]
	}
	return nil
}

// Drain makes every waiting item of st cuttable at once, as when its input has ended
// and no more company is coming; on is false to wait for deadlines again.
func (s *Scheduler[T]) Drain(st StageID, on bool) { s.stages[st].draining = on }

// Queued is the number of items of st waiting to be batched.
func (s *Scheduler[T]) Queued(st StageID) int { return s.stages[st].queued + s.stages[st].readyN }

// Idle reports whether nothing is waiting, queued or running anywhere.
func (s *Scheduler[T]) Idle() bool {
	if len(s.running) > 0 {
		return false
	}
	for _, g := range s.stages {
		if g.queued > 0 || len(g.retry) > 0 || len(g.ready) > 0 {
			return false
		}
		for _, in := range g.insts {
			if len(in.queue) > 0 {
				return false
			}
		}
	}
	return true
}

// NextDeadline is the earliest time after now at which a waiting partial batch
// reaches its deadline; a caller driving the scheduler calls Next again then.
func (s *Scheduler[T]) NextDeadline(now time.Time) (time.Time, bool) {
	var best time.Time
	ok := false
	for _, g := range s.stages {
		for _, b := range g.buckets {
			if len(b.items) == 0 {
				continue
			}
			dl := b.items[0].at.Add(g.cfg.Batch.Delay)
			if dl.After(now) && (!ok || dl.Before(best)) {
				best, ok = dl, true
			}
		}
	}
	return best, ok
}

// Next returns the next batch to start and the instance to run it, or false when no
// instance can start anything now (everything busy, nothing due, or memory held
// back). Call it until it returns false after every Submit, Done, Fail and deadline.
func (s *Scheduler[T]) Next(now time.Time) (Dispatch[T], bool) {
	s.touch(now)
	s.prefetch(now)
	// Least-loaded devices first, so work that could go to several starts where
	// there is the most room.
	s.order = append(s.order[:0], s.devs...)
	sort.SliceStable(s.order, func(i, j int) bool {
		a, b := s.order[i], s.order[j]
		fa, fb := float64(len(a.running))/float64(a.limit), float64(len(b.running))/float64(b.limit)
		if fa != fb {
			return fa < fb
		}
		return a.busy < b.busy
	})
	for _, d := range s.order {
		if len(d.running) >= d.limit {
			continue
		}
		s.cands = s.cands[:0]
		for _, g := range s.stages {
			if s.idleOn(g, d) != nil && s.hasWork(now, g, d) {
				s.cands = append(s.cands, &g.stageState)
			}
		}
		for len(s.cands) > 0 {
			pick := d.fair.pick(s.cands)
			g := s.stages[pick.id]
			in := s.idleOn(g, d)
			if b := s.take(now, g, in); b != nil {
				return s.start(now, b, in), true
			}
			// Held back by memory: let the others try.
			s.cands = slices.DeleteFunc(s.cands, func(c *stageState) bool { return c == pick })
		}
	}
	return Dispatch[T]{}, false
}

// idleOn is a live instance of g on d that runs nothing, preferring one with a
// queued batch of its own.
func (s *Scheduler[T]) idleOn(g *stage[T], d *device[T]) *instance[T] {
	var found *instance[T]
	for _, in := range g.insts {
		if in.dev == d && in.alive && in.running == nil {
			if len(in.queue) > 0 {
				return in
			}
			if found == nil {
				found = in
			}
		}
	}
	return found
}

func (g *stage[T]) capOn(d *device[T]) int { return d.mem.capItems(g.cfg.ItemMemory, g.cfg.Batch.Max) }

func (s *Scheduler[T]) hasWork(now time.Time, g *stage[T], d *device[T]) bool {
	if len(g.retry) > 0 || len(g.ready) > 0 {
		return true
	}
	for _, in := range g.insts {
		if len(in.queue) > 0 {
			return true
		}
	}
	return g.cutSize(now, g.capOn(d), true) > 0
}

// cutSize says how many items of which bucket a batch would take now, without taking
// them: a full batch of c always; with startable (an instance would run it at once) a
// batch whose oldest item reached its deadline, or the largest preferred size that
// can be cut. Buckets are tried oldest first.
func (g *stage[T]) cutSize(now time.Time, c int, startable bool) int {
	n, _ := g.cutPlan(now, c, startable)
	return n
}

func (g *stage[T]) cutPlan(now time.Time, c int, startable bool) (int, int) {
	if c < 1 || g.queued == 0 {
		return 0, -1
	}
	order := g.bucketOrder()
	for _, i := range order {
		if len(g.buckets[i].items) >= c {
			return c, i
		}
	}
	if !startable {
		return 0, -1
	}
	oldest := order[0]
	b := g.buckets[oldest]
	if g.draining || !b.items[0].at.Add(g.cfg.Batch.Delay).After(now) {
		return min(len(b.items), c), oldest
	}
	for _, i := range order {
		have := min(len(g.buckets[i].items), c)
		for k := len(g.cfg.Preferred) - 1; k >= 0; k-- {
			if p := g.cfg.Preferred[k]; p <= have {
				return p, i
			}
		}
	}
	return 0, -1
}

// bucketOrder lists the non-empty buckets, oldest first item first. The slice is
// reused: it is valid until the next call.
func (g *stage[T]) bucketOrder() []int {
	order := g.order[:0]
	defer func() { g.order = order }()
	for i := range g.buckets {
		if len(g.buckets[i].items) > 0 {
			order = append(order, i)
		}
	}
	sort.Slice(order, func(a, b int) bool {
		return g.buckets[order[a]].items[0].at.Before(g.buckets[order[b]].items[0].at)
	})
	return order
}

func (g *stage[T]) cut(now time.Time, n, i int) *batch[T] {
	bk := &g.buckets[i]
	items := make([]entry[T], n)
	copy(items, bk.items[:n])
	rest := copy(bk.items, bk.items[n:])
	clear(bk.items[rest:])
	bk.items = bk.items[:rest]
	g.queued -= n
	g.cutN += int64(n)
	for _, e := range items {
		w := now.Sub(e.at)
		g.waitSum += w
		g.waitMax = max(g.waitMax, w)
	}
	return &batch[T]{stage: g, items: items}
}

// prefetch queues full batches at the least-loaded live instances with room.
func (s *Scheduler[T]) prefetch(now time.Time) {
	for _, g := range s.stages {
		for {
			var best *instance[T]
			var bestLoad float64
			for _, in := range g.insts {
				if !in.alive || len(in.queue) >= s.o.QueueDepth {
					continue
				}
				if l := in.load(); best == nil || l < bestLoad {
					best, bestLoad = in, l
				}
			}
			if best == nil {
				break
			}
			if len(g.ready) > 0 {
				if len(g.ready[0].items) > g.capOn(best.dev) {
					break // take() hands it to an instance whose device holds it
				}
				best.queue = append(best.queue, g.popReady())
				continue
			}
			n, i := g.cutPlan(now, g.capOn(best.dev), false)
			if n == 0 {
				break
			}
			best.queue = append(best.queue, g.cut(now, n, i))
		}
	}
}

// load is the device time an instance already owes: its running and queued items at
// its observed cost per item.
func (in *instance[T]) load() float64 {
	n := 0
	if in.running != nil {
		n += len(in.running.items)
	}
	for _, b := range in.queue {
		n += len(b.items)
	}
	return float64(n) * in.secPerItem
}

// take chooses the batch in runs next: a re-dispatched one, then its own queue, then
// one queued at a sibling (so a batch never waits behind a slow instance while
// another is idle), then a fresh cut. It returns nil when the batch's working memory
// does not fit the device now; nothing is taken then.
func (s *Scheduler[T]) take(now time.Time, g *stage[T], in *instance[T]) *batch[T] {
	d := in.dev
	fits := func(n int) bool { return d.mem.fits(int64(n) * g.cfg.ItemMemory) }
	popFits := func(q *[]*batch[T]) *batch[T] {
		if len(*q) == 0 {
			return nil
		}
		b := (*q)[0]
		if len(b.items) > g.capOn(d) || !fits(len(b.items)) {
			return nil
		}
		*q = (*q)[1:]
		return b
	}
	if len(g.retry) > 0 {
		return popFits(&g.retry)
	}
	if b := popFits(&in.queue); b != nil || len(in.queue) > 0 {
		return b
	}
	var from *instance[T]
	for _, o := range g.insts {
		if o != in && len(o.queue) > 0 && (from == nil || len(o.queue) > len(from.queue)) {
			from = o
		}
	}
	if from != nil {
		if b := popFits(&from.queue); b != nil {
			return b
		}
	}
	if len(g.ready) > 0 {
		if b := popFits(&g.ready); b != nil {
			g.readyN -= len(b.items)
			return b
		}
		return nil
	}
	n, i := g.cutPlan(now, g.capOn(d), true)
	if n == 0 || !fits(n) {
		return nil
	}
	return g.cut(now, n, i)
}

func (g *stage[T]) popReady() *batch[T] {
	b := g.ready[0]
	g.ready[0] = nil
	g.ready = g.ready[1:]
	g.readyN -= len(b.items)
	return b
}

// accrue brings d's busy time and its running batches' shares up to now: k running
// batches share the device equally.
func (d *device[T]) accrue(now time.Time) {
	dt := now.Sub(d.last)
	d.last = now
	if dt <= 0 || len(d.running) == 0 {
		return
	}
	d.busy += dt
	per := dt.Seconds() / float64(len(d.running))
	for _, b := range d.running {
		b.share += per
	}
}

func (s *Scheduler[T]) pipelineWeight(g *stage[T]) float64 {
	if w := s.o.PipelineWeights[g.cfg.Pipeline]; w > 0 {
		return w
	}
	return 1
}

func (s *Scheduler[T]) start(now time.Time, b *batch[T], in *instance[T]) Dispatch[T] {
	d, g := in.dev, b.stage
	d.accrue(now)
	s.nextID++
	b.id, b.inst, b.started, b.share = s.nextID, in, now, 0
	b.attempt++
	b.mem = int64(len(b.items)) * g.cfg.ItemMemory
	b.est = float64(len(b.items)) * in.secPerItem
	d.running = append(d.running, b)
	d.mem.inUse += b.mem
	d.fair.charge(&g.stageState, s.pipelineWeight(g), b.est)
	in.running = b
	s.running[b.id] = b
	items := make([]T, len(b.items))
	for i, e := range b.items {
		items[i] = e.x
	}
	return Dispatch[T]{ID: b.id, Stage: g.id, Instance: in.idx, Device: d.d.ID, Items: items, Attempt: b.attempt}
}

// stop takes a running batch off its device and instance and settles its fair-share
// charge with the device time it really had.
func (s *Scheduler[T]) stop(now time.Time, b *batch[T]) {
	in := b.inst
	d, g := in.dev, b.stage
	d.accrue(now)
	d.running = slices.DeleteFunc(d.running, func(x *batch[T]) bool { return x == b })
	d.mem.inUse -= b.mem
	d.fair.correct(&g.stageState, s.pipelineWeight(g), b.share-b.est)
	in.running = nil
	delete(s.running, b.id)
}

// Done reports that the batch with this id finished (successfully or with per-item
// errors: the scheduler does not care). It returns false for an unknown id, such as a
// batch already re-dispatched because its instance was declared dead.
func (s *Scheduler[T]) Done(now time.Time, id uint64) bool {
	b := s.running[id]
	if b == nil {
		return false
	}
	s.stop(now, b)
	in, g := b.inst, b.stage
	n := len(b.items)
	in.batches++
	in.items += int64(n)
	in.busy += now.Sub(b.started)
	in.dev.batches++
	g.batches++
	g.items += int64(n)
	g.sizes[min(n, len(g.sizes)-1)]++
	// Moving average of device-seconds per item: the estimate fair-share charges and
	// least-loaded dispatch use until the next batch reports.
	const alpha = 0.25
	in.secPerItem += alpha * (b.share/float64(n) - in.secPerItem)
	return true
}

// Fail declares instance inst of st dead: the batch it was running and those queued
// at it go back to the stage, ahead of new work, and are dispatched to other live
// instances (or to this one after Revive). It returns how many batches it requeued.
func (s *Scheduler[T]) Fail(now time.Time, st StageID, inst int) int {
	s.touch(now)
	g := s.stages[st]
	var requeue []*batch[T]
	for _, in := range g.insts {
		if in.idx != inst || !in.alive {
			continue
		}
		in.alive = false
		if b := in.running; b != nil {
			s.stop(now, b)
			requeue = append(requeue, b)
		}
		requeue = append(requeue, in.queue...)
		in.queue = nil
	}
	g.retry = append(g.retry, requeue...)
	return len(requeue)
}

// Revive marks instance inst of st alive again (its plugin was restarted).
func (s *Scheduler[T]) Revive(now time.Time, st StageID, inst int) {
	s.touch(now)
	for _, in := range s.stages[st].insts {
		if in.idx == inst {
			in.alive = true
		}
	}
}
