package codec

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
)

// FieldError is one problem found at a path such as "config.max_tokens" or
// "task"; the validate command maps the path back to a line and column.
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Msg }

// ValidateConfig checks cfg against a model's schema and returns it with defaults
// filled in. Every problem is reported (joined FieldErrors): unknown keys, missing
// required keys, wrong types and values outside an enum.
func ValidateConfig(schema []ConfigField, cfg map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(schema))
	var errs []error
	known := make(map[string]bool, len(schema))
	for _, f := range schema {
		known[f.Name] = true
		v, ok := cfg[f.Name]
		if !ok || v == nil {
			if f.Required {
				errs = append(errs, &FieldError{"config." + f.Name, fmt.Sprintf("required %s is missing", f.Type)})
			} else if f.Default != nil {
				out[f.Name] = f.Default
			}
			continue
		}
		nv, err := coerce(f, v)
		if err != nil {
			errs = append(errs, &FieldError{"config." + f.Name, err.Error()})
			continue
		}
		out[f.Name] = nv
	}
	var unknown []string
	for k := range cfg {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		names := make([]string, 0, len(schema))
		for _, f := range schema {
			names = append(names, f.Name)
		}
		hint := "the model takes no config"
		if len(names) > 0 {
			hint = "known keys: " + strings.Join(names, ", ")
		}
		errs = append(errs, &FieldError{"config." + k, "unknown key (" + hint + ")"})
	}
	return out, errors.Join(errs...)
}

func coerce(f ConfigField, v any) (any, error) {
	switch f.Type {
	case "", "any":
		return v, nil
	case "string":
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("want a string, got %s", describe(v))
		}
		if len(f.Enum) > 0 && !contains(f.Enum, s) {
			return nil, fmt.Errorf("%q is not one of %s", s, strings.Join(f.Enum, ", "))
		}
		return s, nil
	case "int":
		x, ok := number(v)
		if !ok || x != math.Trunc(x) || math.Abs(x) > 1<<53 {
			return nil, fmt.Errorf("want an integer, got %s", describe(v))
		}
		return int64(x), nil
	case "float":
		x, ok := number(v)
		if !ok {
			return nil, fmt.Errorf("want a number, got %s", describe(v))
		}
		return x, nil
	case "bool":
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("want true or false, got %s", describe(v))
		}
		return b, nil
	case "strings":
		switch x := v.(type) {
		case []string:
			return x, nil
		case []any:
			out := make([]string, len(x))
			for i, y := range x {
				s, ok := y.(string)
				if !ok {
					return nil, fmt.Errorf("[%d]: want a string, got %s", i, describe(y))
				}
				out[i] = s
			}
			return out, nil
		}
		return nil, fmt.Errorf("want a list of strings, got %s", describe(v))
	case "floats":
		switch x := v.(type) {
		case []float64:
			return x, nil
		case []any:
			out := make([]float64, len(x))
			for i, y := range x {
				f, ok := number(y)
				if !ok {
					return nil, fmt.Errorf("[%d]: want a number, got %s", i, describe(y))
				}
				out[i] = f
			}
			return out, nil
		}
		return nil, fmt.Errorf("want a list of numbers, got %s", describe(v))
	}
	return nil, fmt.Errorf("schema has unknown type %q", f.Type)
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

func describe(v any) string {
	switch v.(type) {
	case string:
		return fmt.Sprintf("string %q", v)
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("%T %v", v, v)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
