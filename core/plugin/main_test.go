package plugin

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/plexusml/plexus/core/tensor"
)

// binDir holds the test plugins, built once per test binary by TestMain.
var binDir string

func TestMain(m *testing.M) {
	if os.Getenv("PLEXUS_TEST_HELPER_HOST") != "" {
		helperHost()
		return
	}
	dir, err := os.MkdirTemp("", "plexus-plugin-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	for _, args := range [][]string{
		{"-o", dir + string(filepath.Separator), "./internal/testplugins/..."},
		{"-o", filepath.Join(dir, "textstats"), "../../plugins/examples/template"},
	} {
		cmd := exec.Command("go", append([]string{"build"}, args...)...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building test plugins:", err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func testPlugin(name string) Found {
	return Found{Name: name, Path: filepath.Join(binDir, name)}
}

func newTestHost(t testing.TB, opts HostOptions, plugins ...string) *Host {
	t.Helper()
	opts.SkipPATH = true
	if opts.Logger == nil {
		opts.Logger = hclog.New(&hclog.LoggerOptions{Output: testWriter{t}, Level: hclog.Warn})
	}
	if opts.Backoff.Initial == 0 {
		opts.Backoff = Backoff{Initial: 10 * time.Millisecond, Max: 200 * time.Millisecond, Retries: 2}
	}
	h := NewHost(opts)
	for _, p := range plugins {
		h.Add(testPlugin(p))
	}
	t.Cleanup(func() { h.Close() })
	return h
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// helperHost is a host process for TestSIGKILLLeavesNothing: it starts the echo plugin,
// sends a tensor through the arena, reports the plugin's pid and waits to be killed.
func helperHost() {
	kind := tensor.ArenaMemfd
	if os.Getenv("PLEXUS_TEST_HELPER_HOST") == "shm" {
		kind = tensor.ArenaShmFile
	}
	h := NewHost(HostOptions{SkipPATH: true, ArenaKind: kind, Logger: hclog.NewNullLogger()})
	h.Add(Found{Name: "echo", Path: os.Getenv("PLEXUS_TEST_ECHO")})
	ctx := context.Background()
	inst, err := h.Instance(ctx, "echo", "echo", nil, "cpu")
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	x := tensor.New(tensor.Float32, 1<<18)
	res := inst.Process(ctx, "echo", []Item{{ID: "a", Fields: map[string]Value{"x": x}}})
	if res[0].Err != nil {
		fmt.Println("ERROR", res[0].Err)
		os.Exit(1)
	}
	fmt.Printf("READY %d\n", inst.PID())
	// Wait to be killed; should the test die first, its closed pipe ends the helper.
	io.Copy(io.Discard, bufio.NewReader(os.Stdin))
	h.Close()
	os.Exit(0)
}
