package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/plexusml/plexus/builtins"
	"github.com/plexusml/plexus/core/bench"
	"github.com/plexusml/plexus/core/engine"
	"github.com/plexusml/plexus/core/pipeline"
	"github.com/plexusml/plexus/core/plugin"
)

// benchSource yields n small text records, made on demand so the reader is never
// the bottleneck and memory shows what the engine holds.
type benchSource struct{ n, i int }

func (s *benchSource) Next(context.Context) (*engine.Record, error) {
	if s.i >= s.n {
		return nil, io.EOF
	}
	s.i++
	return &engine.Record{ID: "item-" + strconv.Itoa(s.i), Modality: "text",
		Payload: []byte("a small text item"), Fields: make(map[string]any, 4)}, nil
}

const benchEnginePipeline = `version: 1
name: bench-engine
source: {path: memory}
stages:
  - {name: a, STAGE, batch: {max: 256}, resources: {instances: 2}}
  - {name: b, STAGE, batch: {max: 256}, resources: {instances: 2}}
sinks: [{jsonl: OUT/results.jsonl}]
errors: {policy: dead-letter, path: OUT/errors.jsonl}
`

// benchEngine pushes small items through two no-op stages with the JSONL sink and the
// ledger on: once through the echo plugin (two plugin processes per stage, the real
// transport) and once through in-process no-op builtins (the engine alone). There is
// no PyTorch counterpart, so that column reads n/a.
func benchEngine(ctx context.Context, o bench.Options) ([]bench.Row, error) {
	n := 100_000
	if o.Quick {
		n = 20_000
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	var rows []bench.Row
	for _, kind := range []struct{ name, stage string }{
		{"echo plugin", "plugin: echo, model: echo, task: echo"},
		{"builtin noop", "builtin: debug.noop"},
	} {
		var rates, overheads []float64
		rss := math.NaN()
		for run := 0; run < max(o.Runs, 1); run++ {
			dir, err := os.MkdirTemp("", "plexus-bench-engine-")
			if err != nil {
				return nil, err
			}
			spec := strings.NewReplacer("STAGE", kind.stage, "OUT", dir).Replace(benchEnginePipeline)
			p, err := pipeline.Parse("bench-engine.yaml", []byte(spec), pipeline.LoadOptions{})
			if err != nil {
				os.RemoveAll(dir)
				return nil, err
			}
			host := plugin.NewHost(plugin.HostOptions{SkipPATH: true,
				Logger: hclog.New(&hclog.LoggerOptions{Output: os.Stderr, Level: hclog.Warn})})
			host.Add(plugin.Found{Name: "echo", Path: exe, Args: []string{echoPluginCmd.Use}})
			env := engine.NewEnvironment()
			if err := builtins.Register(env); err != nil {
				return nil, err
			}
			env.SetPlugins(engine.PluginFactory(host))
			r, err := engine.New(ctx, p, env, engine.Options{Source: &benchSource{n: n}, Version: Version})
			if err != nil {
				host.Close()
				os.RemoveAll(dir)
				return nil, err
			}
			start := time.Now()
			sum, err := r.Run(ctx)
			el := time.Since(start)
			host.Close()
			os.RemoveAll(dir)
			if err != nil {
				return nil, err
			}
			if sum.Done != int64(n) {
				return nil, fmt.Errorf("engine bench: %d of %d items done", sum.Done, n)
			}
			rates = append(rates, float64(n)/el.Seconds())
			overheads = append(overheads, el.Seconds()/float64(n)*1e6)
			if v := peakRSS(); !math.IsNaN(v) {
				rss = v
			}
		}
		cfg := fmt.Sprintf("%dk items, 2 %s stages × 2 instances, jsonl + ledger", n/1000, kind.name)
		rows = append(rows,
			bench.Row{Bench: "engine", Config: cfg, Plexus: median(rates), PyTorch: math.NaN(), Unit: "items/s"},
			bench.Row{Bench: "engine", Config: cfg + " per-item time", Plexus: median(overheads), PyTorch: math.NaN(), Unit: "µs/item"},
		)
		if kind.name == "echo plugin" {
			// Peak RSS is the process's high-water mark, so it is reported once, after
			// the plugin runs, which hold more than the in-process ones.
			rows = append(rows, bench.Row{Bench: "engine", Config: "peak RSS of the host process", Plexus: rss, PyTorch: math.NaN(), Unit: "MiB"})
		}
	}
	shared, err := benchSharedEngine(ctx, n, max(o.Runs, 1))
	if err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf("2 pipelines × %dk items at once, one scheduler, builtin noop stages", n/2000)
	rows = append(rows, bench.Row{Bench: "engine", Config: cfg, Plexus: shared, PyTorch: math.NaN(), Unit: "items/s"})
	return rows, nil
}

// benchSharedEngine runs two builtin pipelines of n/2 items each at once through one
// scheduler, as `plexus run a.yaml b.yaml` does, and returns the median of the
// combined items/s over runs.
func benchSharedEngine(ctx context.Context, n, runs int) (float64, error) {
	var rates []float64
	for run := 0; run < runs; run++ {
		sch, err := engine.NewScheduler(ctx, engine.SchedulerOptions{})
		if err != nil {
			return 0, err
		}
		env := engine.NewEnvironment()
		if err := builtins.Register(env); err != nil {
			return 0, err
		}
		var runners []*engine.Runner
		var dirs []string
		cleanup := func() {
			for _, r := range runners {
				r.Close()
			}
			sch.Close()
			for _, d := range dirs {
				os.RemoveAll(d)
			}
		}
		for _, name := range []string{"a", "b"} {
			dir, err := os.MkdirTemp("", "plexus-bench-engine-")
			if err != nil {
				cleanup()
				return 0, err
			}
			dirs = append(dirs, dir)
			spec := strings.NewReplacer("STAGE", "builtin: debug.noop", "OUT", dir, "name: bench-engine", "name: "+name).Replace(benchEnginePipeline)
			p, err := pipeline.Parse(name+".yaml", []byte(spec), pipeline.LoadOptions{})
			if err != nil {
				cleanup()
				return 0, err
			}
			r, err := engine.New(ctx, p, env, engine.Options{Source: &benchSource{n: n / 2}, Version: Version, Scheduler: sch})
			if err != nil {
				cleanup()
				return 0, err
			}
			runners = append(runners, r)
		}
		start := time.Now()
		sums := make([]*engine.Summary, len(runners))
		errs := make([]error, len(runners))
		var wg sync.WaitGroup
		for i, r := range runners {
			wg.Go(func() { sums[i], errs[i] = r.Run(ctx) })
		}
		wg.Wait()
		el := time.Since(start)
		cleanup()
		for i := range runners {
			if errs[i] != nil {
				return 0, errs[i]
			}
			if sums[i].Done != int64(n/2) {
				return 0, fmt.Errorf("engine bench: pipeline %d: %d of %d items done", i, sums[i].Done, n/2)
			}
		}
		rates = append(rates, float64(n)/el.Seconds())
	}
	return median(rates), nil
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// peakRSS reads the process's resident-set high-water mark from /proc (Linux), or NaN.
func peakRSS() float64 {
	f, err := os.Open(filepath.Join("/proc", "self", "status"))
	if err != nil {
		return math.NaN()
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err == nil {
				return kb / 1024
			}
		}
	}
	return math.NaN()
}

func init() {
	bench.Register(bench.Suite{Name: "engine",
		Doc: "items/s through two no-op stages (echo plugin processes, then in-process builtins, then two builtin pipelines sharing one scheduler) with the JSONL sink and the ledger on",
		Run: benchEngine})
}
