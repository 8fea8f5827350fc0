package strict

import (
	"encoding"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Index maps a key path to the nodes it was decoded from. Paths are dotted koanf keys
// with list items by position ("stages.2.batch.max"), which stays unambiguous even when
// two stages share a name.
type Index struct {
	Value map[string]*yaml.Node
	Key   map[string]*yaml.Node
	// Bad holds the paths whose value was rejected (and reported), so later checks
	// neither repeat the complaint nor judge the zero value left in its place.
	Bad map[string]bool
	// Unknown maps the path of each unknown key to the key it probably meant ("" when
	// none is close), so a check can stay quiet about a field that was only misspelt.
	Unknown map[string]string
}

// Node returns the value node at path, or nil.
func (ix Index) Node(path string) *yaml.Node { return ix.Value[path] }

// Has says whether the file (or an override) wrote path, even with a bad value; checks
// for a missing field use it so a wrongly typed field is not reported twice.
func (ix Index) Has(path string) bool { _, ok := ix.Value[path]; return ok }

// Meant says whether the mapping at path has an unknown key that is probably a
// misspelling of key.
func (ix Index) Meant(path, key string) bool {
	for p, s := range ix.Unknown {
		if s == key && strings.HasPrefix(p, path+".") && !strings.Contains(p[len(path)+1:], ".") {
			return true
		}
	}
	return false
}

// OK says whether path was written and decoded without a problem.
func (ix Index) OK(path string) bool { return ix.Has(path) && !ix.Bad[path] }

// maxDepth bounds nesting so hostile input (deep flow sequences) cannot exhaust the stack.
const maxDepth = 64

// maxNodes bounds the work of one decode: aliases may repeat a subtree many times
// ("billion laughs"), and expansion happens here, not in the YAML parser.
const maxNodes = 100_000

type decoder struct {
	doc   *Doc
	diags Diagnostics
	ix    Index
	nodes int
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// Decode checks the document against the struct type t (fields named by `koanf` tags)
// and returns a plain map holding only known keys with values of the right kinds, ready
// for koanf and mapstructure, plus the position index and every problem found.
//
// Rules: a null value counts as absent; a type whose pointer implements
// encoding.TextUnmarshaler takes a scalar through UnmarshalText (its error becomes the
// diagnostic) and, if it is a struct, may also be written as a mapping; a []string may be
// written as one string. Messages name the key path from the nearest list item, which is
// the context a reader has on that line.
func (d *Doc) Decode(t reflect.Type) (map[string]any, Index, Diagnostics) {
	dec := &decoder{doc: d, ix: Index{Value: map[string]*yaml.Node{}, Key: map[string]*yaml.Node{}, Bad: map[string]bool{}, Unknown: map[string]string{}}}
	v, _ := dec.value(d.Root, t, "", "", 0)
	m, _ := v.(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	return m, dec.ix, dec.diags
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

func (dec *decoder) errf(n *yaml.Node, show, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if show != "" {
		msg = show + ": " + msg
	}
	dec.diags = append(dec.diags, dec.doc.At(n, "%s", msg))
}

func (dec *decoder) want(n *yaml.Node, show, what string) {
	dec.errf(n, show, "expected %s, got %s", what, describe(n))
}

// value decodes n as type t; ok is false when nothing should be stored.
func (dec *decoder) value(n *yaml.Node, t reflect.Type, path, show string, depth int) (any, bool) {
	before := len(dec.diags)
	v, ok := dec.value0(n, t, path, show, depth)
	if len(dec.diags) > before {
		dec.ix.Bad[path] = true
	}
	return v, ok
}

func (dec *decoder) value0(n *yaml.Node, t reflect.Type, path, show string, depth int) (any, bool) {
	n = resolveAlias(n)
	if n == nil {
		return nil, false
	}
	if depth > maxDepth {
		dec.errf(n, show, "nested more than %d levels deep", maxDepth)
		return nil, false
	}
	if dec.nodes++; dec.nodes > maxNodes {
		if dec.nodes == maxNodes+1 {
			dec.errf(n, show, "document has more than %d values once aliases are expanded", maxNodes)
		}
		return nil, false
	}
	if n.Kind == yaml.AliasNode {
		dec.errf(n, show, "alias cannot be resolved")
		return nil, false
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil, false
	}
	if t.Kind() != reflect.Interface && reflect.PointerTo(t).Implements(textUnmarshaler) && n.Kind == yaml.ScalarNode {
		u := reflect.New(t).Interface().(encoding.TextUnmarshaler)
		if err := u.UnmarshalText([]byte(n.Value)); err != nil {
			dec.errf(n, show, "%v", err)
			return nil, false
		}
		return n.Value, true
	}
	switch t.Kind() {
	case reflect.Pointer:
		return dec.value(n, t.Elem(), path, show, depth+1)
	case reflect.Struct:
		return dec.structValue(n, t, path, show, depth)
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			panic("strict: map keys must be strings: " + t.String())
		}
		if n.Kind != yaml.MappingNode {
			dec.want(n, show, "a mapping")
			return nil, false
		}
		out := map[string]any{}
		firstAt := map[string]*yaml.Node{}
		for k := 0; k+1 < len(n.Content); k += 2 {
			kn, vn := resolveAlias(n.Content[k]), n.Content[k+1]
			if !dec.key(kn, firstAt, show) {
				continue
			}
			p := join(path, kn.Value)
			dec.ix.Key[p], dec.ix.Value[p] = kn, vn
			if v, ok := dec.value(vn, t.Elem(), p, join(show, kn.Value), depth+1); ok {
				out[kn.Value] = v
			} else if t.Elem().Kind() == reflect.Interface {
				out[kn.Value] = nil
			}
		}
		return out, true
	case reflect.Slice:
		items := []*yaml.Node{n}
		switch {
		case n.Kind == yaml.SequenceNode:
			items = n.Content
		case n.Kind == yaml.ScalarNode && t.Elem().Kind() == reflect.String:
			// one string stands for a one-item list: `after: thumbs`
		default:
			dec.want(n, show, "a list")
			return nil, false
		}
		out := make([]any, 0, len(items))
		for i, item := range items {
			p := join(path, strconv.Itoa(i))
			dec.ix.Value[p] = item
			s := show
			if k := t.Elem().Kind(); k == reflect.Struct || k == reflect.Pointer {
				if r := resolveAlias(item); r.Kind != yaml.MappingNode && r.ShortTag() != "!!null" && !reflect.PointerTo(t.Elem()).Implements(textUnmarshaler) {
					dec.want(r, show+" item", "a mapping")
					dec.ix.Bad[p] = true
					out = append(out, map[string]any{})
					continue
				}
				s = "" // a list item is its own context
			}
			if v, ok := dec.value(item, t.Elem(), p, s, depth+1); ok {
				out = append(out, v)
			} else if t.Elem().Kind() == reflect.Struct {
				out = append(out, map[string]any{}) // keep positions aligned with the index
			}
		}
		return out, true
	case reflect.Interface:
		return dec.generic(n, path, show, depth)
	}
	if n.Kind != yaml.ScalarNode {
		dec.want(n, show, kindName(t))
		return nil, false
	}
	tag := n.ShortTag()
	switch t.Kind() {
	case reflect.String:
		if tag == "!!bool" || tag == "!!map" || tag == "!!seq" {
			dec.want(n, show, "a string")
			return nil, false
		}
		return n.Value, true
	case reflect.Bool:
		var b bool
		if tag != "!!bool" || n.Decode(&b) != nil {
			dec.want(n, show, "true or false")
			return nil, false
		}
		return b, true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var i int64
		if tag != "!!int" || n.Decode(&i) != nil {
			dec.want(n, show, "an integer")
			return nil, false
		}
		if reflect.New(t).Elem().OverflowInt(i) {
			dec.errf(n, show, "%d is out of range", i)
			return nil, false
		}
		return i, true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		var i int64
		if tag != "!!int" || n.Decode(&i) != nil || i < 0 {
			dec.want(n, show, "a non-negative integer")
			return nil, false
		}
		if reflect.New(t).Elem().OverflowUint(uint64(i)) {
			dec.errf(n, show, "%d is out of range", i)
			return nil, false
		}
		return uint64(i), true
	case reflect.Float32, reflect.Float64:
		var f float64
		if (tag != "!!int" && tag != "!!float") || n.Decode(&f) != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			dec.want(n, show, "a number")
			return nil, false
		}
		return f, true
	}
	panic("strict: unsupported field type " + t.String())
}

// key checks one mapping key: a scalar, not repeated.
func (dec *decoder) key(kn *yaml.Node, firstAt map[string]*yaml.Node, show string) bool {
	if kn.Kind != yaml.ScalarNode {
		dec.errf(kn, show, "expected a key, got %s", describe(kn))
		return false
	}
	if kn.Tag == "!!merge" || kn.Value == "<<" && kn.Style == 0 {
		dec.errf(kn, show, "merge keys (<<) are not supported; repeat the keys")
		return false
	}
	if prev, dup := firstAt[kn.Value]; dup {
		_, line, col := dec.doc.Pos(prev)
		if line > 0 {
			dec.errf(kn, "", "duplicate key %q (first set at %d:%d)", kn.Value, line, col)
		} else {
			dec.errf(kn, "", "duplicate key %q", kn.Value)
		}
		return false
	}
	firstAt[kn.Value] = kn
	return true
}

func (dec *decoder) structValue(n *yaml.Node, t reflect.Type, path, show string, depth int) (any, bool) {
	if n.Kind != yaml.MappingNode {
		dec.want(n, show, "a mapping")
		return nil, false
	}
	fields := map[string]reflect.Type{}
	var names []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("koanf"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
		names = append(names, name)
	}
	out := map[string]any{}
	firstAt := map[string]*yaml.Node{}
	for k := 0; k+1 < len(n.Content); k += 2 {
		kn, vn := resolveAlias(n.Content[k]), n.Content[k+1]
		if !dec.key(kn, firstAt, show) {
			continue
		}
		ft, ok := fields[kn.Value]
		if !ok {
			dec.errf(kn, "", "unknown key %q%s", kn.Value, DidYouMean(kn.Value, names))
			dec.ix.Unknown[join(path, kn.Value)] = Suggest(kn.Value, names)
			continue
		}
		p := join(path, kn.Value)
		dec.ix.Key[p], dec.ix.Value[p] = kn, vn
		if v, ok := dec.value(vn, ft, p, join(show, kn.Value), depth+1); ok {
			out[kn.Value] = v
		}
	}
	return out, true
}

// generic converts free-form YAML (a stage's config) to plain Go values.
func (dec *decoder) generic(n *yaml.Node, path, show string, depth int) (any, bool) {
	switch n.Kind {
	case yaml.MappingNode:
		return dec.value(n, reflect.TypeFor[map[string]any](), path, show, depth)
	case yaml.SequenceNode:
		return dec.value(n, reflect.TypeFor[[]any](), path, show, depth)
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!int":
			var i int64
			if n.Decode(&i) == nil {
				return i, true
			}
			var f float64
			if n.Decode(&f) == nil {
				return f, true
			}
		case "!!float":
			var f float64
			if n.Decode(&f) == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
				return f, true
			}
			dec.want(n, show, "a finite number")
			return nil, false
		case "!!bool":
			var b bool
			if n.Decode(&b) == nil {
				return b, true
			}
		}
		return n.Value, true
	}
	dec.want(n, show, "a value")
	return nil, false
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a value"
}
