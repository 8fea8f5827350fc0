package sched

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrClosed is returned by a Dispatcher's blocking calls after Close.
var ErrClosed = errors.New("dispatcher closed")

// Dispatcher runs a Scheduler for an engine's goroutines: producers Submit items to
// a stage (blocking while its queue is full, which is the back-pressure), each
// instance's worker asks Next for the batch it runs next and reports Done, and Run
// fires batching deadlines on the injected Clock. It replaces the per-stage
// batcher-and-channel pair: batches are cut where the dispatch decisions are made,
// which is what lets batch sizes follow the load and devices be shared fairly. An
// engine that keeps cutting batches itself (Batcher and Pump) hands them over with
// SubmitBatch instead, and still gets least-loaded dispatch, device limits, fair
// sharing, admission and re-dispatch; only adaptive and preferred sizes are lost.
//
//	s := sched.NewScheduler[*Record](devs, sched.SchedulerOptions{})
//	id, err := s.AddStage(sched.StageConfig{Pipeline: p.Name, Name: st.Name, Batch: b}, assignments)
//	d := sched.NewDispatcher(s, clock)
//	go d.Run(ctx)
//	// per instance k of the stage:
//	for { b, err := d.Next(ctx, id, k); if err != nil { break }; process(b.Items); d.Done(b) }
//	// the router: d.Submit(ctx, id, rec, size); at end of input: d.Drain(id)
//	// a plugin that died: d.Fail(id, k) — its batches go to the other instances.
type Dispatcher[T any] struct {
	s     *Scheduler[T]
	clk   Clock
	mu    sync.Mutex
	boxes map[instKey]*inbox[T]
	space chan struct{} // closed and replaced when items leave stage queues
	kick  chan struct{}
	done  chan struct{}
	once  sync.Once
}

type instKey struct {
	st   StageID
	inst int
}

// inbox holds the batches dispatched to one instance that its worker has not taken.
type inbox[T any] struct {
	batches []Dispatch[T]
	wake    chan struct{}
}

// NewDispatcher wraps s, whose stages are all added; nil clk is the wall clock.
func NewDispatcher[T any](s *Scheduler[T], clk Clock) *Dispatcher[T] {
	if clk == nil {
		clk = RealClock{}
	}
	return &Dispatcher[T]{s: s, clk: clk, boxes: map[instKey]*inbox[T]{}, space: make(chan struct{}),
		kick: make(chan struct{}, 1), done: make(chan struct{})}
}

func (d *Dispatcher[T]) box(k instKey) *inbox[T] {
	b := d.boxes[k]
	if b == nil {
		b = &inbox[T]{wake: make(chan struct{}, 1)}
		d.boxes[k] = b
	}
	return b
}

// pumpLocked hands out everything the scheduler dispatches now.
func (d *Dispatcher[T]) pumpLocked() {
	now := d.clk.Now()
	before := d.queuedLocked()
	for {
		b, ok := d.s.Next(now)
		if !ok {
			break
		}
		bx := d.box(instKey{b.Stage, b.Instance})
		bx.batches = append(bx.batches, b)
		select {
		case bx.wake <- struct{}{}:
		default:
		}
	}
	if d.queuedLocked() < before {
		close(d.space)
		d.space = make(chan struct{})
	}
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

func (d *Dispatcher[T]) queuedLocked() int {
	n := 0
	for _, g := range d.s.stages {
		n += g.queued + g.readyN
	}
	return n
}

// Run fires batching deadlines until ctx ends (returning its error) or Close
// (returning nil). Exactly one Run should be active.
func (d *Dispatcher[T]) Run(ctx context.Context) error {
	var timer Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		d.mu.Lock()
		d.pumpLocked()
		// The kick pumpLocked just queued is for this loop: drop it.
		select {
		case <-d.kick:
		default:
		}
		now := d.clk.Now()
		dl, ok := d.s.NextDeadline(now)
		d.mu.Unlock()
		var tick <-chan time.Time
		if ok {
			if timer == nil {
				timer = d.clk.NewTimer(dl.Sub(now))
			} else {
				timer.Stop()
				drainTick(timer)
				timer.Reset(dl.Sub(now))
			}
			tick = timer.C()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-d.done:
			return nil
		case <-d.kick:
		case <-tick:
		}
	}
}

// Submit queues x for stage st; size is its bucketing measure. It blocks while the
// stage's queue is full, until ctx ends or the dispatcher closes.
func (d *Dispatcher[T]) Submit(ctx context.Context, st StageID, x T, size int64) error {
	return d.submit(ctx, func(now time.Time) error { return d.s.Submit(now, st, x, size) })
}

func (d *Dispatcher[T]) submit(ctx context.Context, add func(time.Time) error) error {
	for {
		d.mu.Lock()
		err := add(d.clk.Now())
		if err == nil {
			d.pumpLocked()
			d.mu.Unlock()
			return nil
		}
		space := d.space
		d.mu.Unlock()
		if !errors.Is(err, ErrQueueFull) {
			return err
		}
		select {
		case <-space:
		case <-ctx.Done():
			return ctx.Err()
		case <-d.done:
			return ErrClosed
		}
	}
}

// SubmitBatch queues a batch cut elsewhere (the engine's own Batcher and Pump) for
// stage st; it is dispatched whole to the least-loaded instance. It blocks while the
// stage's queue is full, until ctx ends or the dispatcher closes.
func (d *Dispatcher[T]) SubmitBatch(ctx context.Context, st StageID, items []T) error {
	return d.submit(ctx, func(now time.Time) error { return d.s.SubmitBatch(now, st, items) })
}

// Next returns the batch instance inst of stage st runs next, waiting until there is
// one, ctx ends or the dispatcher closes. The worker reports Done when it finishes.
func (d *Dispatcher[T]) Next(ctx context.Context, st StageID, inst int) (Dispatch[T], error) {
	for {
		d.mu.Lock()
		bx := d.box(instKey{st, inst})
		if len(bx.batches) > 0 {
			b := bx.batches[0]
			bx.batches = bx.batches[1:]
			d.mu.Unlock()
			return b, nil
		}
		d.mu.Unlock()
		select {
		case <-bx.wake:
		case <-ctx.Done():
			return Dispatch[T]{}, ctx.Err()
		case <-d.done:
			return Dispatch[T]{}, ErrClosed
		}
	}
}

// Done reports that b finished (its items succeeded or failed one by one: the
// scheduler only counts the device time). A batch of an instance declared dead is
// ignored: it has been dispatched again.
func (d *Dispatcher[T]) Done(b Dispatch[T]) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.s.Done(d.clk.Now(), b.ID) {
		d.pumpLocked()
	}
}

// Fail declares instance inst of st dead: the batch it ran and every batch waiting
// for it are dispatched to the stage's other instances (or to it after Revive).
func (d *Dispatcher[T]) Fail(st StageID, inst int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	// Batches handed out but not taken go back with the rest: the scheduler counts
	// them as running on the dead instance, so Fail requeues them. The inbox stays,
	// since a worker may be waiting on it for after Revive.
	d.box(instKey{st, inst}).batches = nil
	d.s.Fail(d.clk.Now(), st, inst)
	d.pumpLocked()
}

// Revive marks instance inst of st alive again after its plugin restarted.
func (d *Dispatcher[T]) Revive(st StageID, inst int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.s.Revive(d.clk.Now(), st, inst)
	d.pumpLocked()
}

// Drain cuts whatever waits at st without waiting for deadlines: its input ended.
func (d *Dispatcher[T]) Drain(st StageID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.s.Drain(st, true)
	d.pumpLocked()
}

// Stats is a snapshot for the engine's summary and metrics.
func (d *Dispatcher[T]) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.s.Stats(d.clk.Now())
}

// Close wakes every blocked call with ErrClosed and stops Run.
func (d *Dispatcher[T]) Close() { d.once.Do(func() { close(d.done) }) }
