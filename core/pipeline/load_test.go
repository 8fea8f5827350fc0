package pipeline

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// caseOptions reads the test's overrides from its leading comments:
// "# set: KEY=VALUE" and "# env: NAME=VALUE". The environment is only what the file
// says, so the host's variables never leak into a golden result.
func caseOptions(t *testing.T, data []byte) LoadOptions {
	t.Helper()
	env := map[string]string{}
	var opts LoadOptions
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "#") {
			break
		}
		if v, ok := strings.CutPrefix(line, "# set: "); ok {
			opts.Sets = append(opts.Sets, v)
		}
		if v, ok := strings.CutPrefix(line, "# env: "); ok {
			k, val, _ := strings.Cut(v, "=")
			env[k] = val
		}
	}
	opts.Getenv = func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	return opts
}

// render is what a golden file holds: the diagnostics, one a line, or for a valid
// pipeline "ok", its hash-independent JSON (defaults included) and its stage order.
func render(t *testing.T, p *Pipeline, err error) string {
	t.Helper()
	if err != nil {
		var ds Diagnostics
		if !errors.As(err, &ds) {
			t.Fatalf("error is %T, want Diagnostics: %v", err, err)
		}
		return ds.Error() + "\n"
	}
	b, jerr := json.MarshalIndent(p, "", "  ")
	if jerr != nil {
		t.Fatal(jerr)
	}
	var names []string
	for _, i := range p.TopoOrder() {
		names = append(names, p.Stages[i].Name)
	}
	return "ok\norder: " + strings.Join(names, ", ") + "\n" + string(b) + "\n"
}

func TestValidateGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/validate/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 30 {
		t.Fatalf("found %d cases in testdata/validate, want the full suite", len(files))
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Parse(file, data, caseOptions(t, data))
			got := render(t, p, err)
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("missing golden file (run go test -update): %v", err)
			}
			if got != string(want) {
				t.Errorf("diagnostics differ from %s:\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}

// TestMustShow pins the two behaviours the issue names, independent of golden files.
func TestMustShow(t *testing.T) {
	_, err := Load("testdata/validate/unknown_key.yaml", LoadOptions{Getenv: noEnv})
	want := `testdata/validate/unknown_key.yaml:7:5: unknown key "batchsize" (did you mean "batch"?)`
	if err == nil || err.Error() != want {
		t.Errorf("unknown key: got %v, want %s", err, want)
	}
	_, err = Load("testdata/validate/three_problems.yaml", LoadOptions{Getenv: noEnv})
	var ds Diagnostics
	if !errors.As(err, &ds) || len(ds) != 3 {
		t.Fatalf("three problems: got %v", err)
	}
	for i := 1; i < len(ds); i++ {
		if ds[i-1].Line > ds[i].Line {
			t.Errorf("diagnostics not sorted: %v", ds)
		}
	}
}

func noEnv(string) (string, bool) { return "", false }

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/does-not-exist.yaml", LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "does-not-exist.yaml") {
		t.Fatalf("got %v, want an error naming the file", err)
	}
}

// TestShippedPipelines keeps every example under pipelines/ valid.
func TestShippedPipelines(t *testing.T) {
	files, _ := filepath.Glob("../../pipelines/*.yaml")
	if len(files) == 0 {
		t.Fatal("no pipelines found under pipelines/")
	}
	for _, f := range files {
		if _, err := Load(f, LoadOptions{Getenv: noEnv}); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestSetOverridesAndHash(t *testing.T) {
	data := []byte("version: 1\nsource: {path: d}\nstages:\n  - {name: a, plugin: v, batch: {max: 2}}\nsinks: [{jsonl: o.jsonl}]\n")
	p1, err := Parse("x.yaml", data, LoadOptions{Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := Parse("x.yaml", data, LoadOptions{Getenv: noEnv, Sets: []string{"stages.a.batch.max=8"}})
	if err != nil {
		t.Fatal(err)
	}
	if p2.Stages[0].Batch.Max != 8 {
		t.Errorf("batch.max = %d after --set, want 8", p2.Stages[0].Batch.Max)
	}
	if p1.Name != "x" {
		t.Errorf("name defaults to %q, want the file stem x", p1.Name)
	}
	if p1.Hash() == p2.Hash() {
		t.Error("hash did not change with the effective config")
	}
	p3, _ := Parse("x.yaml", data, LoadOptions{Getenv: noEnv})
	if p1.Hash() != p3.Hash() || len(p1.Hash()) != 64 {
		t.Errorf("hash not stable: %s vs %s", p1.Hash(), p3.Hash())
	}
}

func TestDepsAndTopoOrder(t *testing.T) {
	// Stages listed out of order: the order must follow after:, input: and when:.
	p := &Pipeline{Stages: []Stage{
		{Name: "sink-prep", After: []string{"lm"}},
		{Name: "lm", Input: []string{"asr.text", "text"}},
		{Name: "asr"},
		{Name: "tag", When: `lm.score > 0.5`},
		{Name: "free"},
	}}
	if got := p.Deps(1); len(got) != 1 || got[0] != 2 {
		t.Errorf("Deps(lm) = %v, want [2]", got)
	}
	if got := p.Deps(3); len(got) != 1 || got[0] != 1 {
		t.Errorf("Deps(tag) = %v, want [1] (from when:)", got)
	}
	got := p.TopoOrder()
	want := []int{2, 1, 0, 3, 4}
	if len(got) != len(want) {
		t.Fatalf("TopoOrder = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("TopoOrder = %v, want %v", got, want)
		}
	}
	// A cycle built in code still yields every stage once.
	c := &Pipeline{Stages: []Stage{{Name: "a", After: []string{"b"}}, {Name: "b", After: []string{"a"}}, {Name: "c"}}}
	if got := c.TopoOrder(); len(got) != 3 || got[0] != 2 {
		t.Errorf("TopoOrder with a cycle = %v, want [2 0 1]", got)
	}
}

func TestPipelineAt(t *testing.T) {
	// A copy of pipelines/mixed-demo.yaml, so that editing the shipped file does not move
	// the lines this test points at.
	p, err := Load("testdata/at/mixed.yaml", LoadOptions{Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	// Stage 3 (continue) writes config: {max_tokens: 80, ...} on line 35.
	d := p.At("stages.3.config.max_tokens", "max_tokens: %d is above the model's limit", 80)
	if got := d.String(); got != "testdata/at/mixed.yaml:35:26: max_tokens: 80 is above the model's limit" {
		t.Errorf("At = %s", got)
	}
	if d := p.At("stages.3.config.top_k", "x"); d.Line != 35 || d.Col != 13 { // not written: its parent
		t.Errorf("At(unwritten key) = %s, want 35:13", d)
	}
	if d := p.At("stages.continue.config.max_tokens", "x"); d.Line != 35 || d.Col != 26 {
		t.Errorf("At by stage name = %s, want 35:26", d)
	}
	if d := p.At("stages.classify", "x"); d.Line != 14 {
		t.Errorf("At(stages.classify) = %s, want line 14", d)
	}
	if d := (&Pipeline{File: "mem"}).At("stages.0", "m"); d.String() != "mem: m" {
		t.Errorf("At on an in-memory spec = %s", d)
	}
}
