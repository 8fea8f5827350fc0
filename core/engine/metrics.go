package engine

import (
	"fmt"
	"io"
	"math/bits"
	"strconv"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/plexusml/plexus/core/sched"
)

// Modalities in the order counters keep them; anything else counts as "other".
var modalityNames = [...]string{"text", "image", "audio", "tensor", "mixed", "other"}

func modalityIndex(m string) int {
	for i, n := range modalityNames[:len(modalityNames)-1] {
		if n == m {
			return i
		}
	}
	return len(modalityNames) - 1
}

type runStats struct {
	start       time.Time
	elapsed     atomic.Int64
	read        atomic.Int64
	done        atomic.Int64
	failed      atomic.Int64
	resumed     atomic.Int64
	committed   atomic.Int64
	commits     atomic.Int64
	interrupted atomic.Bool
	byModality  [len(modalityNames)]atomic.Int64
}

type stageStats struct {
	name    string
	items   atomic.Int64
	batches atomic.Int64
	errors  atomic.Int64
	retries atomic.Int64
	skipped atomic.Int64 // items its when: did not match
	lat     histogram
}

// histogram is a lock-free latency histogram with four buckets per power of two of
// nanoseconds (about 19% wide), enough for p50/p95/p99 in a summary table.
type histogram struct {
	counts [64 * 4]atomic.Uint64
	n      atomic.Uint64
	sum    atomic.Int64 // nanoseconds
}

func (h *histogram) observe(d time.Duration) {
	h.counts[histBucket(uint64(max(d, 1)))].Add(1)
	h.n.Add(1)
	h.sum.Add(int64(d))
}

func histBucket(v uint64) int {
	l := bits.Len64(v) - 1 // 2^l <= v
	frac := 0
	if l >= 2 {
		frac = int(v>>(l-2)) & 3
	} else if l == 1 {
		frac = int(v&1) << 1
	}
	return l*4 + frac
}

// histUpper is the upper edge of bucket b, in nanoseconds.
func histUpper(b int) float64 {
	l, frac := b/4, b%4
	return float64(uint64(1)<<l) * (1 + float64(frac+1)/4)
}

func (h *histogram) quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	want := uint64(q*float64(n)) + 1
	var cum uint64
	for b := range h.counts {
		cum += h.counts[b].Load()
		if cum >= want {
			return time.Duration(histUpper(b))
		}
	}
	return time.Duration(histUpper(len(h.counts) - 1))
}

// StageSnapshot is one stage's figures at a moment.
type StageSnapshot struct {
	Name              string
	Items, Batches    int64
	Errors, Retries   int64
	Skipped, Restarts int64
	Queue, QueueCap   int
	MeanBatch         float64
	P50, P95, P99     time.Duration
	Instances         int
	// Sched is the scheduler's view of the stage: items waiting for an instance,
	// batch sizes, and per instance its device, utilisation and queue; nil before
	// the run starts.
	Sched *sched.StageStats
}

// Snapshot is the run's progress at a moment; it is cheap and safe to take while the
// run goes on.
type Snapshot struct {
	Elapsed time.Duration
	// Read is items admitted this run, Done those written to the sinks, Failed those
	// dead-lettered or skipped, Resumed those an earlier run had committed.
	Read, Done, Failed, Resumed int64
	Committed, Commits          int64
	ByModality                  map[string]int64
	Stages                      []StageSnapshot
	// Devices are the devices the run's instances are placed on, as the scheduler
	// sees them (shared with the other pipelines of the process).
	Devices []sched.DeviceStats
}

// Summary is the snapshot at the end of a run.
type Summary struct {
	Snapshot
	Interrupted bool
}

// Snapshot reads the counters.
func (r *Runner) Snapshot() Snapshot {
	st := &r.stats
	s := Snapshot{
		Read: st.read.Load(), Done: st.done.Load(), Failed: st.failed.Load(), Resumed: st.resumed.Load(),
		Committed: st.committed.Load(), Commits: st.commits.Load(), ByModality: map[string]int64{},
	}
	if e := st.elapsed.Load(); e > 0 {
		s.Elapsed = time.Duration(e)
	} else if !st.start.IsZero() {
		s.Elapsed = time.Since(st.start)
	}
	for i := range st.byModality {
		if n := st.byModality[i].Load(); n > 0 {
			s.ByModality[modalityNames[i]] = n
		}
	}
	var sst sched.Stats
	if r.sch != nil {
		sst = r.sch.Stats()
	}
	used := map[string]bool{}
	for _, sr := range r.stages {
		for _, a := range sr.assign {
			used[a.Device] = true
		}
	}
	for _, d := range sst.Devices {
		if used[d.ID] {
			s.Devices = append(s.Devices, d)
		}
	}
	for _, sr := range r.stages {
		ss := StageSnapshot{
			Name: sr.spec.Name, Items: sr.stats.items.Load(), Batches: sr.stats.batches.Load(),
			Errors: sr.stats.errors.Load(), Retries: sr.stats.retries.Load(), Skipped: sr.stats.skipped.Load(),
			Queue: len(sr.in), QueueCap: cap(sr.in), Instances: len(sr.instances),
			P50: sr.stats.lat.quantile(0.50), P95: sr.stats.lat.quantile(0.95), P99: sr.stats.lat.quantile(0.99),
		}
		if ss.Batches > 0 {
			ss.MeanBatch = float64(ss.Items) / float64(ss.Batches)
		}
		for _, inst := range sr.instances {
			if rs, ok := inst.(Restarter); ok {
				ss.Restarts += int64(rs.Restarts())
			}
		}
		for i := range sst.Stages {
			if g := &sst.Stages[i]; g.Pipeline == r.pipe && g.Stage == sr.spec.Name {
				ss.Sched = g
			}
		}
		s.Stages = append(s.Stages, ss)
	}
	return s
}

// Summary is the final snapshot.
func (r *Runner) Summary() *Summary { return &Summary{Snapshot: r.Snapshot()} }

// WriteTable prints the per-stage summary table and a totals line.
func (s *Summary) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "stage\titems\tbatches\tmean batch\tbatch p50\tp95\tp99\terrors\tretries\trestarts\t")
	for _, st := range s.Stages {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%s\t%s\t%s\t%d\t%d\t%d\t\n", st.Name, st.Items, st.Batches, st.MeanBatch,
			fmtDur(st.P50), fmtDur(st.P95), fmtDur(st.P99), st.Errors, st.Retries, st.Restarts)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := s.writeDevices(w); err != nil {
		return err
	}
	rate := 0.0
	if s.Elapsed > 0 {
		rate = float64(s.Done+s.Failed) / s.Elapsed.Seconds()
	}
	var mods []string
	for _, m := range modalityNames {
		if n := s.ByModality[m]; n > 0 {
			mods = append(mods, fmt.Sprintf("%s %d", m, n))
		}
	}
	_, err := fmt.Fprintf(w, "%d done (%s), %d failed, %d already committed; %s, %.0f items/s, %d commits\n",
		s.Done, strings.Join(mods, ", "), s.Failed, s.Resumed, s.Elapsed.Round(time.Millisecond), rate, s.Commits)
	return err
}

// writeDevices prints the scheduler's view: each device's utilisation and batches,
// then each instance's device, utilisation, batches and items, and the largest batch
// its stage ran.
func (s *Summary) writeDevices(w io.Writer) error {
	if len(s.Devices) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "device\tkind\tutilisation\tbatches\trunning\tlimit\t")
	for _, d := range s.Devices {
		fmt.Fprintf(tw, "%s\t%s\t%.0f%%\t%d\t%d\t%d\t\n", d.ID, d.Kind, 100*d.Utilisation, d.Batches, d.Running, d.Limit)
	}
	fmt.Fprintln(tw, "instance\tdevice\tutilisation\tbatches\titems\tmax batch\t")
	for _, st := range s.Stages {
		if st.Sched == nil {
			continue
		}
		largest := 0
		for n, c := range st.Sched.Sizes {
			if c > 0 {
				largest = n
			}
		}
		for _, in := range st.Sched.Instances {
			fmt.Fprintf(tw, "%s/%d\t%s\t%.0f%%\t%d\t%d\t%d\t\n", st.Name, in.Instance, in.Device, 100*in.Utilisation, in.Batches, in.Items, largest)
		}
	}
	return tw.Flush()
}

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	}
	return d.Round(time.Millisecond).String()
}

// Collector exposes the run's counters to Prometheus; it reads the same atomics as
// Snapshot when scraped, so it costs the hot path nothing.
func (r *Runner) Collector() prometheus.Collector { return collector{r} }

type collector struct{ r *Runner }

var (
	descItems    = prometheus.NewDesc("plexus_stage_items_total", "Items a stage processed.", []string{"stage"}, nil)
	descBatches  = prometheus.NewDesc("plexus_stage_batches_total", "Batches a stage processed.", []string{"stage"}, nil)
	descErrors   = prometheus.NewDesc("plexus_stage_errors_total", "Items a stage failed on for good.", []string{"stage"}, nil)
	descRetries  = prometheus.NewDesc("plexus_stage_retries_total", "Item attempts a stage retried.", []string{"stage"}, nil)
	descRestarts = prometheus.NewDesc("plexus_stage_restarts_total", "Instance restarts.", []string{"stage"}, nil)
	descQueue    = prometheus.NewDesc("plexus_stage_queue_depth", "Items waiting in a stage's input queue.", []string{"stage"}, nil)
	descLatency  = prometheus.NewDesc("plexus_stage_batch_seconds", "Time a stage took per batch.", []string{"stage"}, nil)
	descDone     = prometheus.NewDesc("plexus_items_done_total", "Items written to the sinks, by modality.", []string{"modality"}, nil)
	descFailed   = prometheus.NewDesc("plexus_items_failed_total", "Items dead-lettered or skipped.", nil, nil)
	descRead     = prometheus.NewDesc("plexus_items_read_total", "Items admitted by the reader.", nil, nil)
	descCommits  = prometheus.NewDesc("plexus_ledger_commits_total", "Ledger commits (one fsync group each).", nil, nil)

	descSchedQueue = prometheus.NewDesc("plexus_stage_scheduler_queue_depth", "Items cut into batches and waiting for an instance.", []string{"stage"}, nil)
	descBatchSize  = prometheus.NewDesc("plexus_stage_batch_size", "Items per batch the scheduler dispatched.", []string{"stage"}, nil)
	descInstUtil   = prometheus.NewDesc("plexus_instance_utilisation", "Fraction of the run an instance spent running batches.", []string{"stage", "instance", "device"}, nil)
	descInstBatch  = prometheus.NewDesc("plexus_instance_batches_total", "Batches an instance completed.", []string{"stage", "instance", "device"}, nil)
	descInstQueue  = prometheus.NewDesc("plexus_instance_queued_batches", "Full batches queued at an instance beyond the one it runs.", []string{"stage", "instance", "device"}, nil)
	descInstAlive  = prometheus.NewDesc("plexus_instance_alive", "1 while the scheduler counts an instance alive.", []string{"stage", "instance", "device"}, nil)
	descDevUtil    = prometheus.NewDesc("plexus_device_utilisation", "Fraction of the time a device had a batch running.", []string{"device", "kind"}, nil)
	descDevRunning = prometheus.NewDesc("plexus_device_running_batches", "Batches running on a device now.", []string{"device", "kind"}, nil)
	descDevLimit   = prometheus.NewDesc("plexus_device_concurrency_limit", "Batches a device may run at once.", []string{"device", "kind"}, nil)
	descDevBatches = prometheus.NewDesc("plexus_device_batches_total", "Batches a device completed.", []string{"device", "kind"}, nil)
	descDevMem     = prometheus.NewDesc("plexus_device_working_memory_bytes", "Working memory of the batches running on a device.", []string{"device", "kind"}, nil)
)

var deviceDescs = []*prometheus.Desc{descDevUtil, descDevRunning, descDevLimit, descDevBatches, descDevMem}

func collectDevices(ch chan<- prometheus.Metric, devs []sched.DeviceStats) {
	for _, d := range devs {
		k := string(d.Kind)
		ch <- prometheus.MustNewConstMetric(descDevUtil, prometheus.GaugeValue, d.Utilisation, d.ID, k)
		ch <- prometheus.MustNewConstMetric(descDevRunning, prometheus.GaugeValue, float64(d.Running), d.ID, k)
		ch <- prometheus.MustNewConstMetric(descDevLimit, prometheus.GaugeValue, float64(d.Limit), d.ID, k)
		ch <- prometheus.MustNewConstMetric(descDevBatches, prometheus.CounterValue, float64(d.Batches), d.ID, k)
		ch <- prometheus.MustNewConstMetric(descDevMem, prometheus.GaugeValue, float64(d.MemoryInUse), d.ID, k)
	}
}

// Collector exposes the scheduler's devices to Prometheus. Register it once per
// process beside each run's collector (which then leaves devices out).
func (s *Scheduler) Collector() prometheus.Collector { return schedCollector{s} }

type schedCollector struct{ s *Scheduler }

func (c schedCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range deviceDescs {
		ch <- d
	}
}

func (c schedCollector) Collect(ch chan<- prometheus.Metric) { collectDevices(ch, c.s.Stats().Devices) }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descItems, descBatches, descErrors, descRetries, descRestarts, descQueue, descLatency, descDone, descFailed, descRead, descCommits,
		descSchedQueue, descBatchSize, descInstUtil, descInstBatch, descInstQueue, descInstAlive} {
		ch <- d
	}
	if c.r.ownSch {
		for _, d := range deviceDescs {
			ch <- d
		}
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.r.Snapshot()
	for i, st := range s.Stages {
		ch <- prometheus.MustNewConstMetric(descItems, prometheus.CounterValue, float64(st.Items), st.Name)
		ch <- prometheus.MustNewConstMetric(descBatches, prometheus.CounterValue, float64(st.Batches), st.Name)
		ch <- prometheus.MustNewConstMetric(descErrors, prometheus.CounterValue, float64(st.Errors), st.Name)
		ch <- prometheus.MustNewConstMetric(descRetries, prometheus.CounterValue, float64(st.Retries), st.Name)
		ch <- prometheus.MustNewConstMetric(descRestarts, prometheus.CounterValue, float64(st.Restarts), st.Name)
		ch <- prometheus.MustNewConstMetric(descQueue, prometheus.GaugeValue, float64(st.Queue), st.Name)
		h := &c.r.stages[i].stats.lat
		ch <- prometheus.MustNewConstSummary(descLatency, h.n.Load(), time.Duration(h.sum.Load()).Seconds(), map[float64]float64{
			0.5: st.P50.Seconds(), 0.95: st.P95.Seconds(), 0.99: st.P99.Seconds(),
		}, st.Name)
		if g := st.Sched; g != nil {
			ch <- prometheus.MustNewConstMetric(descSchedQueue, prometheus.GaugeValue, float64(g.Queued), st.Name)
			// Sizes[n] counts batches of n items: a histogram with one bucket per size.
			buckets := map[float64]uint64{}
			var cum uint64
			var sum float64
			for n := 1; n < len(g.Sizes); n++ {
				cum += uint64(g.Sizes[n])
				sum += float64(n) * float64(g.Sizes[n])
				buckets[float64(n)] = cum
			}
			ch <- prometheus.MustNewConstHistogram(descBatchSize, cum, sum, buckets, st.Name)
			for _, in := range g.Instances {
				inst := strconv.Itoa(in.Instance)
				alive := 0.0
				if in.Alive {
					alive = 1
				}
				ch <- prometheus.MustNewConstMetric(descInstUtil, prometheus.GaugeValue, in.Utilisation, st.Name, inst, in.Device)
				ch <- prometheus.MustNewConstMetric(descInstBatch, prometheus.CounterValue, float64(in.Batches), st.Name, inst, in.Device)
				ch <- prometheus.MustNewConstMetric(descInstQueue, prometheus.GaugeValue, float64(in.Queued), st.Name, inst, in.Device)
				ch <- prometheus.MustNewConstMetric(descInstAlive, prometheus.GaugeValue, alive, st.Name, inst, in.Device)
			}
		}
	}
	if c.r.ownSch {
		collectDevices(ch, s.Devices)
	}
	for _, m := range modalityNames {
		ch <- prometheus.MustNewConstMetric(descDone, prometheus.CounterValue, float64(s.ByModality[m]), m)
	}
	ch <- prometheus.MustNewConstMetric(descFailed, prometheus.CounterValue, float64(s.Failed))
	ch <- prometheus.MustNewConstMetric(descRead, prometheus.CounterValue, float64(s.Read))
	ch <- prometheus.MustNewConstMetric(descCommits, prometheus.CounterValue, float64(s.Commits))
}
