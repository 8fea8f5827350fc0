package pipeline

import (
	"fmt"
	"reflect"
	"strings"
)

// KeyDoc documents one key of the pipeline schema.
type KeyDoc struct {
	Key     string // dotted path: "source.path", "stages[].batch.max"
	Type    string
	Doc     string
	Default string
}

// Reference lists every key of the schema with its type, meaning and default, read from
// the struct tags of Pipeline so that the generated reference (docs/pipeline.md) cannot
// drift from what the loader accepts. A key without a doc tag is an error: adding a key
// to the schema means documenting it.
func Reference() ([]KeyDoc, error) {
	var out []KeyDoc
	var missing []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := f.Tag.Get("koanf")
			if name == "" || name == "-" || !f.IsExported() {
				continue
			}
			key := prefix + name
			ft := f.Type
			switch {
			case ft.Kind() == reflect.Struct && !isLeafStruct(ft):
				if d := f.Tag.Get("doc"); d != "" {
					out = append(out, KeyDoc{key, "mapping", d, f.Tag.Get("default")})
				}
				walk(ft, key+".")
				continue
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
				out = append(out, KeyDoc{key, "list", f.Tag.Get("doc"), f.Tag.Get("default")})
				walk(ft.Elem(), key+"[].")
				continue
			}
			d := f.Tag.Get("doc")
			if d == "" {
				missing = append(missing, key)
				continue
			}
			typ := f.Tag.Get("type")
			if typ == "" {
				typ = typeName(ft)
			}
			out = append(out, KeyDoc{key, typ, d, f.Tag.Get("default")})
		}
	}
	walk(reflect.TypeFor[Pipeline](), "")
	if len(missing) > 0 {
		return out, fmt.Errorf("pipeline schema keys without a doc tag: %s", strings.Join(missing, ", "))
	}
	return out, nil
}

// isLeafStruct is a struct-typed value written as one scalar or small form in YAML.
func isLeafStruct(t reflect.Type) bool { return t == reflect.TypeFor[Instances]() }

func typeName(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[Duration]():
		return "duration"
	case reflect.TypeFor[Size]():
		return "size"
	}
	switch t.Kind() {
	case reflect.Pointer:
		if t.Elem().Kind() == reflect.Struct {
			return "mapping"
		}
		return typeName(t.Elem())
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "integer"
	case reflect.Map:
		return "mapping"
	case reflect.Slice:
		return "list of " + typeName(t.Elem()) + "s"
	}
	return t.Kind().String()
}

// WriteReference writes the reference as Markdown tables: the pipeline's keys, a
// stage's keys and a sink's keys.
func WriteReference(b *strings.Builder) error {
	keys, err := Reference()
	if err != nil {
		return err
	}
	groups := []struct{ title, prefix string }{
		{"The pipeline", ""}, {"A stage (`stages[]`)", "stages[]."}, {"A sink (`sinks[]`)", "sinks[]."},
	}
	for gi, g := range groups {
		fmt.Fprintf(b, "%s:\n\n| key | type | meaning | default |\n|---|---|---|---|\n", g.title)
		for _, k := range keys {
			rest, ok := strings.CutPrefix(k.Key, g.prefix)
			if !ok || gi == 0 && strings.Contains(k.Key, "[]") {
				continue
			}
			def := k.Default
			if def == "" {
				def = " "
			}
			fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", rest, k.Type, strings.ReplaceAll(k.Doc, "|", "\\|"), def)
		}
		b.WriteString("\n")
	}
	return nil
}
