package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/plexusml/plexus/builtins"
	"github.com/plexusml/plexus/core/dataset"
	"github.com/plexusml/plexus/core/engine"
	"github.com/plexusml/plexus/core/media"
	"github.com/plexusml/plexus/core/pipeline"
)

type runFlags struct {
	sets        []string
	restart     bool
	ledger      string
	noLedger    bool
	metricsAddr string
	progress    string
	interval    time.Duration
	logLevel    string
	logFormat   string
	weights     []string
}

func newRunCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run PIPELINE.yaml...",
		Short: "Run pipelines over their datasets, resumably, sharing this machine's devices",
		Long: `run streams the pipeline's source through its stages into its sinks. Results are
committed to a ledger beside the outputs (DIR/.plexus-ledger) in groups, each after the
sinks are durable, so running the same command again after a crash or kill -9 resumes:
nothing is lost and nothing is written twice. A pipeline changed since the output was
started (its config or its weights) is refused unless --restart is given.

Several pipelines run in one process share its devices: one scheduler places every
stage's instances (GPUs by nvidia-smi, else the CPU) and gives each pipeline a share of
a busy device by its weight (--weight NAME=W, default 1). Each keeps its own source,
sinks, ledger and summary; --set applies to every pipeline.

The first SIGINT or SIGTERM stops reading, finishes the items in flight, commits them
and exits with status 130; a second one stops at once (the items in flight are redone by
the next run). Exit status: 0 done, 1 failed, 130 interrupted.`,
		Example: `  DATA=path/to/mixed plexus run pipelines/builtins-demo.yaml
  plexus run pipelines/builtins-demo.yaml --set stages.thumbs.config.size=32 --metrics-addr :9090
  DATA=/data/big plexus run pipelines/mixed-demo.yaml --restart
  plexus run a.yaml b.yaml --weight a=1 --weight b=3`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPipelines(cmd, args, f)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.sets, "set", nil, "override a pipeline key, e.g. stages.NAME.batch.max=8 (repeatable)")
	fl.BoolVar(&f.restart, "restart", false, "discard the ledger and the outputs and start over (needed after changing the pipeline)")
	fl.StringVar(&f.ledger, "ledger", "", "ledger file (default: .plexus-ledger beside the first sink's output)")
	fl.BoolVar(&f.noLedger, "no-ledger", false, "run without a ledger: no resume, outputs are rewritten")
	fl.StringVar(&f.metricsAddr, "metrics-addr", "", "serve Prometheus metrics on this address (e.g. :9090) at /metrics")
	fl.StringVar(&f.progress, "progress", "auto", "progress display: auto (bars on a terminal, else log lines), bars, log, none")
	fl.DurationVar(&f.interval, "progress-interval", 10*time.Second, "how often progress is logged when not drawing bars")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fl.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fl.StringArrayVar(&f.weights, "weight", nil, "a pipeline's share of busy devices, NAME=W by pipeline name (default 1 each; repeatable)")
	fl.StringVar(&engineConfig, "config", "", "engine configuration file (plugins.path)")
	return cmd
}

// parseWeights reads --weight NAME=W flags; every NAME must be one of names.
func parseWeights(flags []string, names []string) (map[string]float64, error) {
	out := map[string]float64{}
	for _, f := range flags {
		name, v, ok := strings.Cut(f, "=")
		w, err := strconv.ParseFloat(v, 64)
		switch {
		case !ok || name == "":
			return nil, fmt.Errorf("--weight %q: want NAME=W, such as --weight %s=2", f, names[0])
		case err != nil || !(w > 0) || math.IsInf(w, 0):
			return nil, fmt.Errorf("--weight %q: the weight must be a positive number", f)
		case !slices.Contains(names, name):
			return nil, fmt.Errorf("--weight %q: no pipeline is named %q (running: %s)", f, name, strings.Join(names, ", "))
		}
		out[name] = w
	}
	return out, nil
}

// pipelineRun is one pipeline of a run command.
type pipelineRun struct {
	file string
	p    *pipeline.Pipeline
	src  *engine.DatasetSource
	r    *engine.Runner
	log  *slog.Logger
	sum  *engine.Summary
	err  error
}

func runPipelines(cmd *cobra.Command, paths []string, f runFlags) error {
	stderr := cmd.ErrOrStderr()
	// Signals are caught first of all, so that one sent while the pipelines load is
	// not fatal; they are acted on once the runs exist (below).
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if len(paths) > 1 && f.ledger != "" {
		return errors.New("--ledger names one ledger file; with several pipelines each keeps its own beside its output")
	}
	runs := make([]*pipelineRun, len(paths))
	var names []string
	for i, path := range paths {
		p, err := pipeline.Load(path, pipeline.LoadOptions{Sets: f.sets})
		if err != nil {
			return err
		}
		runs[i] = &pipelineRun{file: path, p: p}
		names = append(names, p.Name)
	}
	if err := distinctOutputs(runs); err != nil {
		return err
	}
	weights, err := parseWeights(f.weights, names)
	if err != nil {
		return err
	}
	mode := f.progress
	if mode == "auto" {
		mode = "log"
		if isTerminal(stderr) {
			mode = "bars"
		}
	}
	var bars *mpb.Progress
	logOut := stderr
	if mode == "bars" {
		bars = mpb.New(mpb.WithOutput(stderr), mpb.WithRefreshRate(200*time.Millisecond), mpb.WithAutoRefresh())
		logOut = bars // log lines print above the bars
	}
	log, err := newLogger(logOut, f.logLevel, f.logFormat)
	if err != nil {
		return err
	}
	multi := len(runs) > 1
	for _, pr := range runs {
		pr.log = log
		if multi {
			pr.log = log.With("pipeline", pr.p.Name)
		}
		if pr.src, err = engine.OpenDataset(pr.p.Source.Path, datasetOptions(pr.p)); err != nil {
			return fmt.Errorf("%s: %w", pr.file, err)
		}
		defer pr.src.Close()
	}

	env := engine.NewEnvironment()
	if err := builtins.Register(env); err != nil {
		return err
	}
	host, err := pluginHost(cmd)
	if err != nil {
		return err
	}
	defer host.Close()
	env.SetPlugins(engine.PluginFactory(host))

	// The first signal drains; the second cancels.
	drain := make(chan struct{})
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	go func() {
		n := 0
		for {
			select {
			case s := <-sigs:
				n++
				if n == 1 {
					log.Warn("signal: finishing the items in flight; send it again to stop at once", "signal", s.String())
					close(drain)
				} else {
					log.Warn("signal: stopping now", "signal", s.String())
					cancel()
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()

	// One scheduler for every pipeline, over this machine's real devices only:
	// simulated devices are for planning (validate, sched simulate), never for a run.
	sch, err := engine.NewScheduler(ctx, engine.SchedulerOptions{Weights: weights})
	if err != nil {
		return err
	}
	defer sch.Close()
	closeRunners := func() {
		for _, pr := range runs {
			if pr.r != nil {
				pr.r.Close()
			}
		}
	}
	for _, pr := range runs {
		pr.r, err = engine.New(ctx, pr.p, env, engine.Options{
			Source: pr.src, Ledger: f.ledger, NoLedger: f.noLedger, Restart: f.restart,
			Logger: pr.log, Version: Version, Drain: drain, Scheduler: sch,
		})
		if err != nil {
			closeRunners()
			if multi {
				return fmt.Errorf("%s: %w", pr.file, err)
			}
			return err
		}
		log.Info("run", "pipeline", pr.p.Name, "file", pr.file, "source", pr.p.Source.Path, "ledger", pr.r.LedgerPath(), "hash", pr.r.Hash()[:12])
	}

	if f.metricsAddr != "" {
		stop, err := serveMetrics(f.metricsAddr, runs, sch, log)
		if err != nil {
			closeRunners()
			return err
		}
		defer stop()
	}
	var stops []func()
	for _, pr := range runs {
		prefix := ""
		if multi {
			prefix = pr.p.Name + " "
		}
		stops = append(stops, startProgress(mode, bars, pr.r, pr.src, pr.log, f.interval, prefix))
	}
	var wg sync.WaitGroup
	for _, pr := range runs {
		wg.Go(func() { pr.sum, pr.err = pr.r.Run(ctx) })
	}
	wg.Wait()
	for _, stop := range stops {
		stop()
	}
	if bars != nil {
		bars.Wait()
	}
	var firstErr error
	interrupted := false
	for _, pr := range runs {
		if pr.sum != nil {
			fmt.Fprintln(stderr)
			if multi {
				fmt.Fprintf(stderr, "pipeline %s (%s)\n", pr.p.Name, pr.file)
			}
			pr.sum.WriteTable(stderr)
		}
		switch {
		case errors.Is(pr.err, engine.ErrInterrupted) || pr.err != nil && ctx.Err() != nil:
			interrupted = true
		case pr.err != nil && firstErr == nil:
			firstErr = pr.err
			if multi {
				firstErr = fmt.Errorf("pipeline %s: %w", pr.p.Name, pr.err)
			}
		case pr.err != nil:
			log.Error("pipeline failed", "pipeline", pr.p.Name, "err", pr.err)
		}
	}
	switch {
	case firstErr != nil:
		return firstErr
	case interrupted && ctx.Err() != nil:
		return &exitError{code: 130, err: errors.New("run stopped; the items in flight are redone by the next run")}
	case interrupted:
		return &exitError{code: 130, err: engine.ErrInterrupted}
	}
	return nil
}

// distinctOutputs refuses pipelines that would write the same sink, dead-letter file
// or ledger: their ledgers would each claim the other's lines.
func distinctOutputs(runs []*pipelineRun) error {
	if len(runs) < 2 {
		return nil
	}
	owner := map[string]string{}
	claim := func(pr *pipelineRun, path string) error {
		if path == "" {
			return nil
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			abs = path
		}
		if o, ok := owner[abs]; ok && o != pr.file {
			return fmt.Errorf("%s and %s both write %s; give each pipeline its own outputs", o, pr.file, path)
		}
		owner[abs] = pr.file
		return nil
	}
	for _, pr := range runs {
		paths := []string{pr.p.Errors.Path}
		for _, sk := range pr.p.Sinks {
			paths = append(paths, sk.JSONL, sk.Files)
		}
		for _, st := range pr.p.Stages {
			if st.Errors != nil {
				paths = append(paths, st.Errors.Path)
			}
		}
		seen := map[string]bool{}
		for _, path := range paths {
			if path == "" || seen[path] {
				continue
			}
			seen[path] = true
			if err := claim(pr, path); err != nil {
				return err
			}
		}
	}
	return nil
}

func datasetOptions(p *pipeline.Pipeline) dataset.Options {
	l := p.Source.Limits
	return dataset.Options{
		Limits:       media.Limits{MaxPixels: l.Pixels, MaxDuration: l.Duration.Std(), MaxBytes: int64(l.FileSize)},
		MaxTextBytes: int64(l.TextBytes),
		Flat:         p.Source.Recursive != nil && !*p.Source.Recursive,
	}
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	o := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, o)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, o)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// metricsRegistry holds the process's metrics: the devices once (they are shared),
// then each run's stages and instances, labelled by pipeline when several run.
func metricsRegistry(runs []*pipelineRun, sch *engine.Scheduler) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(sch.Collector()); err != nil {
		return nil, err
	}
	if len(runs) == 1 {
		return reg, reg.Register(runs[0].r.Collector())
	}
	// Pipelines may share stage names: a pipeline label keeps their series apart.
	for _, pr := range runs {
		if err := prometheus.WrapRegistererWith(prometheus.Labels{"pipeline": pr.p.Name}, reg).Register(pr.r.Collector()); err != nil {
			return nil, fmt.Errorf("metrics of pipeline %s: %w", pr.p.Name, err)
		}
	}
	return reg, nil
}

func serveMetrics(addr string, runs []*pipelineRun, sch *engine.Scheduler, log *slog.Logger) (func(), error) {
	reg, err := metricsRegistry(runs, sch)
	if err != nil {
		return nil, err
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "err", err)
		}
	}()
	log.Info("serving metrics", "addr", "http://"+ln.Addr().String()+"/metrics")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	}, nil
}

// startProgress shows the run's progress until the returned function is called: bars
// on a terminal (items done of total with rate and ETA, one line per stage with its
// queue and errors), or a log line every interval. prefix starts each bar's label (the
// pipeline's name when several run). The caller waits for bars once every run stopped.
func startProgress(mode string, bars *mpb.Progress, r *engine.Runner, src *engine.DatasetSource, log *slog.Logger, every time.Duration, prefix string) func() {
	total := func() int64 {
		if n, ok := src.Len(); ok {
			return int64(n)
		}
		return 0
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	switch mode {
	case "bars":
		// The decorators run on mpb's goroutine, so the snapshot is handed over atomically.
		var cur atomic.Pointer[engine.Snapshot]
		first := r.Snapshot()
		cur.Store(&first)
		main := bars.AddBar(1,
			mpb.PrependDecorators(decor.Name(prefix+"items ", decor.WCSyncSpaceR), decor.Any(func(decor.Statistics) string {
				s := cur.Load()
				n := s.Done + s.Failed + s.Resumed
				if t := total(); t > 0 {
					return fmt.Sprintf("%d / %d", n, t)
				}
				return fmt.Sprintf("%d / ? (listing)", n)
			}, decor.WCSyncWidth)),
			mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return progressLine(*cur.Load(), total()) })),
		)
		stageBars := make([]*mpb.Bar, 0, len(r.Snapshot().Stages))
		for i, st := range first.Stages {
			// One text row per stage: a bar per queue would be noise next to the counts.
			stageBars = append(stageBars, bars.New(int64(st.QueueCap), mpb.NopStyle(),
				mpb.PrependDecorators(decor.Name("  "+prefix+st.Name, decor.WCSyncSpaceR), decor.Any(func(decor.Statistics) string {
					s := cur.Load().Stages[i]
					return fmt.Sprintf("queue %d/%d  items %d  mean batch %.1f  errors %d  restarts %d",
						s.Queue, s.QueueCap, s.Items, s.MeanBatch, s.Errors, s.Restarts)
				})),
			))
		}
		go func() {
			defer close(done)
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			for {
				snap := r.Snapshot()
				cur.Store(&snap)
				// Until the source has listed everything the total is unknown and the
				// bar stays empty rather than pretending to a fraction.
				if n := total(); n > 0 {
					main.SetTotal(n, false)
					main.SetCurrent(snap.Done + snap.Failed + snap.Resumed)
				}
				for i, b := range stageBars {
					b.SetCurrent(int64(snap.Stages[i].Queue))
				}
				select {
				case <-stop:
					// The last frame shows the final counts; stage bars keep their
					// last queue depth instead of filling up as "complete".
					snap := r.Snapshot()
					cur.Store(&snap)
					main.SetCurrent(snap.Done + snap.Failed + snap.Resumed)
					main.SetTotal(-1, true)
					for i, b := range stageBars {
						b.SetCurrent(int64(snap.Stages[i].Queue))
						b.Abort(false)
					}
					return
				case <-t.C:
				}
			}
		}()
	case "log":
		go func() {
			defer close(done)
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					s := r.Snapshot()
					attrs := []any{"done", s.Done, "failed", s.Failed, "resumed", s.Resumed, "status", progressLine(s, total())}
					for _, st := range s.Stages {
						attrs = append(attrs, st.Name, fmt.Sprintf("queue %d/%d errors %d", st.Queue, st.QueueCap, st.Errors))
					}
					log.Info("progress", attrs...)
				}
			}
		}()
	default:
		close(done)
	}
	return func() {
		close(stop)
		<-done
	}
}

// progressLine is "text 10, image 4 · 1234 items/s · ETA 12s".
func progressLine(s engine.Snapshot, total int64) string {
	var parts []string
	for _, m := range []string{"text", "image", "audio", "tensor", "mixed", "other"} {
		if n := s.ByModality[m]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", m, n))
		}
	}
	line := strings.Join(parts, ", ")
	if s.Elapsed > 0 {
		rate := float64(s.Done+s.Failed) / s.Elapsed.Seconds()
		line += fmt.Sprintf(" · %.0f items/s", rate)
		if left := total - s.Done - s.Failed - s.Resumed; total > 0 && rate > 0 && left > 0 {
			line += " · ETA " + time.Duration(float64(left)/rate*float64(time.Second)).Round(time.Second).String()
		}
	}
	return line
}

func init() { rootCmd.AddCommand(newRunCmd()) }
