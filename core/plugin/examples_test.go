package plugin

import (
	"context"
	"errors"
	"math"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/plexusml/plexus/core/tensor"
)

// textstatsItems exercises both tasks of the template plugin and its Python twin.
func checkTextStats(t *testing.T, h *Host, name string) {
	t.Helper()
	ctx := context.Background()
	d, err := h.Describe(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := d.FindModel("textstats"); !ok || len(m.Tasks) != 2 || m.Config[0].Default != 1.0 {
		t.Fatalf("description: %+v", d)
	}
	if errs := CheckStage(d, StageSpec{Model: "textstats", Task: "count", Config: map[string]any{"min_length": 3},
		Fields: map[string]string{"text": "string"}, Modalities: []string{"text"}}); len(errs) > 0 {
		t.Fatalf("valid stage rejected: %v", errs)
	}
	inst, err := h.Instance(ctx, name, "textstats", map[string]any{"min_length": 3}, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	res := inst.Process(ctx, "count", []Item{
		{ID: "a", Modality: "text", Fields: map[string]Value{"text": "a big old café"}},
		{ID: "b", Modality: "text", Fields: map[string]Value{"text": "it is"}},
	})
	if res[0].Err != nil || res[0].Fields["words"] != int64(3) || res[0].Fields["chars"] != int64(14) || res[1].Fields["words"] != int64(0) {
		t.Fatalf("count: %+v", res)
	}
	res = inst.Process(ctx, "normalize", []Item{
		{ID: "v", Modality: "tensor", Fields: map[string]Value{"x": tensor.FromFloat32([]float32{3, 4}, 2)}},
		{ID: "z", Modality: "tensor", Fields: map[string]Value{"x": tensor.FromFloat32([]float32{0, 0}, 2)}},
	})
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	y := res[0].Fields["y"].(*tensor.Tensor).Float32s()
	if res[0].Fields["norm"] != 5.0 || math.Abs(float64(y[0])-0.6) > 1e-6 || math.Abs(float64(y[1])-0.8) > 1e-6 {
		t.Fatalf("normalize: %+v", res[0])
	}
	if !errors.Is(res[1].Err, ErrBadItem) {
		t.Fatalf("zero vector: %v", res[1].Err)
	}
	if err := inst.Health(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestTemplatePlugin(t *testing.T) {
	h := newTestHost(t, HostOptions{}, "textstats")
	checkTextStats(t, h, "textstats")
}

func TestPythonPlugin(t *testing.T) {
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import grpc, google.protobuf").Run(); err != nil {
		t.Skipf("python3-grpcio (and python3-protobuf) are not installed for %s: %v", py, err)
	}
	script, _ := filepath.Abs("../../plugins/examples/python/plexus-plugin-pystats")
	modes := []struct {
		name     string
		insecure bool
	}{{"autoMTLS", false}, {"insecure", true}}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			if !m.insecure && exec.Command(py, "-c", "import cryptography").Run() != nil {
				t.Skip("python3-cryptography is not installed: the Python plugin cannot do AutoMTLS")
			}
			opts := HostOptions{}
			if m.insecure {
				opts.Insecure = []string{"pystats"}
			}
			h := newTestHost(t, opts)
			h.Add(Found{Name: "pystats", Path: script})
			checkTextStats(t, h, "pystats")
			d, _ := h.Describe(context.Background(), "pystats")
			if d.Protocol != 1 {
				t.Fatalf("python plugin negotiated protocol %d, want 1", d.Protocol)
			}
		})
	}
}
