package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/plexusml/plexus/core/pipeline"
	"github.com/plexusml/plexus/core/sched"
)

// SchedulerOptions configure the device scheduler that the runs of one process share.
type SchedulerOptions struct {
	// Devices are the devices instances are placed on; nil takes the inventory of this
	// machine (the CPU and the GPUs nvidia-smi finds; never simulated devices, which
	// only `plexus sched simulate` and `plexus validate` use).
	Devices []sched.Device
	// Weights share devices between pipelines by pipeline name; default 1 each.
	Weights map[string]float64
	// Concurrency is the most batches a device kind runs at once. GPUs default to 1;
	// the CPU defaults to the larger of its cores and the CPU instances placed on it,
	// so every CPU instance can run at once, as each did before the scheduler owned
	// dispatch (an instance is a process that may wait on I/O, not a core).
	Concurrency map[sched.Kind]int
	// Clock runs the dispatcher's deadlines; nil is the wall clock.
	Clock sched.Clock
}

// Scheduler places the stage instances of every pipeline a process runs on its
// devices and dispatches their batches through one sched.Dispatcher, so pipelines
// share GPUs fairly (by weight) and no device is sent more than it can run. Create
// it, pass it to every New through Options.Scheduler, run the runners, then Close it.
// A runner made without one gets its own over this machine's devices.
type Scheduler struct {
	o  SchedulerOptions
	mu sync.Mutex
	// devs carry the memory still free after the instances placed so far, so a
	// second pipeline is placed beside the first rather than on top of it.
	devs    []sched.Device
	stages  []*stageRun
	names   map[string]int
	started bool
	err     error
	s       *sched.Scheduler[*Record]
	d       *sched.Dispatcher[*Record]
	cancel  context.CancelFunc
	done    chan struct{}
}

// NewScheduler returns a scheduler over o.Devices, or over this machine's real
// devices when o.Devices is nil.
func NewScheduler(ctx context.Context, o SchedulerOptions) (*Scheduler, error) {
	devs := o.Devices
	if devs == nil {
		var err error
		if devs, err = sched.Inventory(ctx, sched.InventoryOptions{}); err != nil {
			return nil, fmt.Errorf("device inventory: %w", err)
		}
	}
	if len(devs) == 0 {
		return nil, errors.New("scheduler: no devices")
	}
	return &Scheduler{o: o, devs: append([]sched.Device(nil), devs...), names: map[string]int{}}, nil
}

// Devices lists the scheduler's devices with the memory left after the placements
// made so far.
func (s *Scheduler) Devices() []sched.Device {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sched.Device(nil), s.devs...)
}

// pipelineKey names a pipeline in the scheduler (fair sharing, statistics): its name,
// made unique when two runs share one.
func (s *Scheduler) pipelineKey(p *pipeline.Pipeline) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := p.Name
	if name == "" {
		name = "pipeline"
	}
	s.names[name]++
	if n := s.names[name]; n > 1 {
		return fmt.Sprintf("%s#%d", name, n)
	}
	return name
}

// place assigns the instances of every stage of p, all at once so each stage's
// minimum is placed before any stage's extras, and takes their memory off the
// devices. It returns the assignments by stage name.
func (s *Scheduler) place(p *pipeline.Pipeline) (map[string][]sched.Assignment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return nil, errors.New("scheduler already started: make every runner before running any")
	}
	asg, err := sched.Place(s.devs, sched.Requests(p))
	if err != nil {
		return nil, fmt.Errorf("place the stages' instances: %w", err)
	}
	used := map[string]int64{}
	mem := map[string]int64{}
	for i := range p.Stages {
		mem[p.Stages[i].Name] = sched.StageRequest(&p.Stages[i]).Memory
	}
	out := map[string][]sched.Assignment{}
	for _, a := range asg {
		out[a.Stage] = append(out[a.Stage], a)
		used[a.Device] += mem[a.Stage]
	}
	for i := range s.devs {
		d := &s.devs[i]
		if used[d.ID] == 0 {
			continue
		}
		free := d.Free
		if free <= 0 {
			free = d.Memory
		}
		// Place reads a zero Free as "unknown, use Memory": keep a full device at one byte.
		d.Free = max(free-used[d.ID], 1)
	}
	return out, nil
}

// register adds a stage run to the scheduler; it is given its StageID at start.
func (s *Scheduler) register(sr *stageRun) {
	s.mu.Lock()
	s.stages = append(s.stages, sr)
	s.mu.Unlock()
}

// start builds the scheduler and its dispatcher over every registered stage and
// starts the dispatcher, once; later calls return the first call's result.
func (s *Scheduler) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return s.err
	}
	s.started = true
	cpuInst := map[string]int{}
	for _, sr := range s.stages {
		for _, a := range sr.assign {
			if a.Kind == sched.CPU {
				cpuInst[a.Device]++
			}
		}
	}
	conc := map[sched.Kind]int{}
	for k, v := range s.o.Concurrency {
		conc[k] = v
	}
	perDev := map[string]int{}
	if conc[sched.CPU] <= 0 {
		for _, d := range s.devs {
			if d.Kind == sched.CPU {
				perDev[d.ID] = max(d.Cores, cpuInst[d.ID], 1)
			}
		}
	}
	s.s = sched.NewScheduler[*Record](s.devs, sched.SchedulerOptions{Concurrency: conc, DeviceConcurrency: perDev,
		PipelineWeights: s.o.Weights})
	for _, sr := range s.stages {
		id, err := s.s.AddStage(sr.schedConfig(), sr.assign)
		if err != nil {
			s.err = fmt.Errorf("scheduler: %w", err)
			return s.err
		}
		sr.id = id
	}
	s.d = sched.NewDispatcher(s.s, s.o.Clock)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go func() {
		defer close(s.done)
		_ = s.d.Run(ctx) // ends with Close
	}()
	return nil
}

// dispatcher is the running dispatcher; start must have succeeded.
func (s *Scheduler) dispatcher() *sched.Dispatcher[*Record] {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.d
}

// Stats is the scheduler's snapshot: per device and per instance utilisation, queue
// depths and batch sizes. It is empty before the first run starts.
func (s *Scheduler) Stats() sched.Stats {
	d := s.dispatcher()
	if d == nil {
		return sched.Stats{}
	}
	return d.Stats()
}

// Close stops the dispatcher; blocked calls return sched.ErrClosed.
func (s *Scheduler) Close() {
	s.mu.Lock()
	d, cancel, done := s.d, s.cancel, s.done
	s.mu.Unlock()
	if d == nil {
		return
	}
	d.Close()
	cancel()
	<-done
}
