// Package engine runs a pipeline: it reads items, routes each to the stages whose when:
// matches, batches them through bounded queues into stage instances, and commits the
// results to the sinks and the ledger in input order. Back-pressure runs from the
// slowest stage all the way to the reader, and a crashed run resumes where its ledger ends.
package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plexusml/plexus/core/dataset"
	"github.com/plexusml/plexus/core/media"
	"github.com/plexusml/plexus/core/pipeline"
	"github.com/plexusml/plexus/core/sched"
)

// Options steer one run.
type Options struct {
	// Source yields the items; required.
	Source Source
	// Ledger is the ledger file; "" puts it beside the first sink's output
	// (DIR/.plexus-ledger). NoLedger runs without one (and without resume).
	Ledger   string
	NoLedger bool
	// Restart discards the ledger and the outputs it covers instead of resuming, and
	// is the only way to run a changed pipeline into an existing output.
	Restart bool
	// QueueCap is each stage's input queue capacity; 0 means 2 × batch.max ×
	// instances, at least 16.
	QueueCap int
	// CommitEvery and CommitInterval bound how many items, and how long, results may
	// wait for a ledger commit (one fsync per sink and one for the ledger per commit).
	CommitEvery    int
	CommitInterval time.Duration
	// Clock runs the batchers' deadlines; nil is the wall clock.
	Clock sched.Clock
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// Version is the plexus version written into provenance.
	Version string
	// Drain, when closed, stops reading new items; items in flight finish, are
	// written and committed, and Run returns with Summary.Interrupted set.
	Drain <-chan struct{}
	// InFlight, when set, is called with +1 when the reader admits an item and -1
	// when the committer lets it go; tests use it to check the bound.
	InFlight func(delta int)
	// Scheduler places the stages' instances and dispatches their batches; the runs
	// of one process share one so that they share its devices. Nil gives the run its
	// own over this machine's real devices.
	Scheduler *Scheduler
}

// ErrInterrupted is returned by Run after Drain stopped it early.
var ErrInterrupted = errors.New("run interrupted: items not yet read are left for the next run")

// policy is a resolved error policy. Every kind first retries an item (or a failed
// batch) up to retries times unless its error is permanent; then fail-fast and retry
// stop the run with the item's error, skip drops the item (logged and counted), and
// dead-letter writes it with the stage and the error to the dead-letter file. Skipped
// and dead-lettered items are committed, so a resumed run does not try them again.
type policy struct {
	kind    string // fail-fast|skip|retry|dead-letter
	retries int
	dead    *dataset.JSONL
}

func (p policy) fatal() bool { return p.kind == "fail-fast" || p.kind == "retry" }

// stageRun is one stage of the chain with its queue, instances and statistics.
type stageRun struct {
	pos       int // position in the chain (topological order)
	spec      *pipeline.Stage
	cond      *pipeline.Expr
	in        chan *Record
	instances []Stage
	pol       policy
	batch     sched.BatchOptions
	size      func(*Record) int64
	timeout   time.Duration
	info      Info
	producers atomic.Int32
	stats     stageStats

	// The scheduler's view: the pipeline's key there, the stage's id (set when the
	// scheduler starts) and where each instance was placed (assign[k] is instance k).
	pipe   string
	id     sched.StageID
	assign []sched.Assignment
	// pending counts items handed to the dispatcher and not yet routed on; once the
	// input has ended (ended) and pending is zero, stop ends the stage's workers.
	pending atomic.Int64
	ended   atomic.Bool
	stop    context.CancelFunc
}

// schedConfig is the stage as the scheduler sees it. The engine cuts batches itself
// (Batcher and Pump, so deadlines, bucketing and back-pressure keep their tested
// behaviour) and hands them over with SubmitBatch; QueueCap 1 lets one cut batch wait
// for an instance while the next one forms, so the stage holds a bounded number.
func (s *stageRun) schedConfig() sched.StageConfig {
	return sched.StageConfig{Pipeline: s.pipe, Name: s.spec.Name, Batch: sched.BatchOptions{Max: s.batch.Max},
		Priority: s.spec.Batch.Priority, Weight: s.spec.Resources.Weight,
		InstanceMemory: sched.StageRequest(s.spec).Memory, QueueCap: 1}
}

// Runner executes one pipeline once.
type Runner struct {
	o       Options
	log     *slog.Logger
	clock   sched.Clock
	stages  []*stageRun
	sinks   []dataset.Sink
	dead    []*dataset.JSONL
	srcPol  policy
	ledger  *dataset.Ledger
	hash    string
	prov    json.RawMessage
	window  chan struct{}
	done    chan *Record
	doneN   atomic.Int32
	ordered bool
	cancel  context.CancelCauseFunc
	stats   runStats
	closed  bool
	sch     *Scheduler
	ownSch  bool
	pipe    string
}

// New prepares a run: it computes the pipeline's hash (config and weights' digests),
// opens the ledger (refusing a changed pipeline unless o.Restart), cuts the sinks back
// to the last commit and starts every stage instance.
func New(ctx context.Context, p *pipeline.Pipeline, env *Environment, o Options) (_ *Runner, err error) {
	if o.Source == nil {
		return nil, errors.New("engine: no source")
	}
	if o.CommitEvery <= 0 {
		o.CommitEvery = 4096
	}
	if o.CommitInterval <= 0 {
		o.CommitInterval = 250 * time.Millisecond
	}
	r := &Runner{o: o, log: o.Logger, clock: o.Clock, ordered: p.Order != "any"}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.clock == nil {
		r.clock = sched.RealClock{}
	}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	digests, err := weightsDigests(p)
	if err != nil {
		return nil, err
	}
	r.hash = runHash(p, digests)
	if r.sch = o.Scheduler; r.sch == nil {
		if r.sch, err = NewScheduler(ctx, SchedulerOptions{Clock: o.Clock}); err != nil {
			return nil, err
		}
		r.ownSch = true
	}
	r.pipe = r.sch.pipelineKey(p)
	placed, err := r.sch.place(p)
	if err != nil {
		return nil, err
	}

	if !o.NoLedger {
		path := o.Ledger
		if path == "" {
			path = filepath.Join(outputDir(p), dataset.LedgerName)
		}
		if r.ledger, err = dataset.OpenLedger(path, dataset.LedgerOptions{Hash: r.hash, Restart: o.Restart}); err != nil {
			return nil, err
		}
		if n := r.ledger.Len(); n > 0 {
			r.log.Info("resuming", "ledger", path, "committed", n)
		}
		if sk, ok := o.Source.(skipper); ok {
			l := r.ledger
			sk.setSkip(func(id string) bool {
				if l.Done(id) {
					r.stats.resumed.Add(1)
					return true
				}
				return false
			})
		}
	}
	offset := func(name string) int64 {
		if r.ledger == nil {
			return 0
		}
		return r.ledger.Offset(name)
	}
	for _, sk := range p.Sinks {
		switch {
		case sk.JSONL != "":
			s, err := dataset.OpenJSONL(sk.JSONL, dataset.JSONLOptions{Tensors: dataset.TensorMode(sk.Tensors), Offset: offset("jsonl:" + sk.JSONL), From: sk.From})
			if err != nil {
				return nil, err
			}
			r.sinks = append(r.sinks, s)
		case sk.Files != "":
			s, err := dataset.OpenFiles(sk.Files, sk.From)
			if err != nil {
				return nil, err
			}
			r.sinks = append(r.sinks, s)
		}
	}
	deadByPath := map[string]*dataset.JSONL{}
	resolve := func(e pipeline.ErrorPolicy) (policy, error) {
		pol := policy{kind: e.Policy, retries: e.Retries}
		if pol.kind == "" {
			pol.kind = "fail-fast"
		}
		if pol.kind == "retry" && pol.retries == 0 {
			pol.retries = 3
		}
		if pol.kind == "dead-letter" {
			if e.Path == "" {
				return pol, errors.New("errors.policy dead-letter needs errors.path")
			}
			d := deadByPath[e.Path]
			if d == nil {
				name := "dead-letter:" + e.Path
				if d, err = dataset.OpenJSONL(e.Path, dataset.JSONLOptions{Name: name, Offset: offset(name)}); err != nil {
					return pol, err
				}
				deadByPath[e.Path] = d
				r.dead = append(r.dead, d)
			}
			pol.dead = d
		}
		return pol, nil
	}
	if r.srcPol, err = resolve(p.Errors); err != nil {
		return nil, err
	}

	order := p.TopoOrder()
	window := 1
	for pos, i := range order {
		spec := &p.Stages[i]
		s := &stageRun{pos: pos, spec: spec, cond: spec.Cond, pipe: r.pipe, assign: placed[spec.Name]}
		if s.cond == nil && spec.When != "" {
			if s.cond, err = pipeline.ParseWhen(spec.When); err != nil {
				return nil, fmt.Errorf("stage %q: when: %w", spec.Name, err)
			}
		}
		ep := p.Errors
		if spec.Errors != nil {
			ep = *spec.Errors
		}
		if s.pol, err = resolve(ep); err != nil {
			return nil, fmt.Errorf("stage %q: %w", spec.Name, err)
		}
		s.batch = sched.BatchOptions{Max: max(spec.Batch.Max, 1), Delay: spec.Batch.Delay.Std(), Bucketed: spec.Batch.Bucket != ""}
		s.size = sizeFunc(spec)
		s.timeout = spec.Resources.Timeout.Std()
		// Placement decided how many instances fit (between instances.min and max).
		n := len(s.assign)
		if n == 0 {
			return nil, fmt.Errorf("stage %q: placement gave it no instance", spec.Name)
		}
		f, err := env.factory(spec)
		if err != nil {
			return nil, err
		}
		// Instances start side by side: a plugin instance is a process that loads
		// its weights, which is slow, and the instances do not depend on each other.
		s.instances = make([]Stage, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for k := range n {
			wg.Go(func() {
				s.instances[k], errs[k] = f(ctx, Spec{Pipeline: p, Stage: spec, Instance: k, Device: s.assign[k]})
			})
		}
		wg.Wait()
		started := s.instances[:0]
		for _, st := range s.instances {
			if st != nil {
				started = append(started, st)
			}
		}
		s.instances = started
		r.stages = append(r.stages, s) // so Close stops the instances that did start
		for k, err := range errs {
			if err != nil {
				return nil, fmt.Errorf("stage %q: start instance %d: %w", spec.Name, k+1, err)
			}
		}
		r.stages = r.stages[:len(r.stages)-1]
		if mb, ok := s.instances[0].(MaxBatcher); ok && spec.Batch.Auto {
			if m := mb.MaxBatch(); m > 0 {
				s.batch.Max = min(m, pipeline.AutoBatchCap)
			}
		}
		qcap := o.QueueCap
		if qcap <= 0 {
			qcap = max(16, 2*s.batch.Max*n)
		}
		s.in = make(chan *Record, qcap)
		// Items a stage can hold: its queue, one batch forming per bucket (bounded in
		// practice by the deadline), one cut batch waiting at the scheduler, and at
		// each instance one running and one queued (the scheduler's queue depth).
		window += qcap + s.batch.Max*(2*n+2)
		if d, ok := s.instances[0].(Describer); ok {
			s.info = d.Info()
		}
		if spec.Builtin != "" {
			s.info.Builtin = spec.Builtin
		}
		if spec.Plugin != "" && s.info.Plugin == "" {
			s.info.Plugin, s.info.Model = spec.Plugin, spec.Model
		}
		s.info.WeightsSHA256 = digests[spec.Name]
		s.stats.name = spec.Name
		r.stages = append(r.stages, s)
	}
	for _, s := range r.stages {
		r.sch.register(s)
	}
	r.window = make(chan struct{}, window)
	r.done = make(chan *Record, 64)
	r.prov, err = r.provenance()
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Hash is the run's identity in the ledger: the effective pipeline and the weights' digests.
func (r *Runner) Hash() string { return r.hash }

// Window is the most items the run holds at once: what the reader may admit before
// the committer lets one go. Queues, batches and the reorder buffer all fit in it.
func (r *Runner) Window() int { return cap(r.window) }

// LedgerPath is the ledger file, "" without one.
func (r *Runner) LedgerPath() string {
	if r.ledger == nil {
		return ""
	}
	return r.ledger.Path()
}

func outputDir(p *pipeline.Pipeline) string {
	for _, s := range p.Sinks {
		if s.JSONL != "" {
			return filepath.Dir(s.JSONL)
		}
		if s.Files != "" {
			return s.Files
		}
	}
	if p.Errors.Path != "" {
		return filepath.Dir(p.Errors.Path)
	}
	return "."
}

// weightsDigests hashes each stage's weights file once per run.
func weightsDigests(p *pipeline.Pipeline) (map[string]string, error) {
	out := map[string]string{}
	cache := map[string]string{}
	for _, s := range p.Stages {
		if s.Weights == "" {
			continue
		}
		if d, ok := cache[s.Weights]; ok {
			out[s.Name] = d
			continue
		}
		f, err := os.Open(s.Weights)
		if err != nil {
			return nil, fmt.Errorf("stage %q: weights: %w", s.Name, err)
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("stage %q: weights %s: %w", s.Name, s.Weights, err)
		}
		d := hex.EncodeToString(h.Sum(nil))
		cache[s.Weights], out[s.Name] = d, d
	}
	return out, nil
}

func runHash(p *pipeline.Pipeline, digests map[string]string) string {
	h := sha256.New()
	io.WriteString(h, p.Hash())
	names := make([]string, 0, len(digests))
	for n := range digests {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(h, "\n%s=%s", n, digests[n])
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (r *Runner) provenance() (json.RawMessage, error) {
	stages := map[string]Info{}
	for _, s := range r.stages {
		stages[s.spec.Name] = s.info
	}
	return json.Marshal(struct {
		Plexus string          `json:"plexus"`
		Stages map[string]Info `json:"stages"`
	}{r.o.Version, stages})
}

// sizeFunc measures an item for bucketing: text length, audio frames, image pixels;
// the payload's byte count stands in when the value is not decoded yet.
func sizeFunc(spec *pipeline.Stage) func(*Record) int64 {
	if spec.Batch.Bucket == "" {
		return nil
	}
	in := spec.Input
	return func(rec *Record) int64 {
		v, _, part := resolveInput(rec, in)
		switch x := v.(type) {
		case string:
			return int64(len(x))
		case []byte:
			return int64(len(x))
		case *media.Audio:
			return int64(x.Frames())
		case image.Image:
			b := x.Bounds()
			return int64(b.Dx()) * int64(b.Dy())
		}
		if rec.Item != nil {
			if p := rec.Item.Part(part); p != nil {
				return p.Size
			}
		}
		return int64(len(rec.Payload))
	}
}

// resolveInput returns the first present entry of in: a field (value, name, "") or one
// of the item's payloads (nil, name, modality). With no input: the payload of the
// record's own modality is the input.
func resolveInput(rec *Record, in []string) (v any, name, part string) {
	if len(in) == 0 {
		part := rec.Modality
		if rec.Item != nil && rec.Item.Part(part) == nil && len(rec.Item.Parts) > 0 {
			part = rec.Item.Parts[0].Modality // a mixed row: its first payload
		}
		return nil, part, part
	}
	for _, name := range in {
		if v, ok := rec.Fields[name]; ok && v != nil {
			return v, name, ""
		}
		if rec.Item != nil && rec.Item.Part(name) != nil {
			return nil, name, name
		}
		if rec.Item == nil && rec.Payload != nil && name == rec.Modality {
			return nil, name, name
		}
	}
	if len(in) == 1 {
		return nil, in[0], ""
	}
	return nil, "any of " + strings.Join(in, ", "), ""
}

// Run executes the pipeline and returns its summary. It returns ErrInterrupted after
// a graceful stop (Options.Drain), the cause after a fatal item error or a failing
// sink, and ctx's error when ctx ends (in-flight items are then left uncommitted for
// the next run).
func (r *Runner) Run(ctx context.Context) (*Summary, error) {
	defer r.Close()
	if err := r.sch.start(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r.cancel = cancel
	r.stats.start = time.Now()
	n := len(r.stages)
	for j, s := range r.stages {
		s.producers.Store(int32(1 + j))
	}
	r.doneN.Store(int32(1 + n))

	var wg sync.WaitGroup
	wg.Go(func() { r.read(ctx) })
	for _, s := range r.stages {
		wg.Go(func() { r.runStage(ctx, s) })
	}
	cerr := r.commitLoop(ctx)
	if cerr != nil {
		cancel(cerr)
	}
	wg.Wait()
	r.retire()
	r.stats.elapsed.Store(int64(time.Since(r.stats.start)))
	sum := r.Summary()

	switch err := context.Cause(ctx); {
	case cerr != nil:
		return sum, cerr
	case err != nil: // a fatal item error (the cause) or the caller's cancellation
		return sum, err
	case r.stats.interrupted.Load():
		sum.Interrupted = true
		return sum, ErrInterrupted
	}
	return sum, nil
}

// retire declares every instance of the run dead to the scheduler once its workers
// have stopped. After a normal end that changes nothing; after a fatal error or a
// cancellation it takes the batches the workers left behind off their devices, which
// the other pipelines of the process would otherwise wait behind forever.
func (r *Runner) retire() {
	d := r.sch.dispatcher()
	for _, s := range r.stages {
		for _, a := range s.assign {
			d.Fail(s.id, a.Instance)
		}
	}
}

func (r *Runner) abort(err error) {
	r.log.Error("run stopped", "err", err)
	r.cancel(err)
}

// finish records that producer pos (-1 for the reader) will send nothing more, and
// closes each queue whose last producer that was. A stage sends only to stages after
// it in topological order, so every queue closes once all upstream work is done.
func (r *Runner) finish(pos int) {
	for _, s := range r.stages[pos+1:] {
		if s.producers.Add(-1) == 0 {
			close(s.in)
		}
	}
	if r.doneN.Add(-1) == 0 {
		close(r.done)
	}
}

// route sends rec to the first stage from pos on whose when: matches, or to the
// committer when none does: an item a stage skips flows on. park, when not nil, is
// called before waiting for room.
func (r *Runner) route(ctx context.Context, env *recordEnv, rec *Record, pos int, park func()) bool {
	env.r = rec
	for _, s := range r.stages[pos:] {
		if s.cond.Match(env) {
			return r.send(ctx, s.in, rec, park)
		}
		s.stats.skipped.Add(1)
	}
	return r.send(ctx, r.done, rec, park)
}

// send puts rec on ch, calling park (when not nil) first if it has to wait for room.
func (r *Runner) send(ctx context.Context, ch chan<- *Record, rec *Record, park func()) bool {
	select {
	case ch <- rec:
		return true
	default:
	}
	if park != nil {
		park()
	}
	select {
	case ch <- rec:
		return true
	case <-ctx.Done():
		return false
	}
}

func (r *Runner) read(ctx context.Context) {
	defer r.finish(-1)
	env := &recordEnv{}
	// Duplicate ids would be written twice and break resuming. Dataset sources
	// already refuse them (with the manifest line); other sources are checked here.
	var seen map[string]struct{}
	if _, ok := r.o.Source.(*DatasetSource); !ok {
		seen = map[string]struct{}{}
	}
	var seq uint64
	for {
		select {
		case <-r.o.Drain:
			r.stats.interrupted.Store(true)
			r.log.Info("stopping: no new items; finishing the ones in flight")
			return
		case <-ctx.Done():
			return
		default:
		}
		rec, err := r.o.Source.Next(ctx)
		if err == io.EOF {
			return
		}
		if rec == nil {
			if err == nil {
				continue
			}
			if ctx.Err() == nil {
				r.abort(fmt.Errorf("read source: %w", err))
			}
			return
		}
		if r.ledger != nil && r.ledger.Done(rec.ID) {
			r.stats.resumed.Add(1)
			continue
		}
		if seen != nil {
			if _, dup := seen[rec.ID]; dup && err == nil {
				err = Permanent(fmt.Errorf("duplicate item id %q: an earlier item has the same id", rec.ID))
			}
			seen[rec.ID] = struct{}{}
		}
		select {
		case r.window <- struct{}{}:
		case <-ctx.Done():
			return
		}
		if r.o.InFlight != nil {
			r.o.InFlight(1)
		}
		rec.seq = seq
		seq++
		r.stats.read.Add(1)
		if rec.Fields == nil {
			rec.Fields = map[string]any{}
		}
		if err != nil {
			rec.fail = &failure{stage: "source", err: err, attempts: 1, policy: r.srcPol}
			if r.srcPol.fatal() {
				r.abort(fmt.Errorf("item %q: %w", rec.ID, err))
				return
			}
			select {
			case r.done <- rec:
			case <-ctx.Done():
				return
			}
			continue
		}
		if !r.route(ctx, env, rec, 0, nil) {
			return
		}
	}
}

func (r *Runner) runStage(ctx context.Context, s *stageRun) {
	defer r.finish(s.pos)
	d := r.sch.dispatcher()
	// The workers wait on the dispatcher until the stage has nothing left: its input
	// ended and every batch it handed over was routed on.
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	s.stop = stop
	var wg sync.WaitGroup
	for k, inst := range s.instances {
		wg.Go(func() { r.worker(wctx, ctx, d, s, s.assign[k].Instance, inst) })
	}
	b := sched.NewBatcher[*Record](s.batch, s.size)
	err := sched.Pump(ctx, r.clock, b, s.in, func(batch []*Record) error {
		s.pending.Add(int64(len(batch))) // before the batch can finish
		return d.SubmitBatch(ctx, s.id, batch)
	})
	d.Drain(s.id)
	s.ended.Store(true)
	if s.pending.Load() == 0 {
		stop()
	}
	wg.Wait()
	_ = err // only ctx ends a pump early, and the run reports that itself
}

// worker runs the batches the dispatcher gives instance k of the stage, retrying per
// the policy, merges outputs into the records and routes them on. wctx ends when the
// stage has no work left; ctx is the run's.
func (r *Runner) worker(wctx, ctx context.Context, d *sched.Dispatcher[*Record], s *stageRun, k int, st Stage) {
	env := &recordEnv{}
	w := &workerState{
		items:   make([]Item, 0, s.batch.Max),
		results: make([]Result, s.batch.Max),
		keys:    map[string]string{},
	}
	fails := 0 // batches in a row that failed whole on this instance
	// While the worker waits for room downstream it is parked: declared dead to the
	// scheduler, so no batch is started for it (a started batch holds a slot of its
	// device) and one already handed to it goes to a sibling or waits. Otherwise a
	// stage whose downstream shares its GPU could hold the GPU's only slot while the
	// downstream stage needs it to make room: a deadlock.
	parked := false
	park := func() {
		if !parked {
			parked = true
			d.Fail(s.id, k)
		}
	}
	for {
		b, err := d.Next(wctx, s.id, k)
		if err != nil || ctx.Err() != nil {
			return // the stage is done, or the run is stopping and these items stay uncommitted
		}
		if attempts, again := r.process(ctx, s, st, w, b.Items, 1+b.Items[0].handbacks); again {
			for _, rec := range b.Items {
				rec.handbacks++
			}
			// The whole batch failed on this instance: declare it dead so the batch goes
			// back to the front of the stage for a sibling, and take work again after a
			// backoff that grows while the instance keeps failing (the supervised plugin
			// restarts meanwhile), so a dead instance stops drawing batches.
			fails++
			d.Fail(s.id, k)
			ok := sleepCtx(ctx, backoff(max(attempts, fails)))
			d.Revive(s.id, k)
			if !ok {
				return
			}
			continue
		}
		fails = 0
		d.Done(b)
		if ctx.Err() != nil {
			return
		}
		parked = false
		for _, rec := range b.Items {
			rec.handbacks = 0
			if rec.fail != nil {
				if rec.fail.policy.fatal() {
					r.abort(fmt.Errorf("stage %q: item %q: %w", s.spec.Name, rec.ID, rec.fail.err))
					return
				}
				r.send(ctx, r.done, rec, park)
				continue
			}
			r.route(ctx, env, rec, s.pos+1, park)
		}
		if parked {
			d.Revive(s.id, k)
		}
		if s.pending.Add(-int64(len(b.Items))) == 0 && s.ended.Load() {
			s.stop()
		}
	}
}

type workerState struct {
	items   []Item
	results []Result
	todo    []*Record
	again   []*Record
	keys    map[string]string
}

// process runs batch, whose dispatch is the given one (1 for a batch's first run),
// until every item has a result or an error. When the whole batch fails on its first
// try here and the policy allows another, it returns again=true and the attempts so
// far, leaving the records untouched, so the caller hands the batch back to the
// scheduler for another instance.
func (r *Runner) process(ctx context.Context, s *stageRun, st Stage, w *workerState, batch []*Record, dispatch int) (attempts int, again bool) {
	if dispatch <= 1 {
		s.stats.batches.Add(1)
		s.stats.items.Add(int64(len(batch)))
	}
	todo := append(w.todo[:0], batch...)
	for try := 1; ; try++ {
		attempt := try + max(dispatch, 1) - 1
		w.items = w.items[:0]
		for _, rec := range todo {
			v, name, part := resolveInput(rec, s.spec.Input)
			w.items = append(w.items, Item{Record: rec, Input: v, InputName: name, Part: part})
		}
		if cap(w.results) < len(todo) {
			w.results = make([]Result, len(todo))
		}
		res := w.results[:len(todo)]
		for i := range res {
			res[i].reset()
		}
		pctx, cancel := ctx, context.CancelFunc(nil)
		if s.timeout > 0 {
			pctx, cancel = context.WithTimeout(ctx, s.timeout)
		}
		t0 := time.Now()
		err := safeProcess(pctx, st, w.items, res)
		s.stats.lat.observe(time.Since(t0))
		if cancel != nil {
			cancel()
		}
		if ctx.Err() != nil {
			return attempt, false
		}
		if err != nil {
			if attempt <= s.pol.retries && !IsPermanent(err) {
				s.stats.retries.Add(int64(len(todo)))
				r.log.Warn("batch failed; retrying", "stage", s.spec.Name, "items", len(todo), "attempt", attempt, "err", err)
				if try == 1 {
					w.todo = todo[:0]
					return attempt, true
				}
				if !sleepCtx(ctx, backoff(attempt)) {
					return attempt, false
				}
				continue
			}
			for _, rec := range todo {
				r.failItem(s, rec, err, attempt)
			}
			break
		}
		again := w.again[:0]
		for i, rec := range todo {
			if e := res[i].Err; e != nil {
				if attempt <= s.pol.retries && !IsPermanent(e) {
					again = append(again, rec)
				} else {
					r.failItem(s, rec, e, attempt)
				}
				continue
			}
			for _, f := range res[i].fields {
				key, ok := w.keys[f.Name]
				if !ok {
					key = s.spec.Name + "." + f.Name
					w.keys[f.Name] = key
				}
				rec.Fields[key] = f.Value
			}
		}
		w.again = again
		if len(again) == 0 {
			break
		}
		s.stats.retries.Add(int64(len(again)))
		if !sleepCtx(ctx, backoff(attempt)) {
			return attempt, false
		}
		todo, w.again = again, todo[:0]
	}
	w.todo = todo[:0]
	return 0, false
}

func (r *Runner) failItem(s *stageRun, rec *Record, err error, attempts int) {
	s.stats.errors.Add(1)
	rec.fail = &failure{stage: s.spec.Name, err: err, attempts: attempts, policy: s.pol}
}

// safeProcess turns a panicking stage into a batch error, so one bug in a builtin
// fails its batch (and, per the policy, its items) instead of the whole process.
func safeProcess(ctx context.Context, st Stage, items []Item, res []Result) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = Permanent(fmt.Errorf("stage panicked: %v", p))
		}
	}()
	return st.Process(ctx, items, res)
}

func backoff(attempt int) time.Duration {
	d := 10 * time.Millisecond << min(attempt-1, 7)
	return min(d, time.Second)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Close stops the stage instances and closes sinks and the ledger; Run calls it.
func (r *Runner) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	var errs []error
	for _, s := range r.stages {
		for _, inst := range s.instances {
			if c, ok := inst.(Closer); ok {
				errs = append(errs, c.Close())
			}
		}
	}
	for _, s := range r.sinks {
		errs = append(errs, s.Close())
	}
	for _, d := range r.dead {
		errs = append(errs, d.Close())
	}
	if r.ledger != nil {
		errs = append(errs, r.ledger.Close())
	}
	if r.ownSch && r.sch != nil {
		r.sch.Close()
	}
	return errors.Join(errs...)
}
