package strict

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Doc is a parsed YAML file whose nodes still carry their positions. Overrides applied
// with Set are recorded as their own origin, so a problem in an override points at the
// flag or variable that caused it instead of at a line it never had.
type Doc struct {
	File   string
	Root   *yaml.Node // always a mapping node
	origin map[*yaml.Node]string
}

// ParseDoc parses data as one YAML document whose top level is a mapping. An empty file
// is an empty mapping, so the schema checks report what is missing.
func ParseDoc(file string, data []byte) (*Doc, Diagnostics) {
	d := &Doc{File: file, origin: map[*yaml.Node]string{}}
	var top yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&top); err != nil && !errors.Is(err, io.EOF) {
		return nil, Diagnostics{yamlErrorDiag(file, err)}
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, Diagnostics{yamlErrorDiag(file, err)}
	default:
		return nil, Diagnostics{{File: file, Line: max(next.Line, 1), Col: 1,
			Msg: "a second YAML document (after ---): a file holds one"}}
	}
	root := &top
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	switch {
	case root.Kind == 0 || root.Kind == yaml.DocumentNode || (root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null"):
		d.Root = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: 1, Column: 1}
	case root.Kind == yaml.MappingNode:
		d.Root = root
	default:
		return nil, Diagnostics{{File: file, Line: max(root.Line, 1), Col: max(root.Column, 1),
			Msg: "expected a mapping of keys at the top level, got " + describe(root)}}
	}
	return d, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlErrorDiag turns a yaml.v3 syntax error, which carries only a line, into a
// diagnostic; the column is 1 because the parser does not expose one.
func yamlErrorDiag(file string, err error) Diagnostic {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Diagnostic{File: file, Line: line, Col: 1, Msg: "invalid YAML: " + m[2]}
	}
	return Diagnostic{File: file, Line: 1, Col: 1, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

// Pos says where n came from: the file position, or an override's text with line 0.
func (d *Doc) Pos(n *yaml.Node) (file string, line, col int) {
	if o, ok := d.origin[n]; ok {
		return o, 0, 0
	}
	if n == nil || n.Line == 0 {
		return d.File, 1, 1
	}
	return d.File, n.Line, n.Column
}

// At builds a diagnostic at node n.
func (d *Doc) At(n *yaml.Node, format string, args ...any) Diagnostic {
	f, l, c := d.Pos(n)
	return Diagnostic{File: f, Line: l, Col: c, Msg: fmt.Sprintf(format, args...)}
}

// AtOffset builds a diagnostic at the off-th character (0-based) inside scalar n. The
// column is exact for plain and single-line quoted scalars, which is what keys and
// expressions are written as; for block scalars it falls back to the node's start.
func (d *Doc) AtOffset(n *yaml.Node, off int, format string, args ...any) Diagnostic {
	diag := d.At(n, format, args...)
	if diag.Line == 0 || n == nil || strings.Contains(n.Value, "\n") {
		return diag
	}
	switch n.Style {
	case 0, yaml.FlowStyle:
		diag.Col += off
	case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		diag.Col += off + 1
	}
	return diag
}

// Set applies an override "a.b.c" = value, where value is read as YAML (so "4" is an
// integer and "[a, b]" a list). In a list, a path segment picks the item whose listKey
// field equals it (stages by name), or an item by index. Every node the override adds
// is marked with origin. The returned string is a problem, or "".
func (d *Doc) Set(path, value, origin, listKey string) string {
	return d.SetNode(path, parseValue(value), origin, listKey)
}

// SetNode is Set with a value already built, for overrides that are not YAML text (an
// environment variable's plain string, a list flag).
func (d *Doc) SetNode(path string, val *yaml.Node, origin, listKey string) string {
	segs := strings.Split(path, ".")
	for _, s := range segs {
		if s == "" {
			return fmt.Sprintf("invalid key path %q", path)
		}
	}
	var mark func(*yaml.Node)
	mark = func(x *yaml.Node) {
		d.origin[x] = origin
		for _, c := range x.Content {
			mark(c)
		}
	}
	mark(val)
	cur := d.Root
	for i, seg := range segs {
		last := i == len(segs)-1
		cur = resolveAlias(cur)
		switch cur.Kind {
		case yaml.MappingNode:
			found := -1
			for k := 0; k+1 < len(cur.Content); k += 2 {
				if cur.Content[k].Value == seg {
					found = k // the last duplicate wins, as it does when decoding
				}
			}
			if found >= 0 {
				if last {
					cur.Content[found+1] = val
					return ""
				}
				cur = cur.Content[found+1]
				continue
			}
			key := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: seg}
			d.origin[key] = origin
			next := val
			if !last {
				next = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
				d.origin[next] = origin
			}
			cur.Content = append(cur.Content, key, next)
			cur = next
		case yaml.SequenceNode:
			idx := -1
			var names []string
			for k, item := range cur.Content {
				if v := mapValue(resolveAlias(item), listKey); v != nil {
					names = append(names, v.Value)
					if v.Value == seg {
						idx = k
					}
				}
			}
			if n, err := strconv.Atoi(seg); idx < 0 && err == nil && n >= 0 && n < len(cur.Content) {
				idx = n
			}
			if idx < 0 {
				return fmt.Sprintf("%s has no item named %q%s", strings.Join(segs[:i], "."), seg, DidYouMean(seg, names))
			}
			if last {
				cur.Content[idx] = val
				return ""
			}
			cur = cur.Content[idx]
		default:
			return fmt.Sprintf("%s is %s, not a mapping", strings.Join(segs[:i], "."), describe(cur))
		}
	}
	return ""
}

// PlainNode is a scalar written without quotes: "8" resolves to an integer, "info" to
// a string, exactly as if it had been typed in the file.
func PlainNode(value string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Value: value}
}

// StringsNode is a list of strings, for list-valued flags and variables.
func StringsNode(values []string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for _, v := range values {
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v})
	}
	return n
}

func parseValue(value string) *yaml.Node {
	var n yaml.Node
	if value != "" && yaml.Unmarshal([]byte(value), &n) == nil && n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		return n.Content[0]
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value}
}

func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for k := 0; k+1 < len(m.Content); k += 2 {
		if m.Content[k].Value == key {
			return m.Content[k+1]
		}
	}
	return nil
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// Interpolate replaces ${VAR} and ${VAR:-default} in every scalar value (never in keys)
// before decoding, so positions stay those of the file. "$$" is a literal "$". A plain
// scalar is re-typed after substitution, so `max: ${N:-4}` is an integer.
func (d *Doc) Interpolate(getenv func(string) (string, bool)) Diagnostics {
	var ds Diagnostics
	seen := map[*yaml.Node]bool{}
	var walk func(n *yaml.Node, isKey bool)
	walk = func(n *yaml.Node, isKey bool) {
		if n == nil || seen[n] {
			return
		}
		seen[n] = true
		switch n.Kind {
		case yaml.MappingNode:
			for k := 0; k+1 < len(n.Content); k += 2 {
				walk(n.Content[k+1], false)
			}
		case yaml.SequenceNode, yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, false)
			}
		case yaml.ScalarNode:
			if isKey || !strings.Contains(n.Value, "$") {
				return
			}
			out, probs := expand(n.Value, getenv)
			for _, p := range probs {
				ds = append(ds, d.AtOffset(n, p.off, "%s", p.msg))
			}
			if out != n.Value {
				n.Value = out
				if n.Style == 0 {
					n.Tag = "" // let yaml resolve the substituted text again
				}
			}
		}
	}
	walk(d.Root, false)
	return ds
}

type expandProblem struct {
	off int // in characters from the scalar's start
	msg string
}

var varNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// expand substitutes variables in s; it is separate from the node walk so the grammar
// is tested on its own.
func expand(s string, getenv func(string) (string, bool)) (string, []expandProblem) {
	var b strings.Builder
	var probs []expandProblem
	for i := 0; i < len(s); {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			i++
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i += 2
			continue
		case '{':
		default:
			b.WriteByte('$')
			i++
			continue
		}
		off := utf8.RuneCountInString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			probs = append(probs, expandProblem{off, `unterminated "${" (write "$${" for a literal "${")`})
			b.WriteString(s[i:])
			break
		}
		body := s[i+2 : i+end]
		name, def, hasDef := strings.Cut(body, ":-")
		i += end + 1
		if !varNameRE.MatchString(name) {
			probs = append(probs, expandProblem{off, fmt.Sprintf("invalid variable reference \"${%s}\": want ${NAME} or ${NAME:-default}", body)})
			continue
		}
		v, ok := getenv(name)
		switch {
		case ok && (v != "" || !hasDef):
			b.WriteString(v)
		case hasDef:
			b.WriteString(def)
		default:
			probs = append(probs, expandProblem{off, fmt.Sprintf("variable %s is not set and has no default (write ${%s:-default})", name, name)})
		}
	}
	return b.String(), probs
}

// describe names a node's shape for "got ..." messages.
func describe(n *yaml.Node) string {
	n = resolveAlias(n)
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "nothing"
		}
		return strconv.Quote(n.Value)
	}
	return "nothing"
}
