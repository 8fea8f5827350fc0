package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/plexusml/plexus/core/pipeline"
	"github.com/plexusml/plexus/core/sched"
)

// The shipped defaults of `plexus sched simulate`, relative to the repository root.
const (
	defaultSimPipeline = "configs/sim-mixed-pipeline.yaml"
	defaultSimDevices  = "configs/sim-mixed.yaml"
)

func newSchedCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sched",
		Short: "Inspect the device scheduler: simulate pipelines on simulated devices",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newSchedSimulateCmd())
	return cmd
}

func newSchedSimulateCmd() *cobra.Command {
	var (
		simPath  string
		sets     []string
		items    int
		rate     float64
		baseline int
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "simulate [PIPELINE...]",
		Short: "Run the real scheduler on simulated devices and compare it with a naive FIFO baseline",
		Long: `simulate places the pipelines' stages on the simulated devices of --devices and feeds
them a workload, as a discrete-event simulation: the scheduler makes every batching,
dispatch, fair-share and admission decision as in a real run, while each batch takes
the time its model's latency model says (fixed + per item, divided by the device's
speed) and nothing sleeps. It prints throughput, latency percentiles, device
utilisation and batch sizes, beside a naive baseline on the same devices and
placement: one FIFO queue of fixed-size batches whose head waits for a free instance
of its stage while everything behind it waits too. The ratio is scheduler ÷ baseline
throughput.

Several pipelines share the devices as ` + "`plexus run a.yaml b.yaml`" + ` would; their
weights come from scheduler.weights in the simulation file. The file format is
described in docs/scheduling.md; without arguments the shipped demo runs
(` + defaultSimPipeline + ` on ` + defaultSimDevices + `).`,
		Example: `  plexus sched simulate
  plexus sched simulate pipelines/mixed-demo.yaml --devices configs/sim-mixed.yaml
  plexus sched simulate a.yaml b.yaml --devices configs/sim-mixed.yaml --items 2000 --json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = []string{defaultSimPipeline}
			}
			cfg, err := sched.LoadSimConfig(simPath)
			if err != nil {
				return err
			}
			if items > 0 {
				cfg.Workload.Items = items
			}
			if cmd.Flags().Changed("rate") {
				cfg.Workload.Rate = rate
			}
			if baseline > 0 {
				cfg.BaselineBatch = baseline
			}
			var ps []*pipeline.Pipeline
			for _, file := range args {
				p, err := loadPipeline(cmd.ErrOrStderr(), file, sets)
				if err != nil {
					return err
				}
				ps = append(ps, p)
			}
			ours, err := sched.Simulate(ps, cfg, sched.PolicyScheduler)
			if err != nil {
				return err
			}
			base, err := sched.Simulate(ps, cfg, sched.PolicyFIFO)
			if err != nil {
				return err
			}
			ratio := 0.0
			if base.Throughput > 0 {
				ratio = ours.Throughput / base.Throughput
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"scheduler": ours, "fifo": base, "ratio": ratio})
			}
			return printSimulation(cmd.OutOrStdout(), ps, cfg, ours, base, ratio)
		},
	}
	cmd.Flags().StringVar(&simPath, "devices", defaultSimDevices, "simulation file: devices, latency models, workload")
	cmd.Flags().StringArrayVar(&sets, "set", nil, "override a pipeline key, such as stages.continue.batch.max=8 (repeatable)")
	cmd.Flags().IntVar(&items, "items", 0, "items per pipeline (overrides workload.items)")
	cmd.Flags().Float64Var(&rate, "rate", 0, "arrivals per second, 0 for offline (overrides workload.rate)")
	cmd.Flags().IntVar(&baseline, "baseline-batch", 0, "the FIFO baseline's fixed batch size (overrides baseline.batch)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print both results and the ratio as JSON (durations in nanoseconds)")
	return cmd
}

func printSimulation(w io.Writer, ps []*pipeline.Pipeline, cfg *sched.SimConfig, ours, base *sched.SimResult, ratio float64) error {
	var names, devs []string
	for _, p := range ps {
		names = append(names, p.Name)
	}
	for _, d := range cfg.Devices {
		speed := d.Speed
		if speed <= 0 {
			speed = 1
		}
		devs = append(devs, fmt.Sprintf("%s (%s, %s, speed %g)", d.Name, d.Kind, sched.FormatBytes(d.Memory), speed))
	}
	fmt.Fprintf(w, "simulated %s on %s\n", strings.Join(names, ", "), strings.Join(devs, ", "))
	wl := cfg.Workload
	var mix []string
	total := 0.0
	for _, v := range wl.Mix {
		total += v
	}
	keys := make([]string, 0, len(wl.Mix))
	for k := range wl.Mix {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		mix = append(mix, fmt.Sprintf("%s %.0f%%", k, 100*wl.Mix[k]/total))
	}
	arrival := fmt.Sprintf("offline, window %d", wl.Window)
	if wl.Rate > 0 {
		arrival = fmt.Sprintf("Poisson arrivals at %g/s", wl.Rate)
	}
	fmt.Fprintf(w, "workload: %d items per pipeline (%s), %s, seed %d\n", wl.Items, strings.Join(mix, ", "), arrival, wl.Seed)
	var place []string
	for _, a := range ours.Placement {
		place = append(place, fmt.Sprintf("%s/%d@%s", a.Stage, a.Instance, a.Device))
	}
	fmt.Fprintf(w, "placement: %s\n\n", strings.Join(place, " "))

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\tscheduler\tfifo (batch %d)\tratio\n", cfg.BaselineBatch)
	fmt.Fprintf(tw, "throughput\t%.1f items/s\t%.1f items/s\t%.1fx\n", ours.Throughput, base.Throughput, ratio)
	fmt.Fprintf(tw, "makespan\t%s\t%s\t\n", roundDur(ours.Makespan), roundDur(base.Makespan))
	for _, q := range []struct {
		name string
		get  func(sched.Percentiles) time.Duration
	}{{"latency p50", func(p sched.Percentiles) time.Duration { return p.P50 }},
		{"latency p90", func(p sched.Percentiles) time.Duration { return p.P90 }},
		{"latency p99", func(p sched.Percentiles) time.Duration { return p.P99 }}} {
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", q.name, roundDur(q.get(ours.Latency)), roundDur(q.get(base.Latency)))
	}
	for i, d := range ours.Devices {
		fmt.Fprintf(tw, "utilisation %s\t%.0f%%\t%.0f%%\t\n", d.ID, 100*d.Utilisation, 100*base.Devices[i].Utilisation)
	}
	for i, s := range ours.Stages {
		label := s.Stage
		if len(ps) > 1 {
			label = s.Pipeline + "/" + s.Stage
		}
		b := base.Stages[i]
		fmt.Fprintf(tw, "batch %s\tmean %.1f, max %d\tmean %.1f, max %d\t\n", label, s.MeanBatch(), s.MaxBatch, b.MeanBatch(), b.MaxBatch)
	}
	if len(ps) > 1 {
		// Device time, not a share of the run: a pipeline that finishes early leaves
		// the devices to the others, so shares over the whole run say little.
		for i, p := range ours.Pipelines {
			fmt.Fprintf(tw, "pipeline %s\t%.1f items/s, %s device time\t%.1f items/s\t\n", p.Name, p.Throughput, roundDur(p.DeviceTime), base.Pipelines[i].Throughput)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nthroughput: %.1fx the FIFO baseline\n", ratio)
	return nil
}

func roundDur(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

func init() { rootCmd.AddCommand(newSchedCmd()) }
