// Package bench is the harness behind `plexus bench`: suites register rows that compare
// plexus with PyTorch on the same machine in the same run. Throughput units are used
// everywhere, so a ratio above 1 always means plexus is faster.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// Row is one measurement. PyTorch is NaN when PyTorch is not installed or has no
// counterpart.
type Row struct {
	Bench   string  `json:"bench"`
	Config  string  `json:"config"`
	Plexus  float64 `json:"plexus"`
	PyTorch float64 `json:"pytorch"`
	Unit    string  `json:"unit"`
}

// Ratio is plexus ÷ pytorch, NaN when there is no PyTorch figure.
func (r Row) Ratio() float64 {
	if math.IsNaN(r.PyTorch) || r.PyTorch == 0 {
		return math.NaN()
	}
	return r.Plexus / r.PyTorch
}

// Options steer every suite.
type Options struct {
	Quick  bool   // fewer sizes and runs, for smoke tests
	Runs   int    // timed runs whose median is reported
	Warmup int    // untimed runs first
	Python string // interpreter with torch; default /usr/bin/python3
}

func (o Options) withDefaults() Options {
	if o.Runs <= 0 {
		o.Runs = 5
		if o.Quick {
			o.Runs = 2
		}
	}
	if o.Warmup < 0 {
		o.Warmup = 0
	} else if o.Warmup == 0 {
		o.Warmup = 1
	}
	if o.Python == "" {
		o.Python = "/usr/bin/python3"
	}
	return o
}

// Suite is a named group of benchmarks.
type Suite struct {
	Name string
	Doc  string
	Run  func(ctx context.Context, o Options) ([]Row, error)
}

var (
	mu     sync.Mutex
	suites = map[string]Suite{}
)

// Register adds a suite; it panics on a duplicate name, which is a programming error.
func Register(s Suite) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := suites[s.Name]; dup {
		panic("bench: suite registered twice: " + s.Name)
	}
	suites[s.Name] = s
}

// Suites returns the registered suites sorted by name.
func Suites() []Suite {
	mu.Lock()
	defer mu.Unlock()
	out := make([]Suite, 0, len(suites))
	for _, s := range suites {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup finds a suite by name.
func Lookup(name string) (Suite, bool) {
	mu.Lock()
	defer mu.Unlock()
	s, ok := suites[name]
	return s, ok
}

// Median runs f o.Warmup times untimed, then o.Runs times, and returns the median
// wall time of one call.
func Median(o Options, f func()) time.Duration {
	o = o.withDefaults()
	for i := 0; i < o.Warmup; i++ {
		f()
	}
	d := make([]time.Duration, o.Runs)
	for i := range d {
		start := time.Now()
		f()
		d[i] = time.Since(start)
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	if len(d)%2 == 1 {
		return d[len(d)/2]
	}
	return (d[len(d)/2-1] + d[len(d)/2]) / 2
}

// ErrNoPyTorch says the interpreter cannot import torch; suites report n/a for PyTorch.
var ErrNoPyTorch = errors.New("bench: PyTorch is not installed (Debian: apt-get install python3-torch)")

// PyTorch runs script under o.Python with PyTorch at its best settings on this machine:
// intra-op threads set to the core count (Debian's default is 1) and the OPENBLAS_*
// variables that pin slow kernels removed from that process alone. The script prints a
// JSON object of figures on its last stdout line; the helpers below are prepended, so a
// script can call median(fn) and set_best().
func PyTorch(ctx context.Context, o Options, script string) (map[string]float64, error) {
	o = o.withDefaults()
	if err := exec.CommandContext(ctx, o.Python, "-c", "import torch").Run(); err != nil {
		return nil, ErrNoPyTorch
	}
	cmd := exec.CommandContext(ctx, o.Python, "-c", Prelude(o)+script)
	env := os.Environ()[:0:0]
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "OPENBLAS_CORETYPE=") || strings.HasPrefix(kv, "OPENBLAS_L2_SIZE=") {
			continue
		}
		env = append(env, kv)
	}
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("bench: pytorch script: %v\n%s", err, tail(stderr.String(), 2000))
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var out map[string]float64
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &out); err != nil {
		return nil, fmt.Errorf("bench: pytorch script printed no JSON object on its last line: %v", err)
	}
	return out, nil
}

// Prelude is the Python code put before every PyTorch benchmark script.
func Prelude(o Options) string {
	o = o.withDefaults()
	return fmt.Sprintf(`import os, time, json, statistics
import torch
torch.set_num_threads(os.cpu_count())
RUNS, WARMUP, QUICK = %d, %d, %v
def median(fn):
    for _ in range(WARMUP):
        fn()
    ts = []
    for _ in range(RUNS):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return statistics.median(ts)
`, o.Runs, o.Warmup, map[bool]string{true: "True", false: "False"}[o.Quick])
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// Machine describes where the figures were measured.
func Machine() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				if i := strings.Index(l, ":"); i >= 0 {
					model = strings.TrimSpace(l[i+1:])
				}
				break
			}
		}
	}
	if model == "" {
		model = runtime.GOARCH
	}
	return fmt.Sprintf("%s, %d cores, %s %s/%s", model, runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func fmtNum(v float64) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case v >= 1000:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

func fmtRatio(r float64) string {
	if math.IsNaN(r) {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx", r)
}

// WriteTable prints rows as an aligned table with the columns of DESIGN.md.
func WriteTable(w io.Writer, rows []Row) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "bench\tconfig\tplexus\tpytorch\tunit\tratio\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Bench, r.Config, fmtNum(r.Plexus), fmtNum(r.PyTorch), r.Unit, fmtRatio(r.Ratio()))
	}
	return tw.Flush()
}

// WriteMarkdown prints rows as a Markdown table (docs/BENCHMARKS.md).
func WriteMarkdown(w io.Writer, rows []Row) error {
	var b strings.Builder
	b.WriteString("| bench | config | plexus | pytorch | unit | ratio |\n|---|---|--:|--:|---|--:|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.Bench, r.Config, fmtNum(r.Plexus), fmtNum(r.PyTorch), r.Unit, fmtRatio(r.Ratio()))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// jsonRow is Row with the ratio and NaN written as null, since JSON has no NaN.
type jsonRow struct {
	Bench   string   `json:"bench"`
	Config  string   `json:"config"`
	Plexus  *float64 `json:"plexus"`
	PyTorch *float64 `json:"pytorch"`
	Unit    string   `json:"unit"`
	Ratio   *float64 `json:"ratio"`
}

func num(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// WriteJSON prints rows as a JSON array of objects with the table's keys.
func WriteJSON(w io.Writer, rows []Row) error {
	out := make([]jsonRow, len(rows))
	for i, r := range rows {
		out[i] = jsonRow{r.Bench, r.Config, num(r.Plexus), num(r.PyTorch), r.Unit, num(r.Ratio())}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}
