package pipeline

import (
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	good := map[string]int64{
		"0": 0, "1024": 1024, "64KiB": 64 << 10, "1GiB": 1 << 30, "10MB": 10e6, "1.5GiB": 3 << 29,
		"2 mib": 2 << 20, "3k": 3 << 10, "1kB": 1000, "7B": 7, "1TiB": 1 << 40, "8388607TiB": 8388607 << 40,
	}
	for in, want := range good {
		got, err := ParseSize(in)
		if err != nil || got.Bytes() != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "GiB", "-1", "1.5", "1XB", "1.2.3MB", "8388608TiB", "99999999999999999999", "0x10", "1e3"} {
		if got, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, got)
		}
	}
	if s := Size(3 << 30).String(); s != "3GiB" {
		t.Errorf("String = %q, want 3GiB", s)
	}
	if s := Size(1000).String(); s != "1000" {
		t.Errorf("String = %q, want 1000", s)
	}
}

func TestParseDuration(t *testing.T) {
	d, err := ParseDuration("1m30s")
	if err != nil || d.Std() != 90*time.Second || d.String() != "1m30s" {
		t.Errorf("ParseDuration(1m30s) = %v, %v", d, err)
	}
	if d, err := ParseDuration("0"); err != nil || d != 0 {
		t.Errorf("ParseDuration(0) = %v, %v", d, err)
	}
	for _, in := range []string{"", "5", "-1s", "soon", "1y"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) succeeded, want an error", in)
		}
	}
}

func TestInstancesText(t *testing.T) {
	var in Instances
	if err := in.UnmarshalText([]byte("3")); err != nil || in != (Instances{3, 3}) {
		t.Errorf("instances 3 = %+v, %v", in, err)
	}
	for _, bad := range []string{"0", "-2", "x", ""} {
		if err := in.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("instances %q accepted", bad)
		}
	}
}
