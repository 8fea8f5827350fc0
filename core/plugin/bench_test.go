package plugin

import (
	"context"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/plexusml/plexus/core/tensor"
)

// BenchmarkRoundTrip measures one-tensor echo round trips; `plexus bench transport`
// reports the same in GB/s.
func BenchmarkRoundTrip(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"1KiB", 1 << 10}, {"1MiB", 1 << 20}, {"64MiB", 64 << 20}} {
		for _, mode := range []struct {
			name     string
			thr      int
			insecure bool
			view     bool
		}{{"shm", 0, false, false}, {"shm-view", 0, false, true}, {"inline", -1, false, false}, {"shm-noTLS", 0, true, false}} {
			b.Run(size.name+"/"+mode.name, func(b *testing.B) {
				opts := HostOptions{ArenaThreshold: mode.thr, Logger: hclog.NewNullLogger()}
				if mode.insecure {
					opts.Insecure = []string{"echo"}
				}
				h := newTestHost(b, opts, "echo")
				ctx := context.Background()
				inst, err := h.Instance(ctx, "echo", "echo", nil, "cpu")
				if err != nil {
					b.Fatal(err)
				}
				items := []Item{{ID: "x", Fields: map[string]Value{"x": tensor.New(tensor.Uint8, size.n)}}}
				b.SetBytes(int64(size.n))
				b.ResetTimer()
				check := func(r []Result) {
					if r[0].Err != nil {
						b.Fatal(r[0].Err)
					}
				}
				for b.Loop() {
					if mode.view {
						inst.ProcessView(ctx, "echo", items, check)
					} else {
						check(inst.Process(ctx, "echo", items))
					}
				}
			})
		}
	}
}
