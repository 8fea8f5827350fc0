package pipeline

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes (and one override) to the loader: it must never
// panic, must fail only with Diagnostics that carry a position, and anything it accepts
// must have a complete stage order and render as a graph.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/validate/*.yaml")
	files = append(files, "testdata/graph/branching.yaml", "../../pipelines/mixed-demo.yaml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, "stages.a.batch.max=4")
	}
	f.Add([]byte("a: &x [*x, *x]\n"), "")
	f.Add([]byte("version: 1\nstages: [{name: a, builtin: x, config: &c {k: *c}}]\n"), "x.y=[1, {a: b}]")
	env := func(k string) (string, bool) { return "v" + k, k != "UNSET" }
	f.Fuzz(func(t *testing.T, data []byte, set string) {
		p, err := Parse("fuzz.yaml", data, LoadOptions{Sets: []string{set}, Getenv: env})
		if err != nil {
			var ds Diagnostics
			if !errors.As(err, &ds) || len(ds) == 0 {
				t.Fatalf("error is not Diagnostics: %v", err)
			}
			for _, d := range ds {
				if d.File == "" || d.Msg == "" || (d.File == "fuzz.yaml" && (d.Line < 1 || d.Col < 1)) {
					t.Fatalf("diagnostic without a position or message: %#v", d)
				}
				if !strings.HasPrefix(d.File, "fuzz.yaml") && !strings.HasPrefix(d.File, "--set ") {
					t.Fatalf("diagnostic names an unknown origin: %#v", d)
				}
			}
			return
		}
		if got := len(p.TopoOrder()); got != len(p.Stages) {
			t.Fatalf("TopoOrder has %d stages, pipeline %d", got, len(p.Stages))
		}
		_ = p.DOT()
		_ = p.Mermaid()
		_ = p.Hash()
	})
}
