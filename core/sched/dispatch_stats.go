package sched

import "time"

// Stats is a snapshot of the scheduler for the engine's summary and for Prometheus:
// per device and per instance utilisation, queue depths and batch sizes.
type Stats struct {
	// Elapsed is the time since the scheduler first saw an event; utilisations are
	// fractions of it.
	Elapsed time.Duration
	Devices []DeviceStats
	Stages  []StageStats
}

// DeviceStats describes one device.
type DeviceStats struct {
	ID           string
	Kind         Kind
	Utilisation  float64       // fraction of Elapsed with at least one batch running
	Busy         time.Duration // time with at least one batch running
	Running      int           // batches running now
	Limit        int           // concurrency limit
	Batches      int64         // batches completed
	MemoryInUse  int64         // working memory of running batches
	MemoryBudget int64         // memory left for batches after instance reservations
}

// StageStats describes one stage and its instances.
type StageStats struct {
	Pipeline string
	Stage    string
	Queued   int   // items waiting to be batched or, cut by SubmitBatch, for an instance
	Retry    int   // batches waiting to be re-dispatched after an instance died
	Batches  int64 // batches completed
	Items    int64 // items in them
	// Sizes[n] counts completed batches of n items (index 0 unused).
	Sizes []int64
	// MeanWait and MaxWait are how long items waited between Submit and their batch
	// being cut.
	MeanWait  time.Duration
	MaxWait   time.Duration
	Instances []InstanceStats
}

// MeanBatch is the mean size of the completed batches.
func (s StageStats) MeanBatch() float64 {
	if s.Batches == 0 {
		return 0
	}
	return float64(s.Items) / float64(s.Batches)
}

// InstanceStats describes one instance.
type InstanceStats struct {
	Instance    int
	Device      string
	Alive       bool
	Running     bool
	Queued      int // full batches queued at the instance
	Batches     int64
	Items       int64
	Busy        time.Duration
	Utilisation float64 // Busy ÷ Elapsed
}

// Stats returns a snapshot at now.
func (s *Scheduler[T]) Stats(now time.Time) Stats {
	s.touch(now)
	out := Stats{Elapsed: now.Sub(s.epoch)}
	frac := func(d time.Duration) float64 {
		if out.Elapsed <= 0 {
			return 0
		}
		return float64(d) / float64(out.Elapsed)
	}
	for _, d := range s.devs {
		busy := d.busy
		if len(d.running) > 0 {
			busy += now.Sub(d.last)
		}
		out.Devices = append(out.Devices, DeviceStats{ID: d.d.ID, Kind: d.d.Kind, Utilisation: frac(busy), Busy: busy,
			Running: len(d.running), Limit: d.limit, Batches: d.batches, MemoryInUse: d.mem.inUse, MemoryBudget: d.mem.budget()})
	}
	for _, g := range s.stages {
		ss := StageStats{Pipeline: g.cfg.Pipeline, Stage: g.cfg.Name, Queued: g.queued + g.readyN, Retry: len(g.retry),
			Batches: g.batches, Items: g.items, Sizes: append([]int64(nil), g.sizes...), MaxWait: g.waitMax}
		if g.cutN > 0 {
			ss.MeanWait = g.waitSum / time.Duration(g.cutN)
		}
		for _, in := range g.insts {
			busy := in.busy
			if in.running != nil {
				busy += now.Sub(in.running.started)
			}
			ss.Instances = append(ss.Instances, InstanceStats{Instance: in.idx, Device: in.dev.d.ID, Alive: in.alive,
				Running: in.running != nil, Queued: len(in.queue), Batches: in.batches, Items: in.items,
				Busy: busy, Utilisation: frac(busy)})
		}
		out.Stages = append(out.Stages, ss)
	}
	return out
}
