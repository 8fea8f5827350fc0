package sched

import (
	"strings"
	"testing"
)

const gib = int64(1) << 30

func gpus(mem ...int64) []Device {
	devs := []Device{{ID: "cpu", Kind: CPU, Memory: 64 * gib, Free: 64 * gib, Cores: 2}}
	for i, m := range mem {
		devs = append(devs, Device{ID: "gpu" + string(rune('0'+i)), Kind: GPU, Index: i, Memory: m, Free: m})
	}
	return devs
}

func TestPlace(t *testing.T) {
	tests := []struct {
		name string
		devs []Device
		reqs []Request
		want string // stage/instance@device, space separated
		err  string
	}{
		{"spreads across gpus", gpus(16*gib, 16*gib), []Request{{Stage: "classify", Device: "gpu", Memory: 4 * gib, Min: 2, Max: 2}},
			"classify/0@gpu0 classify/1@gpu1", ""},
		{"spreads each stage even when memory says otherwise", gpus(40*gib, 16*gib), []Request{
			{Stage: "a", Device: "gpu", Memory: 2 * gib, Min: 2, Max: 2},
			{Stage: "b", Device: "gpu", Memory: 2 * gib, Min: 2, Max: 2}},
			"a/0@gpu0 a/1@gpu1 b/0@gpu0 b/1@gpu1", ""},
		{"bin-packs on free memory", gpus(24*gib, 8*gib), []Request{
			{Stage: "big", Device: "gpu", Memory: 20 * gib, Min: 1, Max: 1},
			{Stage: "small", Device: "gpu", Memory: 6 * gib, Min: 1, Max: 1}},
			"big/0@gpu0 small/0@gpu1", ""},
		{"any falls back to cpu", gpus(2 * gib), []Request{{Stage: "asr", Device: "any", Memory: 4 * gib, Min: 1, Max: 1}},
			"asr/0@cpu", ""},
		{"any prefers gpu", gpus(8 * gib), []Request{{Stage: "asr", Device: "any", Memory: 4 * gib, Min: 1, Max: 1}},
			"asr/0@gpu0", ""},
		{"no gpu machine runs any on cpu", gpus(), []Request{{Stage: "a", Device: "any", Memory: gib, Min: 1, Max: 2}},
			"a/0@cpu a/1@cpu", ""},
		{"max fills what fits", gpus(10 * gib), []Request{{Stage: "a", Device: "gpu", Memory: 4 * gib, Min: 1, Max: 5}},
			"a/0@gpu0 a/1@gpu0", ""},
		{"min of every stage before extras", gpus(12 * gib), []Request{
			{Stage: "a", Device: "gpu", Memory: 4 * gib, Min: 1, Max: 4},
			{Stage: "b", Device: "gpu", Memory: 4 * gib, Min: 1, Max: 1}},
			"a/0@gpu0 a/1@gpu0 b/0@gpu0", ""},
		{"refuses with the right message", gpus(16*gib, 16*gib), []Request{{Stage: "classify", Device: "gpu", Memory: 24 * gib, Min: 3, Max: 3}},
			"", "stage classify needs 3 × 24 GiB on gpu; the largest free GPU has 16 GiB"},
		{"refuses gpu on a cpu machine", gpus(), []Request{{Stage: "x", Device: "gpu", Memory: gib, Min: 1, Max: 1}},
			"", "stage x needs 1 × 1 GiB on gpu; there is no gpu on this machine"},
		{"reports every stage", gpus(gib), []Request{
			{Stage: "x", Device: "gpu", Memory: 2 * gib, Min: 1, Max: 1},
			{Stage: "y", Device: "cpu", Memory: 100 * gib, Min: 1, Max: 1}},
			"", "stage x needs 1 × 2 GiB on gpu; the largest free GPU has 1 GiB\nstage y needs 1 × 100 GiB on cpu; the largest free CPU has 64 GiB"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Place(tc.devs, tc.reqs)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var parts []string
			for _, a := range got {
				parts = append(parts, a.Stage+"/"+string(rune('0'+a.Instance))+"@"+a.Device)
			}
			if s := strings.Join(parts, " "); s != tc.want {
				t.Fatalf("placed %s, want %s", s, tc.want)
			}
		})
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{512: "512 B", 64 << 10: "64 KiB", 3 * gib / 2: "1.5 GiB", 24 * gib: "24 GiB"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
