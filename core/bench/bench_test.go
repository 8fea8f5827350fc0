package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestTableAndJSON(t *testing.T) {
	rows := []Row{
		{Bench: "kernels", Config: "sgemm 2048", Plexus: 480, PyTorch: 400, Unit: "GFLOP/s"},
		{Bench: "transport", Config: "shm 64MiB", Plexus: 7.5, PyTorch: math.NaN(), Unit: "GB/s"},
	}
	var tb bytes.Buffer
	if err := WriteTable(&tb, rows); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(tb.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("table has %d lines:\n%s", len(lines), tb.String())
	}
	for _, col := range []string{"bench", "config", "plexus", "pytorch", "unit", "ratio"} {
		if !strings.Contains(lines[0], col) {
			t.Errorf("header lacks %q: %s", col, lines[0])
		}
	}
	if !strings.Contains(lines[1], "1.20x") || !strings.Contains(lines[2], "n/a") {
		t.Errorf("ratio or n/a missing:\n%s", tb.String())
	}
	var jb bytes.Buffer
	if err := WriteJSON(&jb, rows); err != nil {
		t.Fatal(err)
	}
	var back []map[string]any
	if err := json.Unmarshal(jb.Bytes(), &back); err != nil {
		t.Fatalf("json output does not parse: %v\n%s", err, jb.String())
	}
	if back[0]["ratio"].(float64) != 1.2 || back[1]["pytorch"] != nil || back[1]["ratio"] != nil {
		t.Errorf("json rows wrong: %v", back)
	}
	for _, k := range []string{"bench", "config", "plexus", "pytorch", "unit", "ratio"} {
		if _, ok := back[0][k]; !ok {
			t.Errorf("json row lacks key %q", k)
		}
	}
	var md bytes.Buffer
	_ = WriteMarkdown(&md, rows)
	if !strings.HasPrefix(md.String(), "| bench | config | plexus | pytorch | unit | ratio |") {
		t.Errorf("markdown header wrong:\n%s", md.String())
	}
}

func TestMedianRunsWarmupThenRuns(t *testing.T) {
	calls := 0
	durs := []time.Duration{50 * time.Millisecond, time.Millisecond, 3 * time.Millisecond, 2 * time.Millisecond}
	d := Median(Options{Runs: 3, Warmup: 1}, func() {
		time.Sleep(durs[calls])
		calls++
	})
	if calls != 4 {
		t.Fatalf("f called %d times, want 1 warm-up + 3 runs", calls)
	}
	// The warm-up's 50ms must not be the median; the median of 1,3,2 ms is 2 ms.
	if d >= 40*time.Millisecond {
		t.Fatalf("median %v includes the warm-up", d)
	}
}

func TestPyTorchScript(t *testing.T) {
	o := Options{Python: "/usr/bin/python3"}
	if err := exec.Command(o.Python, "-c", "import torch").Run(); err != nil {
		if _, err := PyTorch(context.Background(), o, "print('{}')"); !errors.Is(err, ErrNoPyTorch) {
			t.Fatalf("without torch: err = %v, want ErrNoPyTorch", err)
		}
		return
	}
	got, err := PyTorch(context.Background(), o, `import os
print("noise line")
print(json.dumps({"threads": torch.get_num_threads(), "cores": os.cpu_count(),
  "env": int("OPENBLAS_CORETYPE" in os.environ or "OPENBLAS_L2_SIZE" in os.environ)}))`)
	if err != nil {
		t.Fatal(err)
	}
	if got["threads"] != got["cores"] || got["env"] != 0 {
		t.Fatalf("pytorch not at its best settings: %v", got)
	}
	if _, err := PyTorch(context.Background(), o, "print('not json')"); err == nil {
		t.Fatal("a script without a JSON line was accepted")
	}
}
