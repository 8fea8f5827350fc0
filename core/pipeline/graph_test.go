package pipeline

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func loadBranching(t *testing.T) *Pipeline {
	t.Helper()
	p, err := Load("testdata/graph/branching.yaml", LoadOptions{Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("missing golden file (run go test -update): %v", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s:\n--- got\n%s--- want\n%s", path, got, want)
	}
}

func TestGraphGolden(t *testing.T) {
	p := loadBranching(t)
	checkGolden(t, "testdata/graph/branching.dot", p.DOT())
	checkGolden(t, "testdata/graph/branching.mmd", p.Mermaid())
}

// TestDOTRenders feeds the DOT of a branching pipeline to Graphviz; it is the only
// proof that the quoting is right. Without dot on PATH there is nothing to run.
func TestDOTRenders(t *testing.T) {
	dot, err := exec.LookPath("dot")
	if err != nil {
		t.Skip("graphviz dot is not on PATH")
	}
	shipped, _ := filepath.Glob("../../pipelines/*.yaml")
	for _, file := range append([]string{"testdata/graph/branching.yaml"}, shipped...) {
		p, err := Load(file, LoadOptions{Getenv: noEnv})
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(dot, "-Tsvg")
		cmd.Stdin = strings.NewReader(p.DOT())
		var out, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &stderr
		if err := cmd.Run(); err != nil || stderr.Len() > 0 {
			t.Fatalf("dot -Tsvg on %s: %v\n%s", file, err, stderr.String())
		}
		svg := out.String()
		for _, s := range p.Stages {
			if !strings.Contains(svg, s.Name) {
				t.Errorf("%s: rendered SVG lacks stage %q", file, s.Name)
			}
		}
		if n := strings.Count(svg, `class="edge"`); n != strings.Count(p.DOT(), "->") {
			t.Errorf("%s: SVG has %d edges, DOT has %d", file, n, strings.Count(p.DOT(), "->"))
		}
	}
}

func TestGraphEdges(t *testing.T) {
	p := loadBranching(t)
	dot := p.DOT()
	for _, want := range []string{
		`"source" -> "s0";`,           // thumbs has no deps
		`"source" -> "s2";`,           // transcribe has no deps
		`"s0" -> "s1";`,               // after: ordering is solid
		`"s1" -> "s3" [style=dashed]`, // input: data dependency is dashed
		`"s2" -> "s3" [style=dashed]`,
		`"s3" -> "s4";`,
		`"s4" -> "k0";`, // the leaf feeds the default sink
		`"s4" -> "k1";`, // from: [vocode]
		`digraph "branch \"demo\""`,
	} {
		if !strings.Contains(dot, want) {
			t.Errorf("DOT lacks %s:\n%s", want, dot)
		}
	}
	if strings.Contains(dot, `"s1" -> "k0"`) {
		t.Error("classify feeds summarize, so it is not a leaf and must not feed the sink directly")
	}
	mm := p.Mermaid()
	for _, want := range []string{"flowchart LR", "s1 -.-> s3", "s0 --> s1", "#lt;fr#gt;", "#quot;tensor#quot;"} {
		if !strings.Contains(mm, want) {
			t.Errorf("Mermaid lacks %s:\n%s", want, mm)
		}
	}
}
