package sched

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/plexusml/plexus/core/pipeline"
)

// SimConfig is a simulation file: the devices, a latency model per model, the
// workload and the scheduler's tuning. See configs/sim-mixed.yaml.
type SimConfig struct {
	Devices   []SimDevice
	Latency   map[string]LatencyModel
	Workload  Workload
	Scheduler SchedulerOptions
	// BaselineBatch is the fixed batch size of the FIFO baseline (capped by each
	// stage's batch.max).
	BaselineBatch int
}

// Workload is the stream of items a simulation feeds each pipeline.
type Workload struct {
	Items int // items per pipeline
	// Rate is arrivals per second (Poisson); 0 means offline: every item is available
	// at once and the source admits one whenever fewer than Window are in flight.
	Rate   float64
	Window int
	Seed   int64
	// Mix weighs the modalities of the items (image, audio, text, tensor).
	Mix map[string]float64
}

type simFileYAML struct {
	Devices []struct {
		Name   string  `yaml:"name"`
		Kind   string  `yaml:"kind"`
		Memory string  `yaml:"memory"`
		Speed  float64 `yaml:"speed"`
		Cores  int     `yaml:"cores"`
	} `yaml:"devices"`
	Latency map[string]struct {
		Fixed      string `yaml:"fixed"`
		PerItem    string `yaml:"per_item"`
		ItemMemory string `yaml:"item_memory"`
		Memory     string `yaml:"memory"`
	} `yaml:"latency"`
	Workload struct {
		Items  int                `yaml:"items"`
		Rate   float64            `yaml:"rate"`
		Window int                `yaml:"window"`
		Seed   int64              `yaml:"seed"`
		Mix    map[string]float64 `yaml:"mix"`
	} `yaml:"workload"`
	Scheduler struct {
		GPUConcurrency int                `yaml:"gpu_concurrency"`
		CPUConcurrency int                `yaml:"cpu_concurrency"`
		QueueDepth     int                `yaml:"queue_depth"`
		Weights        map[string]float64 `yaml:"weights"`
	} `yaml:"scheduler"`
	Baseline struct {
		Batch int `yaml:"batch"`
	} `yaml:"baseline"`
}

// Limits on a simulation file, so a typo cannot ask for a simulation that never ends.
const (
	maxSimItems   = 10_000_000
	maxSimDevices = 1024
)

// LoadSimConfig reads a simulation file; see ParseSimConfig.
func LoadSimConfig(path string) (*SimConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load simulation: %w", err)
	}
	return ParseSimConfig(path, b)
}

// ParseSimConfig reads a simulation file strictly (unknown keys are errors); name is
// the file name that errors start with. Sizes are written like pipeline sizes
// ("24GiB") and durations like "5ms". Missing workload fields get defaults: 2000
// items, offline, a window of 256, seed 1, an equal mix of image, audio and text.
func ParseSimConfig(name string, data []byte) (*SimConfig, error) {
	var f simFileYAML
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c := &SimConfig{Latency: map[string]LatencyModel{}}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...))
	}
	if len(f.Devices) > maxSimDevices {
		return nil, bad("%d devices: at most %d", len(f.Devices), maxSimDevices)
	}
	for i, d := range f.Devices {
		mem, err := pipeline.ParseSize(d.Memory)
		if err != nil {
			return nil, bad("devices.%d (%s): memory: %v", i, d.Name, err)
		}
		if d.Speed < 0 {
			return nil, bad("devices.%d (%s): speed must not be negative", i, d.Name)
		}
		c.Devices = append(c.Devices, SimDevice{Name: d.Name, Kind: Kind(d.Kind), Memory: mem.Bytes(), Speed: d.Speed, Cores: d.Cores})
	}
	keys := make([]string, 0, len(f.Latency))
	for k := range f.Latency {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		l := f.Latency[k]
		var m LatencyModel
		var err error
		dur := func(field, s string) time.Duration {
			if err != nil || s == "" {
				return 0
			}
			var d pipeline.Duration
			if d, err = pipeline.ParseDuration(s); err != nil {
				err = fmt.Errorf("%s: %w", field, err)
			}
			return d.Std()
		}
		size := func(field, s string) int64 {
			if err != nil || s == "" {
				return 0
			}
			var v pipeline.Size
			if v, err = pipeline.ParseSize(s); err != nil {
				err = fmt.Errorf("%s: %w", field, err)
			}
			return v.Bytes()
		}
		m.Fixed = dur("fixed", l.Fixed)
		m.PerItem = dur("per_item", l.PerItem)
		m.ItemMemory = size("item_memory", l.ItemMemory)
		m.InstanceMemory = size("memory", l.Memory)
		if err != nil {
			return nil, bad("latency.%s.%v", k, err)
		}
		if m.Fixed+m.PerItem <= 0 {
			return nil, bad("latency.%s: fixed and per_item are both zero: a batch must cost something", k)
		}
		c.Latency[k] = m
	}
	w := f.Workload
	switch {
	case w.Items < 0 || w.Items > maxSimItems:
		return nil, bad("workload.items: %d is outside 0..%d", w.Items, maxSimItems)
	case w.Rate < 0:
		return nil, bad("workload.rate must not be negative")
	case w.Window < 0:
		return nil, bad("workload.window must not be negative")
	}
	c.Workload = Workload{Items: w.Items, Rate: w.Rate, Window: w.Window, Seed: w.Seed, Mix: map[string]float64{}}
	if c.Workload.Items == 0 {
		c.Workload.Items = 2000
	}
	if c.Workload.Window == 0 {
		c.Workload.Window = 256
	}
	if c.Workload.Seed == 0 {
		c.Workload.Seed = 1
	}
	total := 0.0
	for k, v := range w.Mix {
		if !isModality(k) {
			return nil, bad("workload.mix: %q is not one of %s", k, strings.Join(pipeline.Modalities, ", "))
		}
		if v < 0 {
			return nil, bad("workload.mix.%s must not be negative", k)
		}
		c.Workload.Mix[k] = v
		total += v
	}
	if len(w.Mix) == 0 {
		c.Workload.Mix = map[string]float64{"image": 1, "audio": 1, "text": 1}
	} else if total <= 0 {
		return nil, bad("workload.mix: the weights add up to zero")
	}
	s := f.Scheduler
	if s.GPUConcurrency < 0 || s.CPUConcurrency < 0 || s.QueueDepth < 0 {
		return nil, bad("scheduler: concurrency and queue_depth must not be negative")
	}
	c.Scheduler = SchedulerOptions{Concurrency: map[Kind]int{}, QueueDepth: s.QueueDepth, PipelineWeights: map[string]float64{}}
	if s.GPUConcurrency > 0 {
		c.Scheduler.Concurrency[GPU] = s.GPUConcurrency
	}
	if s.CPUConcurrency > 0 {
		c.Scheduler.Concurrency[CPU] = s.CPUConcurrency
	}
	for k, v := range s.Weights {
		if v <= 0 {
			return nil, bad("scheduler.weights.%s must be positive", k)
		}
		c.Scheduler.PipelineWeights[k] = v
	}
	c.BaselineBatch = f.Baseline.Batch
	if c.BaselineBatch < 0 {
		return nil, bad("baseline.batch must not be negative")
	}
	if c.BaselineBatch == 0 {
		c.BaselineBatch = 4
	}
	return c, nil
}

func isModality(s string) bool {
	for _, m := range pipeline.Modalities {
		if m == s {
			return true
		}
	}
	return false
}
