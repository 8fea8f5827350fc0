package sched

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Kind is the class of a device.
type Kind string

// The device kinds a stage can ask for.
const (
	CPU Kind = "cpu"
	GPU Kind = "gpu"
)

// Device is one place where model instances run.
type Device struct {
	ID          string  // "cpu", "gpu0", or a simulated device's name
	Kind        Kind    //
	Index       int     // GPU index as CUDA numbers it; 0 for the CPU
	UUID        string  // GPU UUID
	Name        string  // model name
	Memory      int64   // total bytes
	Free        int64   // free bytes when the inventory was taken
	Cores       int     // CPU cores (0 for GPUs)
	Utilisation float64 // 0..1 when known
	Speed       float64 // relative speed for simulation; 1 when not simulated
	Simulated   bool
}

// SimDevice declares a simulated device (engine config or a --devices file).
type SimDevice struct {
	Name   string  `koanf:"name" yaml:"name"`
	Kind   Kind    `koanf:"kind" yaml:"kind"`
	Memory int64   `koanf:"memory" yaml:"memory"`
	Speed  float64 `koanf:"speed" yaml:"speed"`
	Cores  int     `koanf:"cores" yaml:"cores"`
}

// InventoryOptions steers Inventory.
type InventoryOptions struct {
	// Simulated devices are listed after the real ones. When OnlySimulated is set, the
	// real CPU and GPUs are left out (capacity planning for another machine).
	Simulated     []SimDevice
	OnlySimulated bool
	// NvidiaSMI is the nvidia-smi binary; "" means look it up on PATH. No binary, or one
	// that fails because no driver is loaded, means no GPUs, not an error.
	NvidiaSMI string
	Timeout   time.Duration
}

// Inventory lists the devices of this machine: the CPU always, NVIDIA GPUs when a driver
// is present (found through nvidia-smi, so the default build needs no cgo), and any
// simulated devices.
func Inventory(ctx context.Context, o InventoryOptions) ([]Device, error) {
	var devs []Device
	if !o.OnlySimulated {
		devs = append(devs, cpuDevice())
		gpus, err := nvidiaGPUs(ctx, o)
		if err != nil {
			return nil, err
		}
		devs = append(devs, gpus...)
	}
	seen := map[string]bool{}
	for _, d := range devs {
		seen[d.ID] = true
	}
	for i, s := range o.Simulated {
		if s.Name == "" {
			return nil, fmt.Errorf("simulated device %d has no name", i)
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("simulated device %q: name already used", s.Name)
		}
		seen[s.Name] = true
		if s.Kind != CPU && s.Kind != GPU {
			return nil, fmt.Errorf("simulated device %q: kind %q is not cpu or gpu", s.Name, s.Kind)
		}
		if s.Memory <= 0 {
			return nil, fmt.Errorf("simulated device %q: memory must be positive", s.Name)
		}
		speed := s.Speed
		if speed <= 0 {
			speed = 1
		}
		devs = append(devs, Device{ID: s.Name, Kind: s.Kind, Index: i, Name: "simulated " + string(s.Kind),
			Memory: s.Memory, Free: s.Memory, Cores: s.Cores, Speed: speed, Simulated: true})
	}
	return devs, nil
}

func cpuDevice() Device {
	total, free := memInfo()
	name := runtime.GOARCH
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				name = strings.TrimSpace(v)
				break
			}
		}
	}
	return Device{ID: "cpu", Kind: CPU, Name: name, Memory: total, Free: free, Cores: runtime.NumCPU(), Speed: 1}
}

// memInfo reads total and available memory from /proc/meminfo; zero where there is none.
func memInfo() (total, avail int64) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		v, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "MemTotal:":
			total = v << 10
		case "MemAvailable:":
			avail = v << 10
		}
	}
	return total, avail
}

// nvidiaQuery is the field list passed to nvidia-smi; ParseNvidiaSMI expects this order.
const nvidiaQuery = "index,uuid,name,memory.total,memory.free,utilization.gpu"

func nvidiaGPUs(ctx context.Context, o InventoryOptions) ([]Device, error) {
	bin := o.NvidiaSMI
	if bin == "" {
		p, err := exec.LookPath("nvidia-smi")
		if err != nil {
			return nil, nil
		}
		bin = p
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--query-gpu="+nvidiaQuery, "--format=csv,noheader,nounits").Output()
	if err != nil {
		// No driver loaded, or no GPU: the machine simply has none.
		var ee *exec.ExitError
		if errors.As(err, &ee) || errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("nvidia-smi: %w", err)
	}
	return ParseNvidiaSMI(out)
}

// ParseNvidiaSMI parses `nvidia-smi --query-gpu=index,uuid,name,memory.total,memory.free,
// utilization.gpu --format=csv,noheader,nounits` (memory in MiB, utilisation in percent;
// "[N/A]" fields are left zero).
func ParseNvidiaSMI(out []byte) ([]Device, error) {
	r := csv.NewReader(bytes.NewReader(out))
	r.TrimLeadingSpace = true
	r.FieldsPerRecord = -1
	var devs []Device
	for line := 1; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("nvidia-smi output line %d: %w", line, err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) != 6 {
			return nil, fmt.Errorf("nvidia-smi output line %d: %d fields, want 6", line, len(rec))
		}
		idx, err := strconv.Atoi(strings.TrimSpace(rec[0]))
		if err != nil || idx < 0 {
			return nil, fmt.Errorf("nvidia-smi output line %d: bad index %q", line, rec[0])
		}
		mib := func(s string) int64 {
			v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil || v < 0 {
				return 0
			}
			return int64(v * (1 << 20))
		}
		util, err := strconv.ParseFloat(strings.TrimSpace(rec[5]), 64)
		if err != nil {
			util = 0
		}
		devs = append(devs, Device{ID: fmt.Sprintf("gpu%d", idx), Kind: GPU, Index: idx,
			UUID: strings.TrimSpace(rec[1]), Name: strings.TrimSpace(rec[2]),
			Memory: mib(rec[3]), Free: mib(rec[4]), Utilisation: util / 100, Speed: 1})
	}
	return devs, nil
}
