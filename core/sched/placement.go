package sched

import (
	"fmt"
	"sort"
	"strings"
)

// Request is what one stage asks of the scheduler: Min..Max instances, each needing
// Memory bytes on a device of kind Device ("gpu", "cpu" or "any").
type Request struct {
	Stage  string
	Device string
	Memory int64
	Min    int
	Max    int
}

// Assignment is one placed instance.
type Assignment struct {
	Stage    string
	Instance int
	Device   string // Device.ID
	Kind     Kind
	Index    int // GPU index, for CUDA_VISIBLE_DEVICES
}

// PlacementError says why a stage could not be placed, in words a user acts on.
type PlacementError struct {
	Stage string
	Msg   string
}

func (e *PlacementError) Error() string { return e.Msg }

// Place assigns instances of every request to devices by bin-packing on free memory.
// GPU instances are spread: each goes to the GPU holding the fewest instances of its
// stage, the one with the most memory left among those, so a stage's instances land on
// different GPUs while they fit. A stage with device "any" takes GPUs
// while any fits and the CPU otherwise; "gpu" fails when fewer than Min instances fit.
// Every stage gets at least Min instances and at most Max; Min instances of all stages are
// placed before any stage's extra ones, so one greedy stage cannot starve the others.
// All failures are returned together.
func Place(devs []Device, reqs []Request) ([]Assignment, error) {
	free := make(map[string]int64, len(devs))
	for _, d := range devs {
		free[d.ID] = d.Free
		if free[d.ID] <= 0 {
			free[d.ID] = d.Memory
		}
	}
	var out []Assignment
	var errs []string
	count := make([]int, len(reqs))
	onDevice := make([]map[string]int, len(reqs))
	for i := range onDevice {
		onDevice[i] = map[string]int{}
	}
	place := func(i int) bool {
		r := reqs[i]
		kind := strings.ToLower(r.Device)
		var best *Device
		// Spread a stage's instances first (fewest of its own instances), then pack by
		// memory (most free), then by index so placement is deterministic.
		better := func(d, b *Device) bool {
			if cd, cb := onDevice[i][d.ID], onDevice[i][b.ID]; cd != cb {
				return cd < cb
			}
			if free[d.ID] != free[b.ID] {
				return free[d.ID] > free[b.ID]
			}
			return d.Index < b.Index
		}
		try := func(k Kind) {
			for j := range devs {
				d := &devs[j]
				if d.Kind != k || free[d.ID] < r.Memory {
					continue
				}
				if best == nil || better(d, best) {
					best = d
				}
			}
		}
		switch kind {
		case "gpu":
			try(GPU)
		case "cpu":
			try(CPU)
		default:
			try(GPU)
			if best == nil {
				try(CPU)
			}
		}
		if best == nil {
			return false
		}
		free[best.ID] -= r.Memory
		onDevice[i][best.ID]++
		out = append(out, Assignment{Stage: r.Stage, Instance: count[i], Device: best.ID, Kind: best.Kind, Index: best.Index})
		count[i]++
		return true
	}
	for i, r := range reqs {
		min := r.Min
		if min <= 0 {
			min = 1
		}
		for n := 0; n < min; n++ {
			if !place(i) {
				errs = append(errs, placementMessage(devs, free, r, min))
				break
			}
		}
	}
	if len(errs) > 0 {
		return nil, &PlacementError{Stage: reqs[0].Stage, Msg: strings.Join(errs, "\n")}
	}
	// Extra instances up to Max, round-robin across stages.
	for more := true; more; {
		more = false
		for i, r := range reqs {
			if count[i] < r.Max && place(i) {
				more = true
			}
		}
	}
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].Stage != out[b].Stage {
			return stageIndex(reqs, out[a].Stage) < stageIndex(reqs, out[b].Stage)
		}
		return out[a].Instance < out[b].Instance
	})
	return out, nil
}

func stageIndex(reqs []Request, name string) int {
	for i, r := range reqs {
		if r.Stage == name {
			return i
		}
	}
	return len(reqs)
}

func placementMessage(devs []Device, free map[string]int64, r Request, min int) string {
	kind := strings.ToLower(r.Device)
	if kind == "" || kind == "any" {
		kind = "any device"
	}
	var largest int64 = -1
	var kinds []Kind
	switch kind {
	case "gpu":
		kinds = []Kind{GPU}
	case "cpu":
		kinds = []Kind{CPU}
	default:
		kinds = []Kind{GPU, CPU}
	}
	for _, d := range devs {
		for _, k := range kinds {
			if d.Kind == k && free[d.ID] > largest {
				largest = free[d.ID]
			}
		}
	}
	what := fmt.Sprintf("stage %s needs %d × %s on %s", r.Stage, min, FormatBytes(r.Memory), kind)
	if largest < 0 {
		return what + "; there is no " + strings.TrimPrefix(kind, "any ") + " on this machine"
	}
	name := "GPU"
	switch kind {
	case "cpu":
		name = "CPU"
	case "any device":
		name = "device"
	}
	return fmt.Sprintf("%s; the largest free %s has %s", what, name, FormatBytes(largest))
}

// FormatBytes writes n in binary units: 512 B, 64 KiB, 1.5 GiB.
func FormatBytes(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	v := float64(n)
	u := 0
	for v >= 1024 && u < len(units)-1 {
		v /= 1024
		u++
	}
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d %s", int64(v), units[u])
	}
	return fmt.Sprintf("%.1f %s", v, units[u])
}
