package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/plexusml/plexus/core/dataset/datasettest"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

// plexusBinary builds the real plexus command once per test process.
func plexusBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "plexus-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "plexus")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func readJSONL(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for n := 1; sc.Scan(); n++ {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s:%d: not JSON: %v: %q", path, n, err, sc.Text())
		}
		out = append(out, m)
	}
	return out
}

const mixedPipeline = `version: 1
name: e2e
source: {path: DATA}
stages:
  - {name: thumbs, builtin: image.resize, when: image, config: {size: 16, gray: true}, batch: {max: 4}, resources: {instances: 2}}
  - {name: resample, builtin: audio.resample, when: audio, config: {rate: 16000, mono: true}}
  - {name: norm, builtin: text.normalize, when: text, batch: {max: 8, delay: 2ms, bucket: length}}
sinks:
  - {jsonl: OUT/results.jsonl}
  - {files: OUT/files, from: [thumbs, resample]}
errors: {policy: dead-letter, path: OUT/errors.jsonl}
`

// TestRunMixedDatasetEndToEnd runs the real binary over the generated mixed dataset:
// every good item appears exactly once in the results, every bad one in the
// dead-letter file with a message naming the problem, and the run exits 0.
func TestRunMixedDatasetEndToEnd(t *testing.T) {
	bin := plexusBinary(t)
	dir := t.TempDir()
	m, err := datasettest.Generate(filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	spec := strings.NewReplacer("DATA", m.Root, "OUT", out).Replace(mixedPipeline)
	pipe := filepath.Join(dir, "e2e.yaml")
	if err := os.WriteFile(pipe, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", pipe, "--progress", "log")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("plexus run: %v\n%s", err, stderr.String())
	}
	t.Logf("plexus run stderr:\n%s", stderr.String())
	results := readJSONL(t, filepath.Join(out, "results.jsonl"))
	dead := readJSONL(t, filepath.Join(out, "errors.jsonl"))
	got := map[string]map[string]any{}
	for _, r := range results {
		id := r["id"].(string)
		if got[id] != nil {
			t.Errorf("%s appears twice in the results", id)
		}
		got[id] = r
	}
	gotDead := map[string]map[string]any{}
	for _, d := range dead {
		id := d["id"].(string)
		if gotDead[id] != nil {
			t.Errorf("%s appears twice in the dead-letter file", id)
		}
		gotDead[id] = d
	}
	good, bad := 0, 0
	for _, e := range m.Files {
		if e.Err == "" {
			good++
			r := got[e.ID]
			if r == nil {
				t.Errorf("good item %s is missing from the results (dead-lettered: %v)", e.ID, gotDead[e.ID])
				continue
			}
			f := r["fields"].(map[string]any)
			switch e.Modality {
			case "image":
				if f["thumbs.width"] != 16.0 || f["thumbs.height"] != 16.0 {
					t.Errorf("%s: thumbnail fields %v", e.ID, f)
				}
				if _, err := os.Stat(filepath.Join(out, "files", e.ID+".thumbs.image.png")); err != nil {
					t.Errorf("%s: thumbnail file: %v", e.ID, err)
				}
			case "audio":
				if f["resample.rate"] != 16000.0 || f["resample.channels"] != 1.0 {
					t.Errorf("%s: resample fields %v", e.ID, f)
				}
			case "text":
				if _, ok := f["norm.text"].(string); !ok {
					t.Errorf("%s: no normalised text in %v", e.ID, f)
				}
			}
			if r["provenance"].(map[string]any)["plexus"] == nil {
				t.Errorf("%s: no provenance", e.ID)
			}
			continue
		}
		bad++
		d := gotDead[e.ID]
		if d == nil {
			t.Errorf("bad item %s (%s) is not in the dead-letter file (in results: %v)", e.ID, e.Err, got[e.ID] != nil)
			continue
		}
		if msg, _ := d["error"].(string); !strings.Contains(msg, e.Err) || !strings.Contains(msg, filepath.FromSlash(e.ID)) {
			t.Errorf("%s: dead-letter error %q should name the file and contain %q", e.ID, msg, e.Err)
		}
	}
	if len(results) != good || len(dead) != bad {
		t.Errorf("%d results and %d dead letters, want %d and %d", len(results), len(dead), good, bad)
	}
	if good < 10 || bad < 5 {
		t.Fatalf("the generated dataset is too small to mean much: %d good, %d bad", good, bad)
	}
	if rss := maxRSS(cmd.ProcessState); rss > 0 {
		t.Logf("peak RSS of plexus run: %.1f MiB", float64(rss)/(1<<20))
		if rss > 256<<20 {
			t.Errorf("peak RSS %d MiB over 256 MiB for a small dataset", rss>>20)
		}
	}
	if !strings.Contains(stderr.String(), "mean batch") {
		t.Errorf("no summary table on stderr:\n%s", stderr.String())
	}

	// The same command again finds everything committed and changes nothing.
	before, _ := os.ReadFile(filepath.Join(out, "results.jsonl"))
	if b, err := exec.Command(bin, "run", pipe, "--progress", "none").CombinedOutput(); err != nil {
		t.Fatalf("second run: %v\n%s", err, b)
	}
	after, _ := os.ReadFile(filepath.Join(out, "results.jsonl"))
	if !bytes.Equal(before, after) {
		t.Fatal("re-running a finished pipeline changed its results")
	}
	// A changed pipeline is refused without --restart.
	changed := strings.Replace(spec, "size: 16", "size: 12", 1)
	if err := os.WriteFile(pipe, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := exec.Command(bin, "run", pipe, "--progress", "none").CombinedOutput()
	if err == nil || !strings.Contains(string(b), "--restart") {
		t.Fatalf("changed pipeline: err %v, output %s; want a refusal mentioning --restart", err, b)
	}
}

const manifestPipeline = `version: 1
name: manifest
source: {path: DATA}
stages:
  - {name: thumbs, builtin: image.resize, when: has(image), input: [image], config: {size: 8}}
  - {name: norm, builtin: text.normalize, when: has(text), input: [text]}
  - {name: resample, builtin: audio.resample, when: has(audio), input: [audio], config: {rate: 8000}}
sinks: [{jsonl: OUT/results.jsonl}]
errors: {policy: dead-letter, path: OUT/errors.jsonl}
`

// TestRunManifests runs the generated JSONL and CSV manifests (good rows, mixed rows
// with text and image, broken rows) through the real binary: every good row once in
// the results with each payload's stage output, every bad row in the dead-letter file
// with its manifest line and problem.
func TestRunManifests(t *testing.T) {
	bin := plexusBinary(t)
	dir := t.TempDir()
	m, err := datasettest.Generate(filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	for _, man := range []struct {
		path string
		rows []datasettest.Expect
	}{{m.JSONL, m.JSONLRows}, {m.CSV, m.CSVRows}} {
		t.Run(filepath.Ext(man.path)[1:], func(t *testing.T) {
			out := filepath.Join(dir, "out-"+filepath.Ext(man.path)[1:])
			pipe := filepath.Join(dir, filepath.Base(out)+".yaml")
			spec := strings.NewReplacer("DATA", man.path, "OUT", out).Replace(manifestPipeline)
			os.WriteFile(pipe, []byte(spec), 0o644)
			if b, err := exec.Command(bin, "run", pipe, "--progress", "none").CombinedOutput(); err != nil {
				t.Fatalf("plexus run: %v\n%s", err, b)
			}
			results := map[string]map[string]any{}
			for _, r := range readJSONL(t, filepath.Join(out, "results.jsonl")) {
				results[r["id"].(string)] = r
			}
			var dead []map[string]any
			dead = readJSONL(t, filepath.Join(out, "errors.jsonl"))
			deadMsgs := func(id string) (msgs []string) {
				for _, d := range dead {
					if d["id"] == id {
						msgs = append(msgs, d["error"].(string))
					}
				}
				return msgs
			}
			good := 0
			for _, e := range man.rows {
				if e.Err == "" {
					good++
					r := results[e.ID]
					if r == nil {
						t.Errorf("row %s missing from the results (dead letters: %v)", e.ID, deadMsgs(e.ID))
						continue
					}
					f := r["fields"].(map[string]any)
					if e.Text != nil && f["norm.text"] == nil || e.Image != nil && f["thumbs.width"] != 8.0 || e.Audio != nil && f["resample.rate"] != 8000.0 {
						t.Errorf("row %s (%s): fields %v", e.ID, e.Modality, f)
					}
					for k, v := range e.Fields {
						if fmt.Sprint(f[k]) != fmt.Sprint(v) && k != "count" { // JSON numbers lose int64 precision
							t.Errorf("row %s: field %s = %v, want %v", e.ID, k, f[k], v)
						}
					}
					continue
				}
				found := false
				for _, msg := range deadMsgs(e.ID) {
					if strings.Contains(msg, e.Err) && strings.Contains(msg, e.Name) {
						found = true
					}
				}
				if !found {
					t.Errorf("bad row %s: no dead letter naming %q and %q (have %v)", e.ID, e.Name, e.Err, deadMsgs(e.ID))
				}
			}
			if len(results) != good || len(dead) != len(man.rows)-good {
				t.Errorf("%d results and %d dead letters, want %d and %d", len(results), len(dead), good, len(man.rows)-good)
			}
		})
	}
}

func maxRSS(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok && runtime.GOOS == "linux" {
		return ru.Maxrss << 10 // kilobytes on Linux
	}
	return 0
}

const resumePipeline = `version: 1
name: resume
source: {path: DATA}
stages:
  - {name: norm, builtin: text.normalize, batch: {max: 8}}
  - {name: slow, builtin: debug.delay, config: {per_item: 300us}, batch: {max: 4}, resources: {instances: 2}}
sinks: [{jsonl: OUT/results.jsonl}]
errors: {policy: dead-letter, path: OUT/errors.jsonl}
`

// TestRunResumesAfterSIGKILL kills the real binary with SIGKILL at seeded random
// moments, reruns the same command each time, and checks that the final outputs are
// byte-identical to an uninterrupted run's: nothing lost, nothing written twice.
func TestRunResumesAfterSIGKILL(t *testing.T) {
	bin := plexusBinary(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	const n = 2000
	for i := 0; i < n; i++ {
		// Lines of about 1 KiB fill the sink buffer between commits, so kills leave
		// uncommitted lines in the file that the resumed run must cut off.
		body := fmt.Sprintf("  Item %d:  Hello   World %s \n", i, strings.Repeat("x", 1000+i%50))
		if i%97 == 13 {
			body = "bad \xff\xfe utf-8" // dead-lettered, so the error file is resumed too
		}
		sub := filepath.Join(data, fmt.Sprintf("d%02d", i%7))
		os.MkdirAll(sub, 0o755)
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("t%05d.txt", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name, out string) string {
		p := filepath.Join(dir, name)
		spec := strings.NewReplacer("DATA", data, "OUT", out).Replace(resumePipeline)
		if err := os.WriteFile(p, []byte(spec), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	refOut, killOut := filepath.Join(dir, "ref"), filepath.Join(dir, "killed")
	refPipe, killPipe := write("ref.yaml", refOut), write("killed.yaml", killOut)

	start := time.Now()
	if b, err := exec.Command(bin, "run", refPipe, "--progress", "none").CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, b)
	}
	full := time.Since(start)

	rng := rand.New(rand.NewPCG(42, 7))
	kills := 0
	for round := 0; round < 6; round++ {
		cmd := exec.Command(bin, "run", killPipe, "--progress", "none")
		var out lockedBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill somewhere in the first 60% of what is left of a full run's time,
		// judged by the lines written so far, so most rounds die mid-run however
		// far the earlier rounds got.
		left := 1 - float64(countLines(filepath.Join(killOut, "results.jsonl")))/n
		wait := time.Duration(rng.Float64() * 0.6 * left * float64(full))
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("round %d: run failed: %v\n%s", round, err, out.String())
			}
			t.Logf("round %d: finished before the kill at %v", round, wait)
		case <-time.After(wait):
			if round == 2 {
				// A graceful stop: SIGINT finishes the items in flight, commits them,
				// prints the summary and exits 130. It is sent once the run has said
				// it started, so it cannot land before the process catches signals
				// (when an earlier round finished everything, the wait is zero).
			ready:
				for !strings.Contains(out.String(), "msg=run ") {
					select {
					case err := <-done:
						done <- err // it ended first; the checks below still apply
						break ready
					case <-time.After(5 * time.Millisecond):
					}
				}
				cmd.Process.Signal(syscall.SIGINT)
				<-done
				if code := cmd.ProcessState.ExitCode(); code != 130 && code != 0 {
					t.Fatalf("after SIGINT: exit %d, want 130\n%s", code, out.String())
				}
				if !strings.Contains(out.String(), "mean batch") {
					t.Fatalf("no summary after SIGINT:\n%s", out.String())
				}
				continue
			}
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			kills++
		}
	}
	if b, err := exec.Command(bin, "run", killPipe, "--progress", "none").CombinedOutput(); err != nil {
		t.Fatalf("final run: %v\n%s", err, b)
	}
	if kills < 3 {
		t.Fatalf("only %d of 5 SIGKILL rounds landed mid-run; the test did not test resuming", kills)
	}
	for _, f := range []string{"results.jsonl", "errors.jsonl"} {
		want, err := os.ReadFile(filepath.Join(refOut, f))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(killOut, f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			diffLines(t, f, want, got)
		}
	}
	if lines := readJSONL(t, filepath.Join(killOut, "results.jsonl")); len(lines) != n-21 {
		t.Fatalf("%d results, want %d", len(lines), n-21)
	}
	t.Logf("%d of 5 rounds killed with SIGKILL (one more stopped with SIGINT); an uninterrupted run took %v", kills, full.Round(time.Millisecond))
}

// lockedBuffer is a bytes.Buffer that a process's output and the test may use at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func countLines(path string) int {
	b, _ := os.ReadFile(path)
	return bytes.Count(b, []byte("\n"))
}

func diffLines(t *testing.T, name string, want, got []byte) {
	t.Helper()
	w := strings.Split(string(want), "\n")
	g := strings.Split(string(got), "\n")
	seen := map[string]int{}
	for _, l := range g {
		seen[l]++
	}
	for _, l := range w {
		if seen[l] == 0 {
			t.Errorf("%s: missing after the kills: %.200s", name, l)
		}
		seen[l]--
	}
	for l, c := range seen {
		if c > 0 {
			t.Errorf("%s: extra (%d×) after the kills: %.200s", name, c, l)
		}
	}
	t.Fatalf("%s differs from the uninterrupted run (%d vs %d lines)", name, len(g), len(w))
}
