package sched

import (
	"strconv"

	"github.com/plexusml/plexus/core/pipeline"
)

// Env is the environment a plugin process serving this instance starts with.
// CUDA_VISIBLE_DEVICES pins a GPU instance to its GPU (which the process then sees as
// device 0) and hides every GPU from a CPU instance, so a framework inside the plugin
// cannot grab one behind the scheduler's back. PLEXUS_DEVICE and PLEXUS_DEVICE_KIND
// name the device for logs and for plugins that choose kernels by kind.
func (a Assignment) Env() []string {
	visible := ""
	if a.Kind == GPU {
		visible = strconv.Itoa(a.Index)
	}
	return []string{
		"CUDA_VISIBLE_DEVICES=" + visible,
		"PLEXUS_DEVICE=" + a.Device,
		"PLEXUS_DEVICE_KIND=" + string(a.Kind),
	}
}

// LoadDevice is the device argument of the plugin's Load call: "cuda:0" for a GPU
// instance (its only visible GPU, see Env) and "cpu" otherwise.
func (a Assignment) LoadDevice() string {
	if a.Kind == GPU {
		return "cuda:0"
	}
	return "cpu"
}

// StageRequest is what a pipeline stage asks of placement. Builtins run in-process
// on the CPU and reserve nothing; plugin stages ask for resources.device ("any" when
// unset), resources.memory per instance and resources.instances.
func StageRequest(s *pipeline.Stage) Request {
	r := Request{Stage: s.Name, Device: s.Resources.Device, Memory: s.Resources.Memory.Bytes(),
		Min: s.Resources.Instances.Min, Max: s.Resources.Instances.Max}
	if r.Device == "" {
		r.Device = "any"
	}
	if s.Builtin != "" {
		r.Device, r.Memory = string(CPU), 0
	}
	r.Min = max(r.Min, 1)
	r.Max = max(r.Max, r.Min)
	return r
}

// Requests is StageRequest for every stage of p, in file order.
func Requests(p *pipeline.Pipeline) []Request {
	out := make([]Request, len(p.Stages))
	for i := range p.Stages {
		out[i] = StageRequest(&p.Stages[i])
	}
	return out
}
