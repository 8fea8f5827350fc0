package pipeline

import (
	"fmt"
	"os"
	"reflect"
	"strings"

	"github.com/plexusml/plexus/core/pipeline/strict"
)

// Diagnostic is one problem, at FILE:LINE:COL or at a --set override.
type Diagnostic = strict.Diagnostic

// Diagnostics is every problem of one load, sorted; it is the error Load returns.
type Diagnostics = strict.Diagnostics

// LoadOptions are what the command line adds to a pipeline file.
type LoadOptions struct {
	// Sets are overrides "stages.NAME.key=value" (or any other key path, such as
	// "errors.policy=skip"), applied in order after the file. Values are read as YAML.
	Sets []string
	// Getenv resolves ${VAR}; nil means os.LookupEnv.
	Getenv func(string) (string, bool)
}

// Load reads the pipeline file at path; see Parse.
func Load(path string, opts LoadOptions) (*Pipeline, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load pipeline: %w", err)
	}
	return Parse(path, data, opts)
}

// Parse reads a pipeline from data (name is the file name used in diagnostics): it
// applies the overrides, interpolates ${VAR} and ${VAR:-default} in values, decodes
// strictly, fills defaults and validates. When anything is wrong the error is
// Diagnostics holding every problem and the pipeline is nil.
func Parse(name string, data []byte, opts LoadOptions) (*Pipeline, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.LookupEnv
	}
	doc, ds := strict.ParseDoc(name, data)
	if doc == nil {
		return nil, ds.Err()
	}
	for _, set := range opts.Sets {
		origin := "--set " + set
		key, val, ok := strings.Cut(set, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			ds = append(ds, Diagnostic{File: origin, Msg: "expected KEY=VALUE, such as stages.classify.batch.max=8"})
			continue
		}
		if msg := doc.Set(key, val, origin, "name"); msg != "" {
			ds = append(ds, Diagnostic{File: origin, Msg: msg})
		}
	}
	ds = append(ds, doc.Interpolate(getenv)...)
	raw, ix, dds := doc.Decode(reflect.TypeFor[Pipeline]())
	ds = append(ds, dds...)

	var p Pipeline
	if err := strict.Unmarshal(raw, &p); err != nil {
		ds = append(ds, Diagnostic{File: name, Line: 1, Col: 1, Msg: err.Error()})
		return nil, ds.Err()
	}
	p.File, p.doc, p.ix = name, doc, ix
	v := &validator{doc: doc, ix: ix, p: &p}
	v.run()
	ds = append(ds, v.ds...)
	if len(ds) > 0 {
		return nil, ds.Err()
	}
	return &p, nil
}

// At makes a diagnostic at a key of the loaded file, for checks made after loading
// (a stage's config against its plugin's schema). A stage is named by position or by
// name: "stages.2.config.size" or "stages.classify.config.size". A key the file does
// not write is reported at its nearest written parent; a pipeline built in code
// reports at its file name alone.
func (p *Pipeline) At(path, format string, args ...any) Diagnostic {
	if p.doc == nil {
		return Diagnostic{File: p.File, Msg: fmt.Sprintf(format, args...)}
	}
	if rest, ok := strings.CutPrefix(path, "stages."); ok {
		name, tail, _ := strings.Cut(rest, ".")
		if i, ok := p.stageIndex()[name]; ok {
			path = strings.TrimSuffix(fmt.Sprintf("stages.%d.%s", i, tail), ".")
		}
	}
	v := validator{doc: p.doc, ix: p.ix}
	return p.doc.At(v.node(path), format, args...)
}
