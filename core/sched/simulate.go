package sched

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/plexusml/plexus/core/pipeline"
)

// Policy is what a simulation schedules with.
type Policy int

const (
	// PolicyScheduler is the real Scheduler: adaptive and preferred batch sizes,
	// least-loaded dispatch, fair sharing, memory admission.
	PolicyScheduler Policy = iota
	// PolicyFIFO is the naive baseline: every stage cuts batches of one fixed size
	// (or whatever waits when its batch.delay passes), all batches join one
	// first-in-first-out queue, and the head batch goes to the first free instance of
	// its stage; while it has none, everything behind it waits.
	PolicyFIFO
)

func (p Policy) String() string {
	if p == PolicyFIFO {
		return "fifo"
	}
	return "scheduler"
}

// MarshalText writes the policy's name in JSON output.
func (p Policy) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// SimResult is what one simulation measured.
type SimResult struct {
	Policy     Policy
	Items      int
	Makespan   time.Duration // first arrival to last item out
	Throughput float64       // items per second
	Latency    Percentiles   // per item, from admission to leaving the pipeline
	Pipelines  []SimPipelineResult
	Devices    []SimDeviceResult
	Stages     []SimStageResult
	Placement  []Assignment
}

// Percentiles of item latency.
type Percentiles struct{ P50, P90, P99, Max time.Duration }

// SimPipelineResult is one pipeline's part of a simulation.
type SimPipelineResult struct {
	Name       string
	Items      int
	Throughput float64
	Latency    Percentiles
	// DeviceTime is the device time its batches used (processor-shared time counted
	// in proportion): what fair sharing divides.
	DeviceTime time.Duration
}

// SimDeviceResult is one device's part of a simulation.
type SimDeviceResult struct {
	ID          string
	Kind        Kind
	Busy        time.Duration
	Utilisation float64
	Batches     int
}

// SimStageResult is one stage's part of a simulation.
type SimStageResult struct {
	Pipeline, Stage string
	Batches, Items  int
	MaxBatch        int
}

// MeanBatch is the mean batch size.
func (s SimStageResult) MeanBatch() float64 {
	if s.Batches == 0 {
		return 0
	}
	return float64(s.Items) / float64(s.Batches)
}

// simPolicy is the part of a scheduler the simulation drives; the Scheduler and the
// FIFO baseline both have it.
type simPolicy interface {
	Submit(now time.Time, st StageID, x int, size int64) error
	Next(now time.Time) (Dispatch[int], bool)
	Done(now time.Time, id uint64) bool
	NextDeadline(now time.Time) (time.Time, bool)
}

type simStage struct {
	pipe  int
	name  string
	cond  *pipeline.Expr
	lat   LatencyModel
	cfg   StageConfig
	insts []Assignment
	// results
	batches, items, maxBatch int
}

type simItem struct {
	pipe     int
	modality string
	pos      int    // chain position of the stage it is queued at or running in
	done     []bool // per chain position: the stage ran for it
	admitted time.Time
}

// env answers when: expressions: the source field named like the modality is present,
// and a stage's outputs ("transcribe.text") are present once that stage ran.
type simEnv struct {
	it    *simItem
	names []string
}

func (e simEnv) Modality() string { return e.it.modality }

func (e simEnv) Field(name string) (any, bool) {
	if name == e.it.modality {
		return "x", true
	}
	st, _, _ := strings.Cut(name, ".")
	for i, n := range e.names {
		if n == st && e.it.done[i] {
			return "x", true
		}
	}
	return nil, false
}

type simJob struct {
	d    Dispatch[int]
	left float64 // seconds of work at the device's full speed
	used float64 // seconds of device time it has had
}

type simDev struct {
	d    Device
	jobs []*simJob
	last time.Time
	ver  int
	busy time.Duration
	n    int
}

type simEvent struct {
	t    time.Time
	seq  int
	kind int // evArrival, evDevice, evDeadline
	idx  int // pipeline for arrivals, device for completions
	ver  int
}

const (
	evArrival = iota
	evDevice
	evDeadline
)

type eventHeap []simEvent

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if !h[i].t.Equal(h[j].t) {
		return h[i].t.Before(h[j].t)
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(simEvent)) }
func (h *eventHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// simEpoch is where simulated time starts; any fixed instant does.
var simEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Simulate runs pipelines against the simulated devices of c with the latency models
// of c, as a discrete-event simulation: the scheduler (or the FIFO baseline) makes
// every decision exactly as in a real run, while a device model stands in for the
// plugins (a batch takes its model's cost on the device's speed, batches running
// together share the device equally) and time jumps from event to event, so nothing
// sleeps and a run is reproducible from its seed.
func Simulate(ps []*pipeline.Pipeline, c *SimConfig, pol Policy) (*SimResult, error) {
	if len(ps) == 0 {
		return nil, errors.New("simulate: no pipeline")
	}
	devs, err := Inventory(context.Background(), InventoryOptions{Simulated: c.Devices, OnlySimulated: true})
	if err != nil {
		return nil, fmt.Errorf("simulate: %w", err)
	}
	if len(devs) == 0 {
		return nil, errors.New("simulate: the simulation file declares no devices")
	}
	sim := &simulation{c: c, devByID: map[string]int{}}
	for i, d := range devs {
		sim.devs = append(sim.devs, &simDev{d: d, last: simEpoch})
		sim.devByID[d.ID] = i
	}
	if err := sim.build(ps); err != nil {
		return nil, err
	}
	var reqs []Request
	for _, st := range sim.stages {
		reqs = append(reqs, st.req)
	}
	placed, err := Place(devs, reqs)
	if err != nil {
		return nil, fmt.Errorf("simulate: %w", err)
	}
	byStage := map[string]int{}
	for i, st := range sim.stages {
		byStage[st.req.Stage] = i
	}
	for _, a := range placed {
		st := sim.stages[byStage[a.Stage]]
		st.insts = append(st.insts, a)
	}
	var p simPolicy
	switch pol {
	case PolicyScheduler:
		s := NewScheduler[int](devs, c.Scheduler)
		for _, st := range sim.stages {
			if _, err := s.AddStage(st.cfg, st.insts); err != nil {
				return nil, fmt.Errorf("simulate: %w", err)
			}
		}
		p = s
	case PolicyFIFO:
		f := newFIFO(devs, c.Scheduler, c.BaselineBatch)
		for _, st := range sim.stages {
			f.addStage(st.cfg, st.insts)
		}
		p = f
	default:
		return nil, fmt.Errorf("simulate: unknown policy %d", pol)
	}
	sim.pol = p
	res, err := sim.run()
	if err != nil {
		return nil, err
	}
	res.Policy = pol
	// Stages are placed as "pipeline/stage"; one pipeline's need no prefix.
	for _, a := range placed {
		if len(ps) == 1 {
			a.Stage = strings.TrimPrefix(a.Stage, sim.pipes[0].name+"/")
		}
		res.Placement = append(res.Placement, a)
	}
	return res, nil
}

type simPipe struct {
	name    string
	chain   []int // stage indexes in order
	names   []string
	left    int // items not yet arrived
	rng     *rand.Rand
	mixKeys []string
	mixCum  []float64
	lat     []time.Duration
	device  float64
	last    time.Time
}

type simStageEntry struct {
	simStage
	req Request
}

type simulation struct {
	c        *SimConfig
	pol      simPolicy
	devs     []*simDev
	devByID  map[string]int
	stages   []*simStageEntry
	pipes    []*simPipe
	items    []*simItem
	events   eventHeap
	seq      int
	inflight []int
	deadline map[time.Time]bool
	finished int
	total    int
}

func (s *simulation) build(ps []*pipeline.Pipeline) error {
	used := map[string]bool{}
	for pi, p := range ps {
		name := p.Name
		for k := 2; used[name]; k++ {
			name = fmt.Sprintf("%s#%d", p.Name, k)
		}
		used[name] = true
		sp := &simPipe{name: name, left: s.c.Workload.Items,
			rng: rand.New(rand.NewPCG(uint64(s.c.Workload.Seed), uint64(pi)))}
		for _, k := range sortedKeys(s.c.Workload.Mix) {
			if w := s.c.Workload.Mix[k]; w > 0 {
				prev := 0.0
				if n := len(sp.mixCum); n > 0 {
					prev = sp.mixCum[n-1]
				}
				sp.mixKeys = append(sp.mixKeys, k)
				sp.mixCum = append(sp.mixCum, prev+w)
			}
		}
		for _, i := range p.TopoOrder() {
			ps := &p.Stages[i]
			lat, err := LatencyFor(s.c.Latency, ps)
			if err != nil {
				return fmt.Errorf("simulate %s: %w", p.File, err)
			}
			cond := ps.Cond
			if cond == nil && ps.When != "" {
				if cond, err = pipeline.ParseWhen(ps.When); err != nil {
					return fmt.Errorf("simulate %s: stage %s: when: %w", p.File, ps.Name, err)
				}
			}
			req := StageRequest(ps)
			if req.Memory == 0 && ps.Builtin == "" {
				req.Memory = lat.InstanceMemory
			}
			req.Stage = name + "/" + ps.Name
			cfg := StageConfig{Pipeline: name, Name: ps.Name,
				Batch:     BatchOptions{Max: max(ps.Batch.Max, 1), Delay: ps.Batch.Delay.Std()},
				Preferred: ps.Batch.Preferred, Priority: ps.Batch.Priority, Weight: ps.Resources.Weight,
				InstanceMemory: req.Memory, ItemMemory: lat.ItemMemory}
			sp.chain = append(sp.chain, len(s.stages))
			sp.names = append(sp.names, ps.Name)
			s.stages = append(s.stages, &simStageEntry{simStage: simStage{pipe: pi, name: ps.Name, cond: cond, lat: lat, cfg: cfg}, req: req})
		}
		s.pipes = append(s.pipes, sp)
		s.total += sp.left
	}
	s.inflight = make([]int, len(s.pipes))
	s.deadline = map[time.Time]bool{}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (s *simulation) push(e simEvent) {
	s.seq++
	e.seq = s.seq
	heap.Push(&s.events, e)
}

func (s *simulation) run() (*SimResult, error) {
	w := s.c.Workload
	for pi := range s.pipes {
		if w.Rate > 0 {
			s.push(simEvent{t: simEpoch.Add(s.interarrival(pi)), kind: evArrival, idx: pi})
		} else {
			s.admitOffline(simEpoch, pi)
		}
	}
	s.pump(simEpoch)
	// A bound on events turns a scheduling bug into an error instead of a hang.
	limit := 1000 + 200*s.total*max(1, len(s.stages))
	now := simEpoch
	for n := 0; s.events.Len() > 0; n++ {
		if n > limit {
			return nil, fmt.Errorf("simulate: no end after %d events", n)
		}
		e := heap.Pop(&s.events).(simEvent)
		now = e.t
		switch e.kind {
		case evArrival:
			s.arrive(now, e.idx)
			if s.pipes[e.idx].left > 0 {
				s.push(simEvent{t: now.Add(s.interarrival(e.idx)), kind: evArrival, idx: e.idx})
			}
		case evDevice:
			if e.ver == s.devs[e.idx].ver {
				s.complete(now, e.idx)
			}
		case evDeadline:
			delete(s.deadline, e.t)
		}
		s.pump(now)
	}
	if s.finished != s.total {
		return nil, fmt.Errorf("simulate: stalled with %d of %d items unfinished (a stage that can never run?)", s.total-s.finished, s.total)
	}
	return s.result(), nil
}

func (s *simulation) interarrival(pi int) time.Duration {
	return time.Duration(s.pipes[pi].rng.ExpFloat64() / s.c.Workload.Rate * 1e9)
}

func (s *simulation) admitOffline(now time.Time, pi int) {
	p := s.pipes[pi]
	for p.left > 0 && s.inflight[pi] < s.c.Workload.Window {
		s.arrive(now, pi)
	}
}

func (s *simulation) arrive(now time.Time, pi int) {
	p := s.pipes[pi]
	if p.left == 0 {
		return
	}
	p.left--
	r := p.rng.Float64() * p.mixCum[len(p.mixCum)-1]
	k := sort.SearchFloat64s(p.mixCum, r)
	k = min(k, len(p.mixKeys)-1)
	it := &simItem{pipe: pi, modality: p.mixKeys[k], done: make([]bool, len(p.chain)), admitted: now}
	s.items = append(s.items, it)
	s.inflight[pi]++
	s.route(now, len(s.items)-1, 0)
}

// route queues item x at the first stage from chain position from whose when:
// matches it, or lets it leave the pipeline.
func (s *simulation) route(now time.Time, x, from int) {
	it := s.items[x]
	p := s.pipes[it.pipe]
	env := simEnv{it: it, names: p.names}
	for k := from; k < len(p.chain); k++ {
		st := s.stages[p.chain[k]]
		if st.cond.Match(env) {
			it.pos = k
			// Stage ids are positions in s.stages for both policies.
			if err := s.pol.Submit(now, StageID(p.chain[k]), x, 0); err != nil {
				panic("simulate: unbounded stage queue refused an item: " + err.Error())
			}
			return
		}
	}
	s.finished++
	s.inflight[it.pipe]--
	p.lat = append(p.lat, now.Sub(it.admitted))
	p.last = now
	if s.c.Workload.Rate == 0 {
		s.admitOffline(now, it.pipe)
	}
}

// pump starts everything the policy dispatches now and arms its next deadline.
func (s *simulation) pump(now time.Time) {
	for {
		d, ok := s.pol.Next(now)
		if !ok {
			break
		}
		st := s.stages[d.Stage]
		st.batches++
		st.items += len(d.Items)
		st.maxBatch = max(st.maxBatch, len(d.Items))
		dev := s.devs[s.devByID[d.Device]]
		s.advance(now, dev)
		work := st.lat.Cost(len(d.Items), speedOf(dev.d)).Seconds()
		dev.jobs = append(dev.jobs, &simJob{d: d, left: work})
		s.reschedule(now, dev)
	}
	if dl, ok := s.pol.NextDeadline(now); ok && !s.deadline[dl] {
		s.deadline[dl] = true
		s.push(simEvent{t: dl, kind: evDeadline})
	}
}

// advance runs dev's jobs up to now, sharing the device equally between them.
func (s *simulation) advance(now time.Time, dev *simDev) {
	dt := now.Sub(dev.last)
	dev.last = now
	if dt <= 0 || len(dev.jobs) == 0 {
		return
	}
	dev.busy += dt
	per := dt.Seconds() / float64(len(dev.jobs))
	for _, j := range dev.jobs {
		j.left -= per
		j.used += per
	}
}

func (s *simulation) reschedule(now time.Time, dev *simDev) {
	dev.ver++
	if len(dev.jobs) == 0 {
		return
	}
	m := math.Inf(1)
	for _, j := range dev.jobs {
		m = min(m, j.left)
	}
	wait := time.Duration(math.Ceil(max(m, 0) * float64(len(dev.jobs)) * 1e9))
	s.push(simEvent{t: now.Add(wait), kind: evDevice, idx: s.devByID[dev.d.ID], ver: dev.ver})
}

func (s *simulation) complete(now time.Time, di int) {
	dev := s.devs[di]
	s.advance(now, dev)
	var done []*simJob
	dev.jobs = slices.DeleteFunc(dev.jobs, func(j *simJob) bool {
		if j.left <= 1e-9 {
			done = append(done, j)
			return true
		}
		return false
	})
	s.reschedule(now, dev)
	for _, j := range done {
		dev.n++
		s.pol.Done(now, j.d.ID)
		st := s.stages[j.d.Stage]
		s.pipes[st.pipe].device += j.used
		for _, x := range j.d.Items {
			it := s.items[x]
			it.done[it.pos] = true
			s.route(now, x, it.pos+1)
		}
	}
}

func percentiles(lat []time.Duration) Percentiles {
	if len(lat) == 0 {
		return Percentiles{}
	}
	l := slices.Clone(lat)
	slices.Sort(l)
	at := func(q float64) time.Duration {
		i := int(math.Ceil(q*float64(len(l)))) - 1
		return l[min(max(i, 0), len(l)-1)]
	}
	return Percentiles{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: l[len(l)-1]}
}

func (s *simulation) result() *SimResult {
	r := &SimResult{Items: s.total}
	var all []time.Duration
	end := simEpoch
	for _, p := range s.pipes {
		all = append(all, p.lat...)
		if p.last.After(end) {
			end = p.last
		}
	}
	r.Makespan = end.Sub(simEpoch)
	if r.Makespan > 0 {
		r.Throughput = float64(s.total) / r.Makespan.Seconds()
	}
	r.Latency = percentiles(all)
	for _, p := range s.pipes {
		pr := SimPipelineResult{Name: p.name, Items: len(p.lat), Latency: percentiles(p.lat),
			DeviceTime: time.Duration(p.device * 1e9)}
		if span := p.last.Sub(simEpoch); span > 0 {
			pr.Throughput = float64(len(p.lat)) / span.Seconds()
		}
		r.Pipelines = append(r.Pipelines, pr)
	}
	for _, d := range s.devs {
		dr := SimDeviceResult{ID: d.d.ID, Kind: d.d.Kind, Busy: d.busy, Batches: d.n}
		if r.Makespan > 0 {
			dr.Utilisation = float64(d.busy) / float64(r.Makespan)
		}
		r.Devices = append(r.Devices, dr)
	}
	for _, st := range s.stages {
		r.Stages = append(r.Stages, SimStageResult{Pipeline: s.pipes[st.pipe].name, Stage: st.name,
			Batches: st.batches, Items: st.items, MaxBatch: st.maxBatch})
	}
	return r
}
