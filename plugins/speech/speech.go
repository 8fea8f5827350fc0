package main

import (
	"context"
	"fmt"
	"slices"

	"github.com/plexusml/plexus/plugins/sdk"
)

// Version is the plugin's version, reported in provenance.
const Version = "0.1.0"

// modelKind is one entry of the plugin's model table: what Describe publishes and how
// Load builds an instance. A new model (the recogniser) is one more entry.
type modelKind struct {
	info sdk.ModelInfo
	load func(ctx context.Context, req sdk.LoadRequest) (sdk.Instance, error)
}

// models is the table Describe and Load read.
var models = append([]modelKind{wavenetKind()}, recognisers()...)

// Speech is the plugin.
type Speech struct{}

// Describe publishes every model of the table.
func (Speech) Describe() sdk.Description {
	d := sdk.Description{Name: "speech", Version: Version}
	for _, m := range models {
		d.Models = append(d.Models, m.info)
	}
	return d
}

// Load finds the model in the table and builds an instance.
func (Speech) Load(ctx context.Context, req sdk.LoadRequest) (sdk.Instance, error) {
	i := slices.IndexFunc(models, func(m modelKind) bool { return m.info.Name == req.Model })
	if i < 0 {
		return nil, fmt.Errorf("speech plugin: no model %q", req.Model)
	}
	return models[i].load(ctx, req)
}

// badTask answers every item of a batch for a task the model does not offer.
func badTask(items []sdk.Item, model, task string, offered []sdk.Task) []sdk.Result {
	var names []string
	for _, t := range offered {
		names = append(names, t.Name)
	}
	out := make([]sdk.Result, len(items))
	for i := range out {
		out[i] = sdk.Fail(sdk.BadItem("task %q: model %s offers %v", task, model, names))
	}
	return out
}

var _ sdk.Plugin = Speech{}
