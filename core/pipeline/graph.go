package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// stageRef is one place where a stage names another: an after: entry, an input: entry
// with a STAGE. prefix, or a STAGE.field read by its when: expression.
type stageRef struct {
	stage int    // index of the named stage, -1 when no stage has that name
	name  string // the stage name as written
	path  string // where, relative to the stage: "after.0", "input.1", "when"
	off   int    // 0-based character offset inside the when: expression
	text  string // the whole entry, for messages
	order bool   // after: (ordering only) rather than a data dependency
}

func (p *Pipeline) stageIndex() map[string]int {
	m := make(map[string]int, len(p.Stages))
	for i, s := range p.Stages {
		if _, dup := m[s.Name]; !dup {
			m[s.Name] = i
		}
	}
	return m
}

func lookupStage(byName map[string]int, name string) int {
	if i, ok := byName[name]; ok {
		return i
	}
	return -1
}

// refs lists the references stage i makes to other stages, in file order.
func (p *Pipeline) refs(i int, byName map[string]int) []stageRef {
	s := &p.Stages[i]
	var out []stageRef
	for j, a := range s.After {
		out = append(out, stageRef{stage: lookupStage(byName, a), name: a, path: fmt.Sprintf("after.%d", j), text: a, order: true})
	}
	for j, in := range s.Input {
		if pre, field, ok := strings.Cut(in, "."); ok && pre != "" && field != "" {
			out = append(out, stageRef{stage: lookupStage(byName, pre), name: pre, path: fmt.Sprintf("input.%d", j), text: in})
		}
	}
	cond := s.Cond
	if cond == nil && s.When != "" {
		cond, _ = ParseWhen(s.When) // an in-memory spec; a bad expression has no refs
	}
	for _, f := range cond.fieldRefs() {
		if pre, field, ok := strings.Cut(f.name, "."); ok && pre != "" && field != "" {
			out = append(out, stageRef{stage: lookupStage(byName, pre), name: pre, path: "when", off: f.col - 1, text: f.name})
		}
	}
	return out
}

// Deps returns the stages stage i waits for: those its after: names, those whose
// fields its input: reads, and those whose fields its when: tests. Sorted, no repeats.
func (p *Pipeline) Deps(i int) []int {
	var out []int
	for _, r := range p.refs(i, p.stageIndex()) {
		if r.stage >= 0 && r.stage != i {
			out = append(out, r.stage)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TopoOrder returns stage indices so that every stage comes after its Deps; among
// stages that are ready together, file order wins, so the order is stable. A validated
// pipeline has no cycles; for one built in code with a cycle, the stages on it come
// last, in file order.
func (p *Pipeline) TopoOrder() []int {
	n := len(p.Stages)
	indeg := make([]int, n)
	users := make([][]int, n)
	for i := range n {
		for _, d := range p.Deps(i) {
			indeg[i]++
			users[d] = append(users[d], i)
		}
	}
	done := make([]bool, n)
	out := make([]int, 0, n)
	for len(out) < n {
		next := -1
		for i := range n {
			if !done[i] && indeg[i] == 0 {
				next = i
				break
			}
		}
		if next < 0 {
			for i := range n {
				if !done[i] {
					out = append(out, i)
				}
			}
			break
		}
		done[next] = true
		out = append(out, next)
		for _, u := range users[next] {
			indeg[u]--
		}
	}
	return out
}

// Hash is the sha256 (hex) of the effective pipeline after overrides, interpolation and
// defaults, so the run ledger can tell whether a resumed run is the same run.
func (p *Pipeline) Hash() string {
	b, err := json.Marshal(p)
	if err != nil {
		// Only a non-JSON value in a stage's config can get here (the loader never makes
		// one); hash its printed form instead so Hash stays total.
		b = fmt.Appendf(nil, "%#v", p)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// graphNode is one box of the drawing; both renderers share the layout decisions.
type graphNode struct {
	id    string
	lines []string
	shape string // "source", "stage", "sink"
}

type graphEdge struct {
	from, to string
	dashed   bool // a data or when: dependency that after: does not state
}

func (p *Pipeline) graph() ([]graphNode, []graphEdge) {
	var nodes []graphNode
	var edges []graphEdge
	src := []string{"source"}
	if p.Source.Path != "" {
		src = append(src, p.Source.Path)
	}
	nodes = append(nodes, graphNode{id: "source", lines: src, shape: "source"})
	byName := p.stageIndex()
	used := make([]bool, len(p.Stages))
	for i, s := range p.Stages {
		lines := []string{s.Name}
		switch {
		case s.Builtin != "":
			lines = append(lines, "builtin "+s.Builtin)
		case s.Model != "":
			lines = append(lines, s.Plugin+" / "+s.Model)
		default:
			lines = append(lines, s.Plugin)
		}
		if s.Task != "" {
			lines = append(lines, "task: "+s.Task)
		}
		if s.When != "" {
			lines = append(lines, "when: "+s.When)
		}
		nodes = append(nodes, graphNode{id: fmt.Sprintf("s%d", i), lines: lines, shape: "stage"})
		deps := p.Deps(i)
		if len(deps) == 0 {
			edges = append(edges, graphEdge{from: "source", to: fmt.Sprintf("s%d", i)})
		}
		ordered := map[int]bool{}
		for _, r := range p.refs(i, byName) {
			if r.order && r.stage >= 0 {
				ordered[r.stage] = true
			}
		}
		for _, d := range deps {
			used[d] = true
			edges = append(edges, graphEdge{from: fmt.Sprintf("s%d", d), to: fmt.Sprintf("s%d", i), dashed: !ordered[d]})
		}
	}
	for k, sk := range p.Sinks {
		var lines []string
		switch {
		case sk.JSONL != "":
			lines = []string{"jsonl", sk.JSONL}
		case sk.Files != "":
			lines = []string{"files", sk.Files}
		default:
			lines = []string{"sink"}
		}
		id := fmt.Sprintf("k%d", k)
		nodes = append(nodes, graphNode{id: id, lines: lines, shape: "sink"})
		var from []int
		if len(sk.From) > 0 {
			for _, f := range sk.From {
				if i := lookupStage(byName, f); i >= 0 {
					from = append(from, i)
				}
			}
		} else {
			for i := range p.Stages {
				if !used[i] {
					from = append(from, i)
				}
			}
		}
		if len(p.Stages) == 0 {
			edges = append(edges, graphEdge{from: "source", to: id})
		}
		for _, i := range from {
			edges = append(edges, graphEdge{from: fmt.Sprintf("s%d", i), to: id})
		}
	}
	return nodes, edges
}

// DOT renders the pipeline as a Graphviz digraph: the source, every stage (with its
// plugin or builtin, task and when:), the sinks. Solid edges are after: ordering,
// dashed ones are dependencies implied by input: or when:.
func (p *Pipeline) DOT() string {
	nodes, edges := p.graph()
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %s {\n", dotQuote(p.Name))
	b.WriteString("  rankdir=LR;\n")
	b.WriteString("  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n")
	for _, n := range nodes {
		shape := ""
		switch n.shape {
		case "source":
			shape = ", shape=cylinder"
		case "sink":
			shape = ", shape=folder"
		}
		fmt.Fprintf(&b, "  %s [label=%s%s];\n", dotQuote(n.id), dotQuote(strings.Join(n.lines, "\n")), shape)
	}
	for _, e := range edges {
		style := ""
		if e.dashed {
			style = " [style=dashed]"
		}
		fmt.Fprintf(&b, "  %s -> %s%s;\n", dotQuote(e.from), dotQuote(e.to), style)
	}
	b.WriteString("}\n")
	return b.String()
}

// dotQuote writes a DOT double-quoted string; newlines become DOT's centred line break.
func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", "")
	return `"` + r.Replace(s) + `"`
}

// Mermaid renders the same drawing as DOT as a Mermaid flowchart.
func (p *Pipeline) Mermaid() string {
	nodes, edges := p.graph()
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	for _, n := range nodes {
		lines := make([]string, len(n.lines))
		for i, l := range n.lines {
			lines[i] = mermaidEscape(l)
		}
		label := `"` + strings.Join(lines, "<br/>") + `"`
		switch n.shape {
		case "source":
			fmt.Fprintf(&b, "  %s[(%s)]\n", n.id, label)
		case "sink":
			fmt.Fprintf(&b, "  %s[/%s/]\n", n.id, label)
		default:
			fmt.Fprintf(&b, "  %s(%s)\n", n.id, label)
		}
	}
	for _, e := range edges {
		arrow := "-->"
		if e.dashed {
			arrow = "-.->"
		}
		fmt.Fprintf(&b, "  %s %s %s\n", e.from, arrow, e.to)
	}
	return b.String()
}

// mermaidEscape uses Mermaid's entity codes, the only escape its quoted labels accept.
func mermaidEscape(s string) string {
	return strings.NewReplacer("&", "#amp;", `"`, "#quot;", "<", "#lt;", ">", "#gt;", "\n", " ").Replace(s)
}
