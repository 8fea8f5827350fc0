package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plexusml/plexus/core/tensor"
)

// execute runs the root command in-process and returns stdout, stderr and the error.
func execute(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	rootCmd.SetOut(&out)
	rootCmd.SetErr(&errb)
	rootCmd.SetArgs(args)
	defer func() {
		rootCmd.SetOut(nil)
		rootCmd.SetErr(nil)
		rootCmd.SetArgs(nil)
	}()
	err := rootCmd.Execute()
	return out.String(), errb.String(), err
}

var visionTestdata = filepath.Join("..", "..", "vision")

func TestPredictRawMatchesTorchvision(t *testing.T) {
	dir := filepath.Join(visionTestdata, "resnet", "testdata")
	out, _, err := execute(t, "predict", "--raw", "--top", "5", "--max-pixels", "0", "--config", "", "--model", "resnet",
		"--weights", filepath.Join(dir, "resnet18_small.safetensors"), filepath.Join(dir, "resnet18_small.input.npy"))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Outputs map[string]struct {
			Shape []int     `json:"shape"`
			Data  []float32 `json:"data"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	want, err := tensor.LoadNpy(filepath.Join(dir, "resnet18_small.logits.npy"))
	if err != nil {
		t.Fatal(err)
	}
	l := got.Outputs["logits"]
	if len(l.Shape) != 2 || l.Shape[0] != 2 || l.Shape[1] != 7 {
		t.Fatalf("logits shape %v", l.Shape)
	}
	var d, m float64
	for i, w := range want.Float32s() {
		d = math.Max(d, math.Abs(float64(l.Data[i]-w)))
		m = math.Max(m, math.Abs(float64(w)))
	}
	if d/m > 1e-4 {
		t.Fatalf("rel err %.3e", d/m)
	}
}

func TestPredictBadImageFailsAlone(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "broken.png")
	os.WriteFile(bad, []byte("\x89PNG\r\n\x1a\nnot really"), 0o644)
	photo := filepath.Join(visionTestdata, "testdata", "gopher.jpeg")
	out, stderr, err := execute(t, "predict", "--raw=false", "--top", "2", "--max-pixels", "0", "--config", "", "--model", "resnet",
		"--weights", filepath.Join(visionTestdata, "resnet", "testdata", "resnet18_small.safetensors"), bad, photo)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("err = %v, want exit status 1", err)
	}
	if !strings.Contains(stderr, "broken.png") || !strings.Contains(stderr, "png") {
		t.Errorf("stderr does not name the bad file: %q", stderr)
	}
	if !strings.Contains(out, "gopher.jpeg:") || strings.Count(out, "%") != 2 {
		t.Errorf("stdout: %q", out)
	}
}

func TestTrainUnknownKind(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfg, []byte("kind: vision.yolo\n"), 0o644)
	_, _, err := execute(t, "train", cfg)
	if err == nil || !strings.Contains(err.Error(), "vision.resnet") || !strings.Contains(err.Error(), "c.yaml") {
		t.Fatalf("err = %v", err)
	}
}
