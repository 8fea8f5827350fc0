package plugin

import (
	"fmt"
	"strings"

	"github.com/plexusml/plexus/plugins/proto/codec"
)

// StageSpec is what a pipeline stage asks of a plugin, for CheckStage.
type StageSpec struct {
	Model  string
	Task   string
	Config map[string]any
	// Fields are the fields the stage's items will carry, name to kind ("" when the
	// kind is not known); nil skips the input check.
	Fields map[string]string
	// Modalities routed to the stage; nil when any may arrive.
	Modalities []string
}

// CheckStage checks a stage against the plugin's description and returns every
// problem, each a *FieldError whose Path names the stage key at fault ("model",
// "task", "config.KEY", "input.FIELD"), so `plexus validate` can point at its line.
func CheckStage(d *Description, s StageSpec) []error {
	m, ok := d.FindModel(s.Model)
	if !ok {
		return []error{&FieldError{Path: "model", Msg: fmt.Sprintf("plugin %s has no model %q (it offers %s)", d.Name, s.Model, modelNames(d))}}
	}
	var errs []error
	if _, err := codec.ValidateConfig(m.Config, s.Config); err != nil {
		errs = append(errs, unjoin(err)...)
	}
	t, ok := m.FindTask(s.Task)
	if !ok {
		names := make([]string, len(m.Tasks))
		for k, t := range m.Tasks {
			names[k] = t.Name
		}
		return append(errs, &FieldError{Path: "task", Msg: fmt.Sprintf("model %s has no task %q (tasks: %s)", m.Name, s.Task, strings.Join(names, ", "))})
	}
	if len(t.Input.Modalities) > 0 && s.Modalities != nil {
		for _, mod := range s.Modalities {
			if !contains(t.Input.Modalities, mod) && !contains(t.Input.Modalities, "mixed") {
				errs = append(errs, &FieldError{Path: "when", Msg: fmt.Sprintf("%s items can reach task %s, which accepts only %s", mod, t.Name, strings.Join(t.Input.Modalities, ", "))})
			}
		}
	}
	if s.Fields != nil {
		for _, f := range t.Input.Fields {
			kind, ok := s.Fields[f.Name]
			switch {
			case !ok && !f.Optional:
				errs = append(errs, &FieldError{Path: "input." + f.Name, Msg: fmt.Sprintf("task %s needs field %s (%s), which no upstream stage or source provides", t.Name, f.Name, f.Kind)})
			case ok && kind != "" && f.Kind != "" && f.Kind != "any" && kind != f.Kind:
				errs = append(errs, &FieldError{Path: "input." + f.Name, Msg: fmt.Sprintf("task %s needs %s to be %s, upstream provides %s", t.Name, f.Name, f.Kind, kind)})
			}
		}
	}
	return errs
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
