package main

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func runCmd(t *testing.T, cmd *cobra.Command, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err = cmd.Execute()
	return out.String(), errOut.String(), err
}

func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if err != nil {
		return 1
	}
	return 0
}

const testdataDir = "../../core/pipeline/testdata/validate/"

func TestValidateUnknownKey(t *testing.T) {
	_, stderr, err := runCmd(t, newValidateCmd(), testdataDir+"unknown_key.yaml")
	want := testdataDir + `unknown_key.yaml:7:5: unknown key "batchsize" (did you mean "batch"?)` + "\n"
	if stderr != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
	if exitCode(err) != 1 {
		t.Errorf("exit code %d (%v), want 1", exitCode(err), err)
	}
}

func TestValidateThreeProblems(t *testing.T) {
	_, stderr, err := runCmd(t, newValidateCmd(), testdataDir+"three_problems.yaml")
	if n := strings.Count(stderr, "three_problems.yaml:"); n != 3 {
		t.Errorf("%d diagnostics, want 3:\n%s", n, stderr)
	}
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "3 problems") {
		t.Errorf("err = %v", err)
	}
}

func TestValidateOKAndSet(t *testing.T) {
	stdout, stderr, err := runCmd(t, newValidateCmd(), "../../pipelines/mixed-demo.yaml")
	if err != nil || stderr != "" || !strings.Contains(stdout, "ok (4 stages, 1 sinks)") {
		t.Errorf("valid pipeline: err=%v stderr=%q stdout=%q", err, stderr, stdout)
	}
	_, stderr, err = runCmd(t, newValidateCmd(), "--set", "stages.classify.batch.max=abc", "../../pipelines/mixed-demo.yaml")
	if exitCode(err) != 1 || stderr != "--set stages.classify.batch.max=abc: batch.max: expected an integer, got \"abc\"\n" {
		t.Errorf("bad --set: err=%v stderr=%q", err, stderr)
	}
}

func TestGraphCommand(t *testing.T) {
	stdout, _, err := runCmd(t, newGraphCmd(), "--format", "mermaid", "../../pipelines/mixed-demo.yaml")
	if err != nil || !strings.HasPrefix(stdout, "flowchart LR\n") {
		t.Fatalf("mermaid: %v\n%s", err, stdout)
	}
	stdout, _, err = runCmd(t, newGraphCmd(), "../../core/pipeline/testdata/graph/branching.yaml")
	if err != nil || !strings.HasPrefix(stdout, "digraph ") {
		t.Fatalf("dot: %v\n%s", err, stdout)
	}
	if dot, lerr := exec.LookPath("dot"); lerr == nil {
		c := exec.Command(dot, "-Tsvg")
		c.Stdin = strings.NewReader(stdout)
		var stderr bytes.Buffer
		c.Stderr = &stderr
		if err := c.Run(); err != nil || stderr.Len() > 0 {
			t.Errorf("dot -Tsvg: %v %s", err, stderr.String())
		}
	}
	if _, _, err := runCmd(t, newGraphCmd(), "--format", "png", "../../pipelines/mixed-demo.yaml"); err == nil {
		t.Error("--format png accepted")
	}
	if _, _, err := runCmd(t, newGraphCmd(), testdataDir+"cycle.yaml"); exitCode(err) != 1 {
		t.Errorf("graph of an invalid pipeline: %v", err)
	}
}
