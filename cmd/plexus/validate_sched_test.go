package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plexusml/plexus/core/sched"
)

const gpuPipeline = `version: 1
name: tts
source: {path: data}
stages:
  - name: norm
    builtin: text.normalize
  - name: vocode
    plugin: echo
    model: echo
    task: TASK
    after: [norm]
    resources: {device: gpu, memory: 2GiB}
sinks: [{jsonl: out/results.jsonl}]
`

// skipWithGPU skips a test that needs a machine without a GPU.
func skipWithGPU(t *testing.T) {
	t.Helper()
	devs, err := sched.Inventory(context.Background(), sched.InventoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		if d.Kind == sched.GPU {
			t.Skip("this machine has a GPU; the test checks the message for one without")
		}
	}
}

// echoPluginDir makes a plugins directory whose plexus-plugin-echo is the real plexus
// binary serving its echo plugin.
func echoPluginDir(t *testing.T) string {
	t.Helper()
	bin := plexusBinary(t)
	dir := t.TempDir()
	script := "#!/bin/sh\nexec " + bin + " " + echoPluginCmd.Use + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(dir, "plexus-plugin-echo"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestValidateGPUStageWithoutGPU(t *testing.T) {
	skipWithGPU(t)
	dir := t.TempDir()
	pipe := filepath.Join(dir, "tts.yaml")
	if err := os.WriteFile(pipe, []byte(strings.Replace(gpuPipeline, "TASK", "echo", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	// An empty plugins path and no PATH lookup hit: the plugin is not installed, which
	// is only a warning; the missing GPU is the one problem.
	t.Setenv("PLEXUS_PLUGINS_PATH", t.TempDir())
	t.Setenv("PATH", t.TempDir())
	stdout, stderr, err := runCmd(t, newValidateCmd(), pipe)
	want := pipe + ":12:25: stage vocode needs 1 × 2 GiB on gpu; there is no gpu on this machine\n"
	if stderr != want || exitCode(err) != 1 || !strings.Contains(err.Error(), "1 problem") {
		t.Fatalf("stderr %q, err %v; want %q", stderr, err, want)
	}
	if stdout != "" {
		t.Fatalf("stdout %q for a failing pipeline", stdout)
	}

	// The same pipeline plans onto a simulated GPU from the engine config.
	cfg := filepath.Join(dir, "plexus.yaml")
	if err := os.WriteFile(cfg, []byte("devices:\n  - {name: sim-gpu0, kind: gpu, memory: 24GiB}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err = runCmd(t, newValidateCmd(), "--config", cfg, pipe)
	engineConfig = ""
	if err != nil || stderr != "" || !strings.Contains(stdout, "ok (2 stages, 1 sinks); warning: plugins not installed here") ||
		!strings.Contains(stdout, "vocode (echo)") {
		t.Fatalf("with a simulated GPU: err %v, stderr %q, stdout %q", err, stderr, stdout)
	}
}

// TestValidateTaskAgainstPlugin runs the real binary with the echo plugin installed: an
// unknown task is reported at its task: line, and a known one passes.
func TestValidateTaskAgainstPlugin(t *testing.T) {
	bin := plexusBinary(t)
	plugins := echoPluginDir(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "plexus.yaml")
	if err := os.WriteFile(cfg, []byte("plugins: {path: ["+plugins+"]}\ndevices:\n  - {name: sim-gpu0, kind: gpu, memory: 24GiB}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(bad, []byte(strings.Replace(gpuPipeline, "TASK", "transcribe", 1)), 0o644)
	os.WriteFile(good, []byte(strings.Replace(gpuPipeline, "TASK", "echo", 1)), 0o644)

	out, err := exec.Command(bin, "validate", "--config", cfg, bad).CombinedOutput()
	want := bad + `:10:11: stage vocode: model echo has no task "transcribe" (tasks: echo)`
	if err == nil || !strings.Contains(string(out), want) {
		t.Fatalf("bad task: %v\n%s\nwant %s", err, out, want)
	}
	out, err = exec.Command(bin, "validate", "--config", cfg, good).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != good+": ok (2 stages, 1 sinks)" {
		t.Fatalf("good task: %v\n%s", err, out)
	}
}
