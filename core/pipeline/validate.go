package pipeline

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/plexusml/plexus/core/pipeline/strict"
)

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

// Allowed values, listed once so messages and checks cannot drift apart.
var (
	policies     = []string{"fail-fast", "skip", "retry", "dead-letter"}
	devices      = []string{"any", "cpu", "gpu"}
	buckets      = []string{"length", "duration", "size"}
	tensorModes  = []string{"summary", "files", "inline"}
	resultOrders = []string{"input", "any"}
)

// validator fills defaults and checks every rule the decoder cannot, with positions
// taken from the index of the same document.
type validator struct {
	doc *strict.Doc
	ix  strict.Index
	p   *Pipeline
	ds  Diagnostics
}

// node returns the value node at path or, when the path was not written, at its
// nearest written parent (a missing key is reported where it belongs).
func (v *validator) node(path string) *yaml.Node {
	for {
		if n := v.ix.Value[path]; n != nil {
			return n
		}
		i := strings.LastIndexByte(path, '.')
		if i < 0 {
			return v.doc.Root
		}
		path = path[:i]
	}
}

func (v *validator) errf(path, format string, args ...any) {
	v.ds = append(v.ds, v.doc.At(v.node(path), format, args...))
}

// errKey points at the key of path (for "remove this key" problems).
func (v *validator) errKey(path, format string, args ...any) {
	n := v.ix.Key[path]
	if n == nil {
		n = v.node(path)
	}
	v.ds = append(v.ds, v.doc.At(n, format, args...))
}

func oneOf(s string, allowed []string) string {
	return fmt.Sprintf("%q is not one of %s%s", s, strings.Join(allowed, ", "), strict.DidYouMean(s, allowed))
}

func (v *validator) run() {
	p := v.p
	switch {
	case !v.ix.Has("version"):
		v.errf("", "missing version: write \"version: 1\" at the top")
	case v.ix.OK("version") && p.Version != 1:
		v.errf("version", "unsupported version %d: this plexus reads version 1", p.Version)
	}
	if p.Name == "" && !v.ix.Has("name") {
		p.Name = strings.TrimSuffix(filepath.Base(p.File), filepath.Ext(p.File))
	}
	if strings.TrimSpace(p.Name) == "" && !v.ix.Bad["name"] {
		v.errf("name", "the pipeline name is empty")
	}
	if p.Source.Path == "" && !v.ix.Bad["source.path"] {
		if v.ix.Has("source.path") {
			v.errf("source.path", "source.path is empty")
		} else {
			v.errf("source", "missing source.path: a directory, a .jsonl or a .csv manifest")
		}
	}
	if p.Source.Limits.Pixels < 0 {
		v.errf("source.limits.pixels", "source.limits.pixels must not be negative")
	}
	if p.Order == "" {
		p.Order = "input"
	} else if !slices.Contains(resultOrders, p.Order) {
		v.errf("order", "order: %s", oneOf(p.Order, resultOrders))
	}

	p.Errors = v.policy("errors", p.Errors, ErrorPolicy{Policy: "fail-fast"})
	v.stages()
	v.sinks()
	v.cycles()
}

// policy checks an error policy at path and fills what it leaves unset from def.
func (v *validator) policy(path string, e ErrorPolicy, def ErrorPolicy) ErrorPolicy {
	if e.Policy == "" {
		e.Policy = def.Policy
	} else if !slices.Contains(policies, e.Policy) {
		v.errf(path+".policy", "errors.policy: %s", oneOf(e.Policy, policies))
	}
	if e.Path == "" && !v.ix.Has(path+".path") {
		e.Path = def.Path
	}
	if !v.ix.Has(path + ".retries") {
		e.Retries = def.Retries
	}
	if e.Policy == "dead-letter" && e.Path == "" && !v.ix.Bad[path+".path"] {
		v.errf(path, "errors.policy dead-letter needs errors.path, the file failed items are written to")
	}
	if e.Retries < 0 {
		v.errf(path+".retries", "errors.retries must not be negative")
	}
	return e
}

func (v *validator) stages() {
	p := v.p
	if len(p.Stages) == 0 && !v.ix.Bad["stages"] {
		v.errf("stages", "no stages: a pipeline needs at least one")
	}
	firstAt := map[string]string{} // name -> path of its first definition
	names := make([]string, 0, len(p.Stages))
	for i := range p.Stages {
		names = append(names, p.Stages[i].Name)
	}
	byName := p.stageIndex()
	for i := range p.Stages {
		s := &p.Stages[i]
		at := fmt.Sprintf("stages.%d", i)
		label := fmt.Sprintf("stage %d", i+1)
		if n := v.ix.Value[at]; n != nil && n.Kind != yaml.MappingNode && n.Kind != yaml.AliasNode && n.ShortTag() != "!!null" {
			continue // "expected a mapping" is already reported; nothing else can be said
		}
		switch {
		case s.Name == "" && !v.ix.Has(at+".name"):
			v.errf(at, "%s has no name", label)
		case s.Name == "" && v.ix.Bad[at+".name"]:
		case !nameRE.MatchString(s.Name):
			v.errf(at+".name", "invalid stage name %q: use lower-case letters, digits, \"_\" and \"-\", starting with a letter", s.Name)
		default:
			if first, dup := firstAt[s.Name]; dup {
				_, line, _ := v.doc.Pos(v.node(first))
				v.errf(at+".name", "duplicate stage name %q (first defined on line %d)", s.Name, line)
			} else {
				firstAt[s.Name] = at + ".name"
			}
		}
		if s.Name != "" {
			label = fmt.Sprintf("stage %q", s.Name)
		}
		switch {
		case s.Plugin != "" && s.Builtin != "":
			v.errKey(at+".builtin", "%s sets both plugin and builtin; keep one", label)
		case s.Plugin == "" && s.Builtin == "" && !v.ix.Bad[at+".plugin"] && !v.ix.Bad[at+".builtin"] &&
			!v.ix.Meant(at, "plugin") && !v.ix.Meant(at, "builtin"):
			v.errf(at, "%s needs plugin: (a model plugin) or builtin: (an in-process stage)", label)
		case s.Builtin != "":
			if s.Model != "" {
				v.errKey(at+".model", "%s is a builtin and takes no model", label)
			}
			if s.Weights != "" {
				v.errKey(at+".weights", "%s is a builtin and takes no weights", label)
			}
		}
		if s.When != "" {
			cond, err := ParseWhen(s.When)
			var we *WhenError
			if errors.As(err, &we) {
				v.ds = append(v.ds, v.doc.AtOffset(v.node(at+".when"), we.Col-1, "when: %s", we.Msg))
			} else {
				s.Cond = cond
			}
		}
		for j, in := range s.Input {
			pre, field, dotted := strings.Cut(in, ".")
			switch {
			case strings.TrimSpace(in) == "":
				v.errf(fmt.Sprintf("%s.input.%d", at, j), "input: empty field name")
			case dotted && (pre == "" || field == ""):
				v.errf(fmt.Sprintf("%s.input.%d", at, j), "input %q: write STAGE.field or a bare item field", in)
			}
		}
		v.batch(at+".batch", &s.Batch)
		v.resources(at+".resources", &s.Resources)
		if s.Errors != nil {
			e := v.policy(at+".errors", *s.Errors, p.Errors)
			s.Errors = &e
		}
		seenAfter := map[string]bool{}
		for _, r := range p.refs(i, byName) {
			rp := at + "." + r.path
			switch {
			case r.stage < 0:
				msg := fmt.Sprintf("unknown stage %q%s", r.name, strict.DidYouMean(r.name, names))
				switch {
				case r.order:
					v.errf(rp, "after: %s", msg)
				case r.path == "when":
					v.ds = append(v.ds, v.doc.AtOffset(v.node(rp), r.off, "when: %q reads %s", r.text, msg))
				default:
					v.errf(rp, "input %q: %s", r.text, msg)
				}
			case r.stage == i:
				what := map[bool]string{true: "cannot run after itself", false: "cannot read its own output " + fmt.Sprintf("%q", r.text)}[r.order]
				if r.path == "when" {
					v.ds = append(v.ds, v.doc.AtOffset(v.node(rp), r.off, "when: %s %s", label, what))
				} else {
					v.errf(rp, "%s %s", label, what)
				}
			case r.order && seenAfter[r.name]:
				v.errf(rp, "after: %q is listed twice", r.name)
			}
			if r.order {
				seenAfter[r.name] = true
			}
		}
	}
}

func (v *validator) batch(at string, b *Batch) {
	switch {
	case !v.ix.Has(at + ".max"):
		b.Max, b.Auto = 1, true
	case v.ix.OK(at+".max") && b.Max < 1:
		v.errf(at+".max", "batch.max must be at least 1, got %d", b.Max)
	}
	if b.Bucket != "" && !slices.Contains(buckets, b.Bucket) {
		v.errf(at+".bucket", "batch.bucket: %s", oneOf(b.Bucket, buckets))
	}
	for j, n := range b.Preferred {
		pp := fmt.Sprintf("%s.preferred.%d", at, j)
		switch {
		case n < 1 || n > b.Max && b.Max >= 1 && !b.Auto:
			v.errf(pp, "batch.preferred: %d is outside 1..batch.max (%d)", n, b.Max)
		case j > 0 && n <= b.Preferred[j-1]:
			v.errf(pp, "batch.preferred must be in increasing order")
		}
	}
}

func (v *validator) resources(at string, r *Resources) {
	if r.Device == "" {
		r.Device = "any"
	} else if !slices.Contains(devices, r.Device) {
		v.errf(at+".device", "resources.device: %s", oneOf(r.Device, devices))
	}
	ip := at + ".instances"
	switch n := v.ix.Value[ip]; {
	case n == nil:
		r.Instances = Instances{Min: 1, Max: 1}
	case v.ix.Bad[ip]:
	default:
		if n.Kind == yaml.MappingNode {
			hasMin, hasMax := v.ix.Has(ip+".min"), v.ix.Has(ip+".max")
			if !hasMin {
				r.Instances.Min = 1
			}
			if !hasMax {
				r.Instances.Max = max(r.Instances.Min, 1)
			}
		}
		switch {
		case r.Instances.Min < 1:
			v.errf(ip, "resources.instances.min must be at least 1, got %d", r.Instances.Min)
		case r.Instances.Max < r.Instances.Min:
			v.errf(ip, "resources.instances: max (%d) is below min (%d)", r.Instances.Max, r.Instances.Min)
		}
	}
	switch {
	case !v.ix.Has(at + ".weight"):
		r.Weight = 1
	case v.ix.OK(at+".weight") && r.Weight < 1:
		v.errf(at+".weight", "resources.weight must be at least 1, got %d", r.Weight)
	}
}

func (v *validator) sinks() {
	p := v.p
	if len(p.Sinks) == 0 && !v.ix.Bad["sinks"] {
		v.errf("sinks", "no sinks: add one, such as \"sinks: [{jsonl: out/results.jsonl}]\"")
	}
	byName := p.stageIndex()
	names := make([]string, 0, len(p.Stages))
	for _, s := range p.Stages {
		names = append(names, s.Name)
	}
	for k := range p.Sinks {
		sk := &p.Sinks[k]
		at := fmt.Sprintf("sinks.%d", k)
		switch {
		case sk.JSONL != "" && sk.Files != "":
			v.errKey(at+".files", "a sink writes jsonl or files, not both; use two sinks")
		case sk.JSONL == "" && sk.Files == "" && !v.ix.Bad[at+".jsonl"] && !v.ix.Bad[at+".files"]:
			v.errf(at, "a sink needs jsonl: FILE or files: DIR")
		}
		if sk.Tensors == "" {
			sk.Tensors = "summary"
		} else if !slices.Contains(tensorModes, sk.Tensors) {
			v.errf(at+".tensors", "tensors: %s", oneOf(sk.Tensors, tensorModes))
		}
		for j, f := range sk.From {
			if lookupStage(byName, f) < 0 {
				v.errf(fmt.Sprintf("%s.from.%d", at, j), "from: unknown stage %q%s", f, strict.DidYouMean(f, names))
			}
		}
	}
}

// cycles reports each dependency cycle once, at the reference that closes it as seen
// from its last stage in file order, and names the whole loop.
func (v *validator) cycles() {
	p := v.p
	n := len(p.Stages)
	byName := p.stageIndex()
	adj := make([][]stageRef, n)
	for i := range n {
		for _, r := range p.refs(i, byName) {
			if r.stage >= 0 && r.stage != i {
				adj[i] = append(adj[i], r)
			}
		}
	}
	// Tarjan's strongly connected components; recursion depth is at most the number
	// of stages.
	index, low := make([]int, n), make([]int, n)
	onStack := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int
	next := 0
	var sccs [][]int
	var strong func(u int)
	strong = func(u int) {
		index[u], low[u] = next, next
		next++
		stack = append(stack, u)
		onStack[u] = true
		for _, r := range adj[u] {
			w := r.stage
			if index[w] < 0 {
				strong(w)
				low[u] = min(low[u], low[w])
			} else if onStack[w] {
				low[u] = min(low[u], index[w])
			}
		}
		if low[u] == index[u] {
			var comp []int
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				comp = append(comp, w)
				if w == u {
					break
				}
			}
			if len(comp) > 1 {
				sccs = append(sccs, comp)
			}
		}
	}
	for i := range n {
		if index[i] < 0 {
			strong(i)
		}
	}
	for _, comp := range sccs {
		in := map[int]bool{}
		for _, c := range comp {
			in[c] = true
		}
		start := slices.Max(comp)
		// Breadth-first along "waits for" edges from start back to start gives the
		// shortest loop, the one worth printing; its first edge is the reference in
		// start that closes the loop.
		parent := map[int]int{start: -1}
		firstEdge := map[int]stageRef{}
		queue := []int{start}
		last := -1
		for len(queue) > 0 && last < 0 {
			u := queue[0]
			queue = queue[1:]
			for _, r := range adj[u] {
				if !in[r.stage] {
					continue
				}
				fe := firstEdge[u]
				if u == start {
					fe = r
				}
				if r.stage == start {
					last = u
					firstEdge[start] = fe
					break
				}
				if _, seen := parent[r.stage]; !seen {
					parent[r.stage], firstEdge[r.stage] = u, fe
					queue = append(queue, r.stage)
				}
			}
		}
		// The loop in data-flow order (as the graph draws it): each stage feeds the next.
		loop := []string{p.Stages[start].Name}
		for u := last; u != start && u >= 0; u = parent[u] {
			loop = append(loop, p.Stages[u].Name)
		}
		loop = append(loop, p.Stages[start].Name)
		first := firstEdge[start]
		rp := fmt.Sprintf("stages.%d.%s", start, first.path)
		msg := fmt.Sprintf("dependency cycle: %s", strings.Join(loop, " -> "))
		if first.path == "when" {
			v.ds = append(v.ds, v.doc.AtOffset(v.node(rp), first.off, "%s", msg))
		} else {
			v.errf(rp, "%s", msg)
		}
	}
}
