package sched

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const smiOut = `0, GPU-8a1b2c3d-0000-1111-2222-333344445555, NVIDIA H100 80GB HBM3, 81559, 80000, 3
1, GPU-8a1b2c3d-0000-1111-2222-333344446666, NVIDIA H100 80GB HBM3, 81559, 1024, [N/A]
`

func TestParseNvidiaSMI(t *testing.T) {
	devs, err := ParseNvidiaSMI([]byte(smiOut))
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 2 {
		t.Fatalf("%d devices", len(devs))
	}
	d := devs[0]
	if d.ID != "gpu0" || d.Kind != GPU || d.Memory != 81559<<20 || d.Free != 80000<<20 || d.Utilisation != 0.03 || !strings.HasPrefix(d.UUID, "GPU-") || d.Name != "NVIDIA H100 80GB HBM3" {
		t.Fatalf("device 0 = %+v", d)
	}
	if devs[1].Utilisation != 0 || devs[1].Index != 1 {
		t.Fatalf("device 1 = %+v", devs[1])
	}
	for _, bad := range []string{"0, x, y\n", "a, b, c, 1, 2, 3\n", "0, \"unterminated, 1, 2, 3\n"} {
		if _, err := ParseNvidiaSMI([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// TestInventoryFakeSMI runs a real executable that prints what nvidia-smi prints, and one
// that fails as nvidia-smi does without a driver.
func TestInventoryFakeSMI(t *testing.T) {
	dir := t.TempDir()
	ok := filepath.Join(dir, "smi-ok")
	if err := os.WriteFile(ok, []byte("#!/bin/sh\ncat <<'E'\n"+smiOut+"E\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	devs, err := Inventory(context.Background(), InventoryOptions{NvidiaSMI: ok})
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 3 || devs[0].Kind != CPU || devs[0].Cores < 1 || devs[2].ID != "gpu1" {
		t.Fatalf("inventory = %+v", devs)
	}
	fail := filepath.Join(dir, "smi-fail")
	if err := os.WriteFile(fail, []byte("#!/bin/sh\necho 'NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.' >&2\nexit 9\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	devs, err = Inventory(context.Background(), InventoryOptions{NvidiaSMI: fail})
	if err != nil || len(devs) != 1 || devs[0].Kind != CPU {
		t.Fatalf("no driver: %+v, %v", devs, err)
	}
	devs, err = Inventory(context.Background(), InventoryOptions{NvidiaSMI: filepath.Join(dir, "absent")})
	if err != nil || len(devs) != 1 {
		t.Fatalf("no nvidia-smi: %+v, %v", devs, err)
	}
}

func TestInventorySimulated(t *testing.T) {
	sims := []SimDevice{{Name: "a100-0", Kind: GPU, Memory: 40 << 30, Speed: 2}, {Name: "a100-1", Kind: GPU, Memory: 40 << 30}}
	devs, err := Inventory(context.Background(), InventoryOptions{Simulated: sims, OnlySimulated: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 2 || !devs[0].Simulated || devs[0].Speed != 2 || devs[1].Speed != 1 || devs[1].Free != 40<<30 {
		t.Fatalf("simulated inventory = %+v", devs)
	}
	for _, bad := range [][]SimDevice{
		{{Name: "", Kind: GPU, Memory: 1}},
		{{Name: "x", Kind: "tpu", Memory: 1}},
		{{Name: "x", Kind: GPU}},
		{{Name: "x", Kind: GPU, Memory: 1}, {Name: "x", Kind: GPU, Memory: 1}},
	} {
		if _, err := Inventory(context.Background(), InventoryOptions{Simulated: bad, OnlySimulated: true}); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
}

func FuzzParseNvidiaSMI(f *testing.F) {
	f.Add([]byte(smiOut))
	f.Add([]byte("0, u, n, 1, 2, 3"))
	f.Fuzz(func(t *testing.T, b []byte) {
		devs, err := ParseNvidiaSMI(b)
		if err != nil {
			return
		}
		for _, d := range devs {
			if d.Memory < 0 || d.Free < 0 || d.Kind != GPU {
				t.Fatalf("bad device %+v", d)
			}
		}
	})
}
