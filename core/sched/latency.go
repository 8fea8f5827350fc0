package sched

import (
	"fmt"
	"time"

	"github.com/plexusml/plexus/core/pipeline"
)

// LatencyModel is what one batch of a model costs in a simulation, on a reference
// device of speed 1: Fixed + n × PerItem, divided by the speed of the device it runs
// on. The fixed part (kernel launches, weight reads, per-call overhead) is what
// batching amortises.
type LatencyModel struct {
	Fixed   time.Duration
	PerItem time.Duration
	// ItemMemory is the working memory of one item of a running batch.
	ItemMemory int64
	// InstanceMemory is what one instance reserves, for stages that do not say
	// (resources.memory unset).
	InstanceMemory int64
}

// Cost is the time a batch of n items takes on a device of the given speed.
func (m LatencyModel) Cost(n int, speed float64) time.Duration {
	if speed <= 0 {
		speed = 1
	}
	return time.Duration(float64(m.Fixed+time.Duration(n)*m.PerItem) / speed)
}

// LatencyFor finds the model of a stage in models: by the stage's name first (two
// stages of one model may cost differently), then its model, then its builtin.
func LatencyFor(models map[string]LatencyModel, s *pipeline.Stage) (LatencyModel, error) {
	for _, k := range []string{s.Name, s.Model, s.Builtin} {
		if m, ok := models[k]; ok && k != "" {
			return m, nil
		}
	}
	what := s.Model
	if what == "" {
		what = s.Builtin
	}
	return LatencyModel{}, fmt.Errorf("stage %s: no latency model: add latency.%s (or latency.%s) to the simulation file", s.Name, what, s.Name)
}
