package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/plexusml/plexus/core/dataset"
	"github.com/plexusml/plexus/core/pipeline"
	"github.com/plexusml/plexus/core/sched"
)

// memSource yields n records: every third is an image (payload bytes), the others text.
type memSource struct {
	n, i  int
	calls atomic.Int64
	bad   map[int]bool // items returned with a source error
}

func (s *memSource) Next(ctx context.Context) (*Record, error) {
	s.calls.Add(1)
	if s.i >= s.n {
		return nil, io.EOF
	}
	i := s.i
	s.i++
	rec := &Record{ID: fmt.Sprintf("item-%04d", i), Fields: map[string]any{}}
	if i%3 == 2 {
		rec.Modality, rec.Payload = "image", []byte("img")
	} else {
		rec.Modality, rec.Payload = "text", []byte(fmt.Sprintf("Text %d", i))
	}
	if s.bad[i] {
		return rec, errors.New("unreadable")
	}
	return rec, nil
}

// funcStage runs f on each item.
type funcStage func(it *Item, r *Result)

func (f funcStage) Process(ctx context.Context, items []Item, res []Result) error {
	for i := range items {
		f(&items[i], &res[i])
	}
	return nil
}

func parse(t testing.TB, dir, yaml string) *pipeline.Pipeline {
	t.Helper()
	yaml = strings.ReplaceAll(yaml, "OUT", dir)
	p, err := pipeline.Parse("test.yaml", []byte(yaml), pipeline.LoadOptions{})
	if err != nil {
		t.Fatalf("parse pipeline: %v", err)
	}
	return p
}

func envWith(stages map[string]Factory) *Environment {
	env := NewEnvironment()
	for name, f := range stages {
		if err := env.RegisterBuiltin(Builtin{Name: name, New: f}); err != nil {
			panic(err)
		}
	}
	return env
}

func constFactory(st Stage) Factory {
	return func(context.Context, Spec) (Stage, error) { return st, nil }
}

func readLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: bad line %q: %v", path, sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

var upper = funcStage(func(it *Item, r *Result) {
	s, err := it.Text()
	if err != nil {
		r.Err = err
		return
	}
	r.Set("upper", strings.ToUpper(s))
})

var length = funcStage(func(it *Item, r *Result) {
	switch v := it.Input.(type) {
	case string:
		r.Set("n", len(v))
	default:
		b, err := it.Bytes()
		if err != nil {
			r.Err = err
			return
		}
		r.Set("n", len(b))
	}
})

func TestRoutingOrderAndNamespaces(t *testing.T) {
	dir := t.TempDir()
	p := parse(t, dir, `
version: 1
name: t
source: {path: mem}
stages:
  - {name: up, builtin: upper, when: text, batch: {max: 7}, resources: {instances: 3}}
  - {name: len, builtin: length, input: [up.upper, text, image], batch: {max: 5, delay: 1ms}, resources: {instances: 2}}
sinks: [{jsonl: OUT/out.jsonl}]
`)
	env := envWith(map[string]Factory{"upper": constFactory(upper), "length": constFactory(length)})
	r, err := New(context.Background(), p, env, Options{Source: &memSource{n: 500}, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, filepath.Join(dir, "out.jsonl"))
	if len(lines) != 500 || sum.Done != 500 {
		t.Fatalf("got %d lines, done %d, want 500", len(lines), sum.Done)
	}
	for i, m := range lines {
		id := fmt.Sprintf("item-%04d", i)
		if m["id"] != id {
			t.Fatalf("line %d is %v, want %s (input order)", i, m["id"], id)
		}
		f := m["fields"].(map[string]any)
		if i%3 == 2 { // image: up skipped it by when:, len still ran on its payload
			if _, ok := f["up.upper"]; ok {
				t.Fatalf("%s: image went through the text stage", id)
			}
			if f["len.n"] != 3.0 {
				t.Fatalf("%s: len.n = %v, want 3 (payload bytes)", id, f["len.n"])
			}
		} else {
			want := strings.ToUpper(fmt.Sprintf("Text %d", i))
			if f["up.upper"] != want || f["len.n"] != float64(len(want)) {
				t.Fatalf("%s: fields %v", id, f)
			}
		}
		prov := m["provenance"].(map[string]any)
		if prov["plexus"] != "test" || prov["stages"].(map[string]any)["up"].(map[string]any)["builtin"] != "upper" {
			t.Fatalf("provenance %v", prov)
		}
	}
	var up StageSnapshot
	for _, s := range sum.Stages {
		if s.Name == "up" {
			up = s
		}
	}
	if up.Items != 334 || up.Skipped != 166 || up.Instances != 3 {
		t.Fatalf("up stage: %+v", up)
	}
}

// flaky fails each listed item with a retryable error the first `times` attempts, and
// the "bad" ones for good.
type flaky struct {
	mu       sync.Mutex
	attempts map[string]int
	times    int
	bad      map[string]bool
}

func (f *flaky) Process(ctx context.Context, items []Item, res []Result) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, it := range items {
		id := it.Record.ID
		f.attempts[id]++
		switch {
		case f.bad[id]:
			res[i].Err = Permanent(fmt.Errorf("%s is broken", id))
		case f.attempts[id] <= f.times:
			res[i].Err = errors.New("transient")
		default:
			res[i].Set("ok", true)
		}
	}
	return nil
}

func TestErrorPolicies(t *testing.T) {
	cases := []struct {
		name, policy string
		wantErr      bool
		wantDead     int
		wantLines    int
	}{
		{"dead-letter", "{policy: dead-letter, path: OUT/errors.jsonl, retries: 2}", false, 3, 97},
		{"skip", "{policy: skip, retries: 2}", false, 0, 97},
		{"fail-fast", "{policy: fail-fast, retries: 2}", true, 0, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := parse(t, dir, `
version: 1
source: {path: mem}
stages:
  - {name: f, builtin: flaky, batch: {max: 4}}
sinks: [{jsonl: OUT/out.jsonl}]
errors: `+tc.policy+`
`)
			fl := &flaky{attempts: map[string]int{}, times: 2, bad: map[string]bool{"item-0010": true, "item-0050": true}}
			env := envWith(map[string]Factory{"flaky": constFactory(fl)})
			src := &memSource{n: 100, bad: map[int]bool{70: true}}
			r, err := New(context.Background(), p, env, Options{Source: src})
			if err != nil {
				t.Fatal(err)
			}
			sum, err := r.Run(context.Background())
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), "item-0010") {
					t.Fatalf("err = %v, want a failure naming item-0010", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := len(readLines(t, filepath.Join(dir, "out.jsonl"))); got != tc.wantLines {
				t.Fatalf("%d result lines, want %d", got, tc.wantLines)
			}
			if fl.attempts["item-0001"] != 3 || fl.attempts["item-0010"] != 1 {
				t.Fatalf("attempts: transient %d (want 3), permanent %d (want 1)", fl.attempts["item-0001"], fl.attempts["item-0010"])
			}
			if sum.Failed != 3 {
				t.Fatalf("failed = %d, want 3", sum.Failed)
			}
			if tc.wantDead > 0 {
				dead := readLines(t, filepath.Join(dir, "errors.jsonl"))
				if len(dead) != tc.wantDead {
					t.Fatalf("%d dead letters, want %d", len(dead), tc.wantDead)
				}
				byID := map[string]map[string]any{}
				for _, d := range dead {
					byID[d["id"].(string)] = d
				}
				if d := byID["item-0010"]; d["stage"] != "f" || !strings.Contains(d["error"].(string), "item-0010 is broken") {
					t.Fatalf("dead letter %v", d)
				}
				if d := byID["item-0070"]; d["stage"] != "source" || d["error"] != "unreadable" {
					t.Fatalf("source dead letter %v", d)
				}
			}
		})
	}
}

// gate blocks every batch until released, so the reader runs ahead as far as the
// engine lets it.
type gate struct {
	open    chan struct{}
	entered chan struct{}
	once    sync.Once
}

func (g *gate) Process(ctx context.Context, items []Item, res []Result) error {
	g.once.Do(func() { close(g.entered) })
	select {
	case <-g.open:
	case <-ctx.Done():
		return ctx.Err()
	}
	for i := range res {
		res[i].Set("ok", true)
	}
	return nil
}

func TestBackPressureBoundsItemsInFlight(t *testing.T) {
	dir := t.TempDir()
	p := parse(t, dir, `
version: 1
source: {path: mem}
stages:
  - {name: fast, builtin: length, batch: {max: 16}}
  - {name: slow, builtin: gate, batch: {max: 4}, resources: {instances: 2}}
sinks: [{jsonl: OUT/out.jsonl}]
`)
	g := &gate{open: make(chan struct{}), entered: make(chan struct{})}
	env := envWith(map[string]Factory{"length": constFactory(length), "gate": constFactory(g)})
	src := &memSource{n: 20000}
	var cur, peak atomic.Int64
	inflight := func(d int) {
		n := cur.Add(int64(d))
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
	}
	r, err := New(context.Background(), p, env, Options{Source: src, QueueCap: 8, InFlight: inflight})
	if err != nil {
		t.Fatal(err)
	}
	// Queues (8 + 8) + batches, (2 × instances + 2) per stage: one forming, one cut
	// and waiting at the scheduler, one running and one queued per instance; plus the
	// item the reader holds.
	if want := 1 + 8 + 16*4 + 8 + 4*6; r.Window() != want {
		t.Fatalf("window = %d, want %d", r.Window(), want)
	}
	done := make(chan error, 1)
	go func() { _, err := r.Run(context.Background()); done <- err }()
	<-g.entered
	// Wait until the reader stalls: every queue and batch is full behind the gate.
	// The sleep only paces the polling; nothing asserts on time.
	for last := int64(-1); ; {
		time.Sleep(20 * time.Millisecond)
		c := src.calls.Load()
		if c == last {
			break
		}
		last = c
	}
	if calls := src.calls.Load(); calls > int64(r.Window())+1 {
		t.Fatalf("the reader read %d items while the slow stage held all; the bound is %d", calls, r.Window())
	}
	close(g.open)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if peak.Load() > int64(r.Window()) {
		t.Fatalf("peak in flight %d over the window %d", peak.Load(), r.Window())
	}
	if n := len(readLines(t, filepath.Join(dir, "out.jsonl"))); n != 20000 {
		t.Fatalf("%d lines, want 20000", n)
	}
}

// stopAfter ends the run (as a crash would, without a graceful drain) once n items
// have been processed.
type stopAfter struct {
	n      atomic.Int64
	limit  int64
	cancel context.CancelFunc
}

func (s *stopAfter) Process(ctx context.Context, items []Item, res []Result) error {
	for i := range items {
		if s.n.Add(1) > s.limit && s.cancel != nil {
			s.cancel()
		}
		res[i].Set("ok", true)
	}
	return nil
}

func TestResumeAfterCancelAndRefuseChangedPipeline(t *testing.T) {
	dir := t.TempDir()
	yaml := `
version: 1
source: {path: mem}
stages:
  - {name: s, builtin: stop, batch: {max: 8}, config: {k: VALUE}}
sinks: [{jsonl: OUT/out.jsonl}]
errors: {policy: dead-letter, path: OUT/dead.jsonl}
`
	st := &stopAfter{limit: 300}
	env := envWith(map[string]Factory{"stop": constFactory(st)})
	run := func(yaml string, o Options) (*Summary, error) {
		r, err := New(context.Background(), parse(t, dir, strings.ReplaceAll(yaml, "VALUE", "1")), env, o)
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		st.cancel = cancel
		return r.Run(ctx)
	}
	bad := map[int]bool{5: true, 400: true}
	_, err := run(yaml, Options{Source: &memSource{n: 1000, bad: bad}, CommitEvery: 64})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("first run: %v, want canceled", err)
	}
	first := readLines(t, filepath.Join(dir, "out.jsonl"))
	if len(first) == 0 || len(first) >= 1000 {
		t.Fatalf("first run wrote %d lines", len(first))
	}
	st.limit = 1 << 40
	sum, err := run(yaml, Options{Source: &memSource{n: 1000, bad: bad}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Resumed == 0 {
		t.Fatal("second run resumed nothing")
	}
	lines := readLines(t, filepath.Join(dir, "out.jsonl"))
	seen := map[string]bool{}
	for _, m := range lines {
		id := m["id"].(string)
		if seen[id] {
			t.Fatalf("%s written twice", id)
		}
		seen[id] = true
	}
	if len(seen) != 998 {
		t.Fatalf("%d distinct results, want 998", len(seen))
	}
	if dead := readLines(t, filepath.Join(dir, "dead.jsonl")); len(dead) != 2 {
		t.Fatalf("%d dead letters, want 2", len(dead))
	}

	// A changed config is refused, and accepted with Restart (which starts over).
	changed := strings.ReplaceAll(yaml, "VALUE", "2")
	r, err := New(context.Background(), parse(t, dir, changed), env, Options{Source: &memSource{n: 10}})
	if !errors.Is(err, dataset.ErrPipelineChanged) {
		t.Fatalf("changed pipeline: err = %v, want ErrPipelineChanged", err)
	}
	if r != nil {
		t.Fatal("runner returned with an error")
	}
	r, err = New(context.Background(), parse(t, dir, changed), env, Options{Source: &memSource{n: 10}, Restart: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(readLines(t, filepath.Join(dir, "out.jsonl"))); n != 10 {
		t.Fatalf("after --restart: %d lines, want 10", n)
	}
}

func TestDrainStopsReadingAndCommits(t *testing.T) {
	dir := t.TempDir()
	p := parse(t, dir, `
version: 1
source: {path: mem}
stages: [{name: s, builtin: length}]
sinks: [{jsonl: OUT/out.jsonl}]
`)
	drain := make(chan struct{})
	var once sync.Once
	st := funcStage(func(it *Item, r *Result) {
		if it.Record.ID == "item-0100" {
			once.Do(func() { close(drain) })
		}
		r.Set("ok", true)
	})
	env := envWith(map[string]Factory{"length": constFactory(st)})
	r, err := New(context.Background(), p, env, Options{Source: &memSource{n: 100000}, Drain: drain})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := r.Run(context.Background())
	if !errors.Is(err, ErrInterrupted) || !sum.Interrupted {
		t.Fatalf("err = %v, interrupted %v", err, sum.Interrupted)
	}
	lines := readLines(t, filepath.Join(dir, "out.jsonl"))
	if int64(len(lines)) != sum.Done || sum.Done != sum.Read || sum.Done < 101 || sum.Done >= 100000 {
		t.Fatalf("lines %d, done %d, read %d: every admitted item must be finished", len(lines), sum.Done, sum.Read)
	}
}

func TestOrderAnyDeliversEverything(t *testing.T) {
	dir := t.TempDir()
	p := parse(t, dir, `
version: 1
source: {path: mem}
order: any
stages: [{name: s, builtin: length, batch: {max: 3}, resources: {instances: 4}}]
sinks: [{jsonl: OUT/out.jsonl}]
`)
	env := envWith(map[string]Factory{"length": constFactory(length)})
	r, err := New(context.Background(), p, env, Options{Source: &memSource{n: 1000}, NoLedger: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range readLines(t, filepath.Join(dir, "out.jsonl")) {
		seen[m["id"].(string)] = true
	}
	if len(seen) != 1000 {
		t.Fatalf("%d distinct items, want 1000", len(seen))
	}
	if _, err := os.Stat(filepath.Join(dir, dataset.LedgerName)); err == nil {
		t.Fatal("NoLedger wrote a ledger")
	}
}

// batchSizes records the size of every batch it gets.
type batchSizes struct {
	mu    sync.Mutex
	sizes []int
}

func (b *batchSizes) Process(ctx context.Context, items []Item, res []Result) error {
	b.mu.Lock()
	b.sizes = append(b.sizes, len(items))
	b.mu.Unlock()
	return nil
}

// TestBatchDeadlineOnInjectedClock runs a stage whose batches wait up to an hour of
// fake time: with the clock stopped, partial batches leave only when the input ends,
// so every batch but the last is full, and no test sleeps an hour.
func TestBatchDeadlineOnInjectedClock(t *testing.T) {
	dir := t.TempDir()
	p := parse(t, dir, `
version: 1
source: {path: mem}
stages: [{name: s, builtin: sizes, batch: {max: 16, delay: 1h}}]
sinks: [{jsonl: OUT/out.jsonl}]
`)
	bs := &batchSizes{}
	env := envWith(map[string]Factory{"sizes": constFactory(bs)})
	clk := sched.NewFakeClock(time.Unix(0, 0))
	r, err := New(context.Background(), p, env, Options{Source: &memSource{n: 100}, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []int{16, 16, 16, 16, 16, 16, 4}
	if fmt.Sprint(bs.sizes) != fmt.Sprint(want) {
		t.Fatalf("batch sizes %v, want %v", bs.sizes, want)
	}
}

// TestStagePolicyOverridesPipeline: the pipeline fails fast, but one stage skips its
// bad items, so the run succeeds and only that stage's failures are dropped.
func TestStagePolicyOverridesPipeline(t *testing.T) {
	dir := t.TempDir()
	p := parse(t, dir, `
version: 1
source: {path: mem}
stages:
  - {name: f, builtin: flaky, errors: {policy: skip}}
sinks: [{jsonl: OUT/out.jsonl}]
errors: {policy: fail-fast}
`)
	fl := &flaky{attempts: map[string]int{}, bad: map[string]bool{"item-0003": true}}
	r, err := New(context.Background(), p, envWith(map[string]Factory{"flaky": constFactory(fl)}), Options{Source: &memSource{n: 20}})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := r.Run(context.Background())
	if err != nil {
		t.Fatalf("the stage's skip policy should have kept the run going: %v", err)
	}
	if sum.Done != 19 || sum.Failed != 1 {
		t.Fatalf("done %d failed %d, want 19 and 1", sum.Done, sum.Failed)
	}
}

func TestPrometheusCollector(t *testing.T) {
	dir := t.TempDir()
	p := parse(t, dir, `
version: 1
source: {path: mem}
stages: [{name: up, builtin: upper, when: text}]
sinks: [{jsonl: OUT/out.jsonl}]
`)
	r, err := New(context.Background(), p, envWith(map[string]Factory{"upper": constFactory(upper)}), Options{Source: &memSource{n: 30}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(r.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "{" + l.GetName() + "=" + l.GetValue() + "}"
			}
			switch {
			case m.Counter != nil:
				got[key] = m.GetCounter().GetValue()
			case m.Summary != nil:
				got[key] = float64(m.GetSummary().GetSampleCount())
			case m.Histogram != nil:
				got[key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	if got["plexus_stage_items_total{stage=up}"] != 20 || got["plexus_items_done_total{modality=image}"] != 10 ||
		got["plexus_items_read_total"] != 30 || got["plexus_stage_batch_seconds{stage=up}"] == 0 ||
		got["plexus_instance_batches_total{device=cpu}{instance=0}{stage=up}"] == 0 ||
		got["plexus_device_batches_total{device=cpu}{kind=cpu}"] == 0 || got["plexus_stage_batch_size{stage=up}"] == 0 {
		t.Fatalf("metrics %v", got)
	}
}

// dupSource yields the same id twice.
type dupSource struct{ i int }

func (s *dupSource) Next(context.Context) (*Record, error) {
	s.i++
	if s.i > 3 {
		return nil, io.EOF
	}
	id := fmt.Sprint("id", min(s.i, 2))
	return &Record{ID: id, Modality: "text", Payload: []byte("x")}, nil
}

func TestDuplicateIDsAreDeadLettered(t *testing.T) {
	dir := t.TempDir()
	p := parse(t, dir, `
version: 1
source: {path: mem}
stages: [{name: s, builtin: length}]
sinks: [{jsonl: OUT/out.jsonl}]
errors: {policy: dead-letter, path: OUT/dead.jsonl}
`)
	r, err := New(context.Background(), p, envWith(map[string]Factory{"length": constFactory(length)}), Options{Source: &dupSource{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(readLines(t, filepath.Join(dir, "out.jsonl"))); n != 2 {
		t.Fatalf("%d results, want 2", n)
	}
	dead := readLines(t, filepath.Join(dir, "dead.jsonl"))
	if len(dead) != 1 || !strings.Contains(dead[0]["error"].(string), "duplicate item id") {
		t.Fatalf("dead letters %v", dead)
	}
}
