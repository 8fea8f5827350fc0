package main

import (
	"context"
	"fmt"
	"math"
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/plexusml/plexus/core/bench"
	"github.com/plexusml/plexus/core/plugin"
	"github.com/plexusml/plexus/core/tensor"
	"github.com/plexusml/plexus/plugins/sdk"
	"github.com/spf13/cobra"
)

// echoPluginCmd makes the plexus binary its own echo plugin, so the transport benchmark
// needs no separate binary. It is hidden: only the benchmark starts it.
var echoPluginCmd = &cobra.Command{
	Use:    "__echo-plugin",
	Hidden: true,
	Args:   cobra.NoArgs,
	Run:    func(*cobra.Command, []string) { sdk.Serve(sdk.Echo{}) },
}

// benchTransport measures host→plugin→host round trips of one tensor through the echo
// plugin, shared memory and inline gRPC side by side. There is no PyTorch counterpart.
func benchTransport(ctx context.Context, o bench.Options) ([]bench.Row, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	sizes := []struct {
		name string
		n    int
	}{{"1KiB", 1 << 10}, {"1MiB", 1 << 20}, {"64MiB", 64 << 20}, {"256MiB", 256 << 20}}
	if o.Quick {
		sizes = sizes[:3]
	}
	// "shm" returns results the caller owns (copied out of the arena); "shm view"
	// hands them to a callback as views of the arena (Instance.ProcessView).
	modes := []struct {
		name string
		thr  int
		view bool
	}{{"shm", 0, false}, {"shm view", 0, true}, {"inline", -1, false}}
	insts := make([]*plugin.Instance, len(modes))
	for k, m := range modes {
		h := plugin.NewHost(plugin.HostOptions{SkipPATH: true, ArenaThreshold: m.thr,
			Logger: hclog.New(&hclog.LoggerOptions{Output: os.Stderr, Level: hclog.Warn})})
		defer h.Close()
		h.Add(plugin.Found{Name: "echo", Path: exe, Args: []string{echoPluginCmd.Use}})
		inst, err := h.Instance(ctx, "echo", "echo", nil, "cpu")
		if err != nil {
			return nil, err
		}
		insts[k] = inst
	}
	var rows []bench.Row
	for _, s := range sizes {
		x := tensor.New(tensor.Uint8, s.n)
		for i := range x.Bytes() {
			x.Bytes()[i] = byte(i * 7)
		}
		items := []plugin.Item{{ID: "x", Modality: "tensor", Fields: map[string]plugin.Value{"x": x}}}
		for k, m := range modes {
			var callErr error
			check := func(r []plugin.Result) {
				if r[0].Err != nil {
					callErr = r[0].Err
				}
			}
			d := bench.Median(o, func() {
				if m.view {
					insts[k].ProcessView(ctx, "echo", items, check)
				} else {
					check(insts[k].Process(ctx, "echo", items))
				}
			})
			if callErr != nil {
				return nil, fmt.Errorf("transport %s %s: %w", s.name, m.name, callErr)
			}
			rows = append(rows, bench.Row{Bench: "transport", Config: s.name + " " + m.name,
				Plexus: float64(s.n) / d.Seconds() / 1e9, PyTorch: math.NaN(), Unit: "GB/s"})
			if s.n <= 1<<10 {
				rows = append(rows, bench.Row{Bench: "transport", Config: s.name + " " + m.name + " calls",
					Plexus: 1 / d.Seconds(), PyTorch: math.NaN(), Unit: "calls/s"})
			}
		}
	}
	return rows, nil
}

func init() {
	rootCmd.AddCommand(echoPluginCmd)
	bench.Register(bench.Suite{Name: "transport",
		Doc: "tensor round trips host→plugin→host: shared-memory arena vs inline gRPC (GB/s = payload ÷ round trip)",
		Run: benchTransport})
}
