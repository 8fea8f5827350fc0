package plugin

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plexusml/plexus/core/tensor"
)

func TestBatchRoundTrip(t *testing.T) {
	h := newTestHost(t, HostOptions{}, "echo")
	ctx := context.Background()
	inst, err := h.Instance(ctx, "echo", "echo", nil, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	if inst.Protocol() != 2 {
		t.Fatalf("negotiated protocol %d, want 2", inst.Protocol())
	}
	small := tensor.FromFloat32([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	view, _ := small.Permute(1, 0) // non-contiguous: sent as a row-major copy
	big := tensor.New(tensor.Float32, 512, 1024)
	for i, f := range big.Float32s() {
		f = float32(i) * 0.5
		big.Float32s()[i] = f
	}
	ids := tensor.FromInt64([]int64{7, -8, 9}, 3)
	items := []Item{
		{ID: "s", Modality: "text", Fields: map[string]Value{"text": "héllo", "n": int64(3), "p": 0.25, "ok": true}},
		{ID: "b", Modality: "image", Fields: map[string]Value{"raw": []byte{0, 1, 2}, "tags": []string{"a", "b"}, "xs": []float64{1.5, -2}}},
		{ID: "t", Modality: "tensor", Fields: map[string]Value{"small": small, "view": view, "big": big, "ids": ids}},
		{ID: "l", Modality: "mixed", Fields: map[string]Value{"list": []Value{"x", int64(1), []Value{true}, small}}},
	}
	res := inst.Process(ctx, "echo", items)
	for k, r := range res {
		if r.Err != nil {
			t.Fatalf("item %s: %v", items[k].ID, r.Err)
		}
		for name, want := range items[k].Fields {
			if !sameValue(r.Fields[name], want) {
				t.Errorf("item %s field %s: got %v, want %v", items[k].ID, name, r.Fields[name], want)
			}
		}
	}
	// The next call reuses the arena; earlier results must not change under it.
	before := append([]byte(nil), res[2].Fields["big"].(*tensor.Tensor).Bytes()...)
	big2 := tensor.New(tensor.Float32, 512, 1024)
	res2 := inst.Process(ctx, "echo", []Item{{ID: "z", Fields: map[string]Value{"big": big2}}})
	if res2[0].Err != nil {
		t.Fatal(res2[0].Err)
	}
	if !bytes.Equal(before, res[2].Fields["big"].(*tensor.Tensor).Bytes()) {
		t.Fatal("a result changed when the arena was reused")
	}
	if err := inst.Health(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestProcessView(t *testing.T) {
	h := newTestHost(t, HostOptions{}, "echo")
	ctx := context.Background()
	inst, err := h.Instance(ctx, "echo", "echo", nil, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.New(tensor.Float32, 1<<16)
	for i := range x.Float32s() {
		x.Float32s()[i] = float32(i)
	}
	called := false
	inst.ProcessView(ctx, "echo", []Item{{ID: "a", Fields: map[string]Value{"x": x}}}, func(r []Result) {
		called = true
		if r[0].Err != nil {
			t.Fatal(r[0].Err)
		}
		y := r[0].Fields["x"].(*tensor.Tensor)
		if _, inArena := inst.arena.Offset(y.Bytes()); !inArena {
			t.Error("ProcessView result is not a view of the arena")
		}
		if !bytes.Equal(y.Bytes(), x.Bytes()) {
			t.Error("ProcessView result differs")
		}
	})
	if !called {
		t.Fatal("callback not called")
	}
	r := inst.Process(ctx, "echo", []Item{{ID: "a", Fields: map[string]Value{"x": x}}})
	if _, inArena := inst.arena.Offset(r[0].Fields["x"].(*tensor.Tensor).Bytes()); inArena {
		t.Error("Process result lives in the arena")
	}
}

func TestLargeTensorRoundTrip(t *testing.T) {
	modes := []struct {
		name string
		thr  int
	}{{"arena", 0}, {"inline", -1}}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			if m.thr < 0 && testing.Short() {
				t.Skip("inline 256 MiB round trip skipped in -short mode")
			}
			h := newTestHost(t, HostOptions{ArenaThreshold: m.thr}, "echo")
			ctx := context.Background()
			inst, err := h.Instance(ctx, "echo", "echo", nil, "cpu")
			if err != nil {
				t.Fatal(err)
			}
			x := tensor.New(tensor.Uint8, 256<<20)
			rand.New(rand.NewSource(1)).Read(x.Bytes())
			res := inst.Process(ctx, "echo", []Item{{ID: "big", Fields: map[string]Value{"x": x}}})
			if res[0].Err != nil {
				t.Fatal(res[0].Err)
			}
			y := res[0].Fields["x"].(*tensor.Tensor)
			if !reflect.DeepEqual(y.Shape(), x.Shape()) || !bytes.Equal(y.Bytes(), x.Bytes()) {
				t.Fatal("256 MiB tensor came back different")
			}
		})
	}
}

func TestCrashedPluginIsRestarted(t *testing.T) {
	h := newTestHost(t, HostOptions{Env: []string{"FAULTY_STATE=" + t.TempDir()}}, "faulty")
	ctx := context.Background()
	inst, err := h.Instance(ctx, "faulty", "m", map[string]any{"greeting": "hello"}, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	pid := inst.PID()
	items := actions("ok", "ok", "exit-once", "ok")
	ref := inst.Process(WithSeed(ctx, 42), "run", actions("ok", "ok", "ok", "ok"))
	if other := inst.Process(WithSeed(ctx, 43), "run", actions("ok")); other[0].Fields["seed"] == ref[0].Fields["seed"] {
		t.Fatal("the run seed does not reach the plugin")
	}
	res := inst.Process(WithSeed(ctx, 42), "run", items)
	for k, r := range res {
		if r.Err != nil {
			t.Fatalf("item %s: %v", items[k].ID, r.Err)
		}
		if r.Fields["greeting"] != "hello" || r.Fields["id"] != items[k].ID {
			t.Fatalf("item %s: fields %v", items[k].ID, r.Fields)
		}
		// Item ids differ from ref's only in the action suffix, except the crashing
		// one; the seed of the others must be reproduced across the restart.
		if items[k].ID == ref[k].Fields["id"] && r.Fields["seed"] != ref[k].Fields["seed"] {
			t.Fatalf("item %s: seed %v, before the crash %v", items[k].ID, r.Fields["seed"], ref[k].Fields["seed"])
		}
	}
	if inst.Restarts() != 1 || inst.PID() == pid || inst.PID() == 0 {
		t.Fatalf("restarts %d, pid %d -> %d", inst.Restarts(), pid, inst.PID())
	}
}

func TestHungPluginIsKilledAndRestarted(t *testing.T) {
	h := newTestHost(t, HostOptions{CallTimeout: time.Second, Env: []string{"FAULTY_STATE=" + t.TempDir()}}, "faulty")
	ctx := context.Background()
	inst, err := h.Instance(ctx, "faulty", "m", nil, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	pid := inst.PID()
	items := actions("ok", "hang-once", "ok")
	res := inst.Process(ctx, "run", items)
	for k, r := range res {
		if r.Err != nil {
			t.Fatalf("item %s: %v", items[k].ID, r.Err)
		}
	}
	if inst.Restarts() != 1 {
		t.Fatalf("restarts = %d, want 1", inst.Restarts())
	}
	if processAlive(pid) {
		t.Fatalf("hung plugin %d still runs", pid)
	}
}

func TestPoisonedItemFailsAlone(t *testing.T) {
	h := newTestHost(t, HostOptions{Env: []string{"FAULTY_STATE=" + t.TempDir()}}, "faulty")
	ctx := context.Background()
	inst, err := h.Instance(ctx, "faulty", "m", nil, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	items := actions("ok", "ok", "bad", "ok", "ok", "poison", "ok", "ok")
	items = append(items, Item{ID: "nofield", Fields: map[string]Value{}})
	res := inst.Process(ctx, "run", items)
	for k, r := range res {
		switch items[k].ID {
		case "5-poison":
			if !errors.Is(r.Err, ErrPoison) || !strings.Contains(r.Err.Error(), "poisoned item 5-poison") {
				t.Errorf("poisoned item: %v", r.Err)
			}
		case "2-bad", "nofield":
			if !errors.Is(r.Err, ErrBadItem) || errors.Is(r.Err, ErrPoison) {
				t.Errorf("bad item %s: %v", items[k].ID, r.Err)
			}
		default:
			if r.Err != nil || r.Fields["id"] != items[k].ID {
				t.Errorf("item %s: %v %v", items[k].ID, r.Err, r.Fields)
			}
		}
	}
	// The instance keeps working after the bisection.
	if r := inst.Process(ctx, "run", actions("ok")); r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
}

func TestOldProtocolPlugin(t *testing.T) {
	h := newTestHost(t, HostOptions{}, "oldproto")
	ctx := context.Background()
	d, err := h.Describe(ctx, "oldproto")
	if err != nil {
		t.Fatal(err)
	}
	if d.Protocol != 1 || d.HasCapability("arena") {
		t.Fatalf("protocol %d, capabilities %v", d.Protocol, d.Capabilities)
	}
	inst, err := h.Instance(ctx, "oldproto", "double", nil, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	// 1 MiB is above the arena threshold; a v1 plugin must still get it inline.
	x := tensor.New(tensor.Float32, 1<<18)
	for i := range x.Float32s() {
		x.Float32s()[i] = float32(i%1000) - 500.5
	}
	res := inst.Process(ctx, "double", []Item{{ID: "a", Fields: map[string]Value{"x": x}}})
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	y := res[0].Fields["y"].(*tensor.Tensor).Float32s()
	for i, v := range x.Float32s() {
		if y[i] != 2*v {
			t.Fatalf("y[%d] = %v, want %v", i, y[i], 2*v)
		}
	}
}

func TestSIGKILLedHostLeavesNothing(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs /proc")
	}
	for _, kind := range []string{"memfd", "shm"} {
		t.Run(kind, func(t *testing.T) {
			shmBefore := shmArenas()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "PLEXUS_TEST_HELPER_HOST="+kind, "PLEXUS_TEST_ECHO="+testPlugin("echo").Path)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdin, _ := cmd.StdinPipe() // keeps the helper blocked on its stdin
			defer stdin.Close()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill() })
			line, err := bufio.NewReader(out).ReadString('\n')
			if err != nil || !strings.HasPrefix(line, "READY ") {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("helper host: %q %v", line, err)
			}
			pid, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "READY ")))
			if !processAlive(pid) {
				t.Fatalf("plugin %d is not running", pid)
			}
			if kind == "memfd" && !holdsMemfd(pid) {
				t.Errorf("plugin %d does not hold the memfd arena", pid)
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()
			// The kernel delivers Pdeathsig as the helper dies; give the reaper a moment.
			deadline := time.Now().Add(10 * time.Second)
			for processAlive(pid) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if processAlive(pid) {
				syscall.Kill(pid, syscall.SIGKILL)
				t.Fatalf("plugin %d outlived its SIGKILLed host", pid)
			}
			if left := groupMembers(pid); len(left) > 0 {
				t.Fatalf("processes of the plugin's group remain: %v", left)
			}
			if after := shmArenas(); len(after) > len(shmBefore) {
				t.Fatalf("shared-memory files left behind: %v", after)
			}
			// The dead host's socket directory is swept by the next host.
			dead := filepath.Join(os.TempDir(), socketDirPrefix+strconv.Itoa(cmd.Process.Pid))
			if _, err := os.Stat(dead); err != nil {
				t.Fatalf("helper host made no socket directory %s: %v", dead, err)
			}
			sweepSocketDirs()
			if _, err := os.Stat(dead); !os.IsNotExist(err) {
				t.Fatalf("socket directory %s of a dead host survives: %v", dead, err)
			}
		})
	}
}

func TestDiscover(t *testing.T) {
	dir := t.TempDir()
	echo, _ := os.ReadFile(testPlugin("echo").Path)
	os.WriteFile(filepath.Join(dir, "plexus-plugin-alpha"), echo, 0o755)
	os.WriteFile(filepath.Join(dir, "plexus-plugin-beta"), echo, 0o755)
	os.WriteFile(filepath.Join(dir, "plexus-plugin-notes.txt"), []byte("x"), 0o644) // not executable
	os.WriteFile(filepath.Join(dir, "plexus"), echo, 0o755)                         // not a plugin
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644)
	pathDir := t.TempDir()
	os.WriteFile(filepath.Join(pathDir, "plexus-plugin-gamma"), echo, 0o755)
	os.WriteFile(filepath.Join(pathDir, "plexus-plugin-alpha"), echo, 0o755) // shadowed
	os.WriteFile(filepath.Join(pathDir, "delta"), echo, 0o755)               // no prefix on PATH
	t.Setenv("PATH", pathDir)

	// A missing directory is skipped quietly; one that cannot be read is reported.
	h := NewHost(HostOptions{Dirs: []string{dir, filepath.Join(dir, "missing"), filepath.Join(dir, "notes.txt")}})
	found, err := h.Discover()
	if err == nil || strings.Contains(err.Error(), "missing") || !strings.Contains(err.Error(), "notes.txt") {
		t.Errorf("Discover error: %v", err)
	}
	got := map[string]string{}
	for _, f := range found {
		got[f.Name] = f.Source
	}
	want := map[string]string{"alpha": dir, "beta": dir, "gamma": "PATH"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("discovered %v, want %v", got, want)
	}
	if _, err := h.Resolve("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Resolve(nope) = %v", err)
	}
	d, err := h.Describe(context.Background(), "alpha")
	if err != nil || d.Name != "echo" {
		t.Fatalf("describe alpha: %v %v", d, err)
	}
}

func TestInstanceRejectsBadConfig(t *testing.T) {
	h := newTestHost(t, HostOptions{}, "faulty")
	_, err := h.Instance(context.Background(), "faulty", "m", map[string]any{"greting": "x"}, "cpu")
	if err == nil || !strings.Contains(err.Error(), "config.greting: unknown key") {
		t.Fatalf("err = %v", err)
	}
	_, err = h.Instance(context.Background(), "faulty", "nomodel", nil, "cpu")
	if err == nil || !strings.Contains(err.Error(), `no model "nomodel"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestCheckStage(t *testing.T) {
	h := newTestHost(t, HostOptions{}, "faulty")
	d, err := h.Describe(context.Background(), "faulty")
	if err != nil {
		t.Fatal(err)
	}
	paths := func(errs []error) []string {
		var p []string
		for _, e := range errs {
			var fe *FieldError
			if !errors.As(e, &fe) {
				t.Fatalf("%v is not a FieldError", e)
			}
			p = append(p, fe.Path)
		}
		return p
	}
	cases := []struct {
		spec StageSpec
		want []string
	}{
		{StageSpec{Model: "m", Task: "run", Config: map[string]any{"greeting": "x"}, Fields: map[string]string{"action": "string"}}, nil},
		{StageSpec{Model: "zz", Task: "run"}, []string{"model"}},
		{StageSpec{Model: "m", Task: "walk", Config: map[string]any{"greeting": 3, "color": "red"}}, []string{"config.greeting", "config.color", "task"}},
		{StageSpec{Model: "m", Task: "run", Fields: map[string]string{}}, []string{"input.action"}},
		{StageSpec{Model: "m", Task: "run", Fields: map[string]string{"action": "tensor"}}, []string{"input.action"}},
	}
	for _, c := range cases {
		if got := paths(CheckStage(d, c.spec)); !reflect.DeepEqual(got, c.want) {
			t.Errorf("CheckStage(%+v) paths = %v, want %v", c.spec, got, c.want)
		}
	}
}

func TestClosedInstance(t *testing.T) {
	h := newTestHost(t, HostOptions{}, "echo")
	ctx := context.Background()
	inst, err := h.Instance(ctx, "echo", "echo", nil, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	pid := inst.PID()
	h.Close()
	if processAlive(pid) {
		t.Fatalf("plugin %d survived Host.Close", pid)
	}
	if err := inst.Health(ctx); err == nil {
		t.Fatal("health of a closed instance is fine")
	}
	if r := inst.Process(ctx, "echo", []Item{{ID: "a"}}); !errors.Is(r[0].Err, ErrUnavailable) {
		t.Fatalf("Process after Close: %v", r[0].Err)
	}
}

func TestCloseInterruptsCall(t *testing.T) {
	// With an hour's call timeout, a Close that waited for the call would hang the test.
	h := newTestHost(t, HostOptions{CallTimeout: time.Hour, Env: []string{"FAULTY_STATE=" + t.TempDir()}}, "faulty")
	ctx := context.Background()
	inst, err := h.Instance(ctx, "faulty", "m", nil, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan []Result)
	go func() { done <- inst.Process(ctx, "run", actions("hang-once")) }()
	// Close may run before or while the call is in flight; either way the item is
	// reported unavailable (to be retried), not bad.
	time.Sleep(100 * time.Millisecond)
	inst.Close()
	r := <-done
	if !errors.Is(r[0].Err, ErrUnavailable) {
		t.Fatalf("item failed with %v", r[0].Err)
	}
	if inst.PID() != 0 {
		t.Fatal("a process runs after Close")
	}
}

func TestLargeBatchIsSplit(t *testing.T) {
	h := newTestHost(t, HostOptions{}, "faulty")
	ctx := context.Background()
	inst, err := h.Instance(ctx, "faulty", "m", nil, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	acts := make([]string, 150) // the model takes at most 64 per call
	for i := range acts {
		acts[i] = "ok"
	}
	items := actions(acts...)
	for k, r := range inst.Process(ctx, "run", items) {
		if r.Err != nil || r.Fields["id"] != items[k].ID {
			t.Fatalf("item %d: %v %v", k, r.Err, r.Fields)
		}
	}
}

func TestHealthReportsADeadPlugin(t *testing.T) {
	h := newTestHost(t, HostOptions{}, "echo")
	ctx := context.Background()
	inst, err := h.Instance(ctx, "echo", "echo", nil, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	pid := inst.PID()
	syscall.Kill(pid, syscall.SIGKILL)
	deadline := time.Now().Add(10 * time.Second)
	for inst.Health(ctx) == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if inst.Health(ctx) == nil {
		t.Fatal("health is fine with the plugin killed")
	}
	// The next batch restarts it.
	if r := inst.Process(ctx, "echo", []Item{{ID: "a", Fields: map[string]Value{"s": "x"}}}); r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	if inst.PID() == pid || inst.Health(ctx) != nil || inst.Restarts() != 1 {
		t.Fatalf("after restart: pid %d (was %d), health %v, restarts %d", inst.PID(), pid, inst.Health(ctx), inst.Restarts())
	}
}

func TestPluginRunByHand(t *testing.T) {
	out, err := exec.Command(testPlugin("echo").Path).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "plugin") {
		t.Fatalf("running a plugin by hand: %v, %q", err, out)
	}
}

func actions(acts ...string) []Item {
	items := make([]Item, len(acts))
	for i, a := range acts {
		items[i] = Item{ID: strconv.Itoa(i) + "-" + a, Modality: "text", Fields: map[string]Value{"action": a}}
	}
	return items
}

func sameValue(got, want Value) bool {
	switch w := want.(type) {
	case *tensor.Tensor:
		g, ok := got.(*tensor.Tensor)
		return ok && g.DType() == w.DType() && reflect.DeepEqual(g.Shape(), w.Shape()) &&
			bytes.Equal(g.Bytes(), w.Contiguous().Bytes())
	case []Value:
		g, ok := got.([]Value)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !sameValue(g[i], w[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(got, want)
}

// processAlive reports whether pid runs (a zombie counts as gone).
func processAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// groupMembers lists live processes whose process group is pgid.
func groupMembers(pgid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		f := strings.Fields(s[i+1:])
		if len(f) > 2 && f[0] != "Z" && f[2] == strconv.Itoa(pgid) {
			out = append(out, pid)
		}
	}
	return out
}

func holdsMemfd(pid int) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if l, _ := os.Readlink(filepath.Join(dir, e.Name())); strings.HasPrefix(l, "/memfd:plexus-arena") {
			return true
		}
	}
	return false
}

func shmArenas() []string {
	m, _ := filepath.Glob("/dev/shm/plexus-arena-*")
	return m
}
