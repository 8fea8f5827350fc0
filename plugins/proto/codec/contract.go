package codec

import (
	"fmt"
	"strconv"

	"github.com/plexusml/plexus/core/tensor"
)

// CheckItem checks one item against a task's input contract: accepted modality,
// required fields present, and each field's kind (and a tensor's dtype and fixed
// dimensions) as published. It returns a bad-item error naming the field.
func CheckItem(c Contract, it Item) error {
	if len(c.Modalities) > 0 && it.Modality != "" && !contains(c.Modalities, it.Modality) && !contains(c.Modalities, "mixed") {
		return &ItemError{Item: it.ID, Kind: ErrBadItem, Reason: fmt.Sprintf("modality %s not accepted (want %v)", it.Modality, c.Modalities)}
	}
	for _, f := range c.Fields {
		v, ok := it.Fields[f.Name]
		if !ok {
			if f.Optional {
				continue
			}
			return &ItemError{Item: it.ID, Kind: ErrBadItem, Reason: fmt.Sprintf("missing field %s (%s)", f.Name, f.Kind)}
		}
		if err := CheckValue(f, v); err != nil {
			return &ItemError{Item: it.ID, Kind: ErrBadItem, Reason: fmt.Sprintf("field %s: %v", f.Name, err)}
		}
	}
	return nil
}

// CheckValue checks one value against its field spec.
func CheckValue(f FieldSpec, v Value) error {
	got := KindOf(v)
	if f.Kind != "" && f.Kind != "any" && got != f.Kind {
		return fmt.Errorf("want %s, got %s", f.Kind, got)
	}
	t, ok := v.(*tensor.Tensor)
	if !ok {
		return nil
	}
	if f.DType != "" && t.DType().String() != f.DType {
		return fmt.Errorf("want a %s tensor, got %s", f.DType, t.DType())
	}
	if f.Shape != nil {
		if t.Rank() != len(f.Shape) {
			return fmt.Errorf("want shape %v, got %v", f.Shape, t.Shape())
		}
		for i, d := range f.Shape {
			if n, err := strconv.Atoi(d); err == nil && n != t.Dim(i) {
				return fmt.Errorf("want shape %v, got %v (dimension %d)", f.Shape, t.Shape(), i)
			}
		}
	}
	return nil
}

// KindOf names a value's kind as contracts do.
func KindOf(v Value) string {
	switch v.(type) {
	case string:
		return "string"
	case float64, float32:
		return "float"
	case int64, int, int32:
		return "int"
	case bool:
		return "bool"
	case []byte:
		return "bytes"
	case []string:
		return "strings"
	case []float64:
		return "floats"
	case *tensor.Tensor:
		return "tensor"
	case []Value:
		return "list"
	}
	return fmt.Sprintf("%T", v)
}
