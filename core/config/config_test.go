package config

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/plexusml/plexus/core/pipeline"
)

func TestLoadLayers(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	RegisterFlags(fs)
	if err := fs.Parse([]string{"--log-format=json", "--plugins-path=/a,/b"}); err != nil {
		t.Fatal(err)
	}
	env := []string{"PLEXUS_WORKERS=7", "PLEXUS_LOG_LEVEL=warn", "PLEXUS_PLUGIN_COOKIE=not-ours", "HOME_X=1",
		"PLEXUS_METRICS_ADDR=:9000"}
	c, err := Load("testdata/good.yaml", env, fs)
	if err != nil {
		t.Fatal(err)
	}
	if c.Workers != 7 { // env beats file
		t.Errorf("workers = %d, want 7 from PLEXUS_WORKERS", c.Workers)
	}
	if c.Log.Level != "warn" || c.Log.Format != "json" {
		t.Errorf("log = %+v, want warn (env) and json (flag)", c.Log)
	}
	if strings.Join(c.Plugins.Path, ",") != "/a,/b" { // flag beats file
		t.Errorf("plugins.path = %v, want [/a /b]", c.Plugins.Path)
	}
	if c.Metrics.Addr != ":9000" {
		t.Errorf("metrics.addr = %q", c.Metrics.Addr)
	}
	sims := c.SimDevices()
	if len(sims) != 2 || sims[0].Memory != 80<<30 || sims[0].Speed != 4 || sims[1].Speed != 1 || sims[1].Cores != 16 {
		t.Errorf("devices = %+v", sims)
	}
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load("", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Workers != runtime.NumCPU() || c.Log.Level != "info" || c.Log.Format != "text" || c.Metrics.Addr != "" || len(c.Plugins.Path) != 2 {
		t.Errorf("defaults = %+v", c)
	}
	home, err := os.UserHomeDir()
	if err == nil && c.Plugins.Path[1] != filepath.Join(home, ".plexus/plugins") {
		t.Errorf("~ not expanded: %v", c.Plugins.Path)
	}
	if exe, err := os.Executable(); err == nil && c.Plugins.Path[0] != filepath.Dir(exe) {
		t.Errorf("the binary's folder is not searched first: %v", c.Plugins.Path)
	}
	// The environment alone, with a list split on the path separator.
	c, err = Load("", []string{"PLEXUS_PLUGINS_PATH=/x" + string(filepath.ListSeparator) + "/y"}, nil)
	if err != nil || len(c.Plugins.Path) != 2 || c.Plugins.Path[1] != "/y" {
		t.Errorf("PLEXUS_PLUGINS_PATH: %v, %v", c, err)
	}
}

func TestShippedConfig(t *testing.T) {
	if _, err := Load("../../configs/plexus.yaml", nil, nil); err != nil {
		t.Fatal(err)
	}
}

func TestLoadErrors(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	RegisterFlags(fs)
	if err := fs.Parse([]string{"--workers=-3"}); err != nil {
		t.Fatal(err)
	}
	_, err := Load("testdata/bad.yaml", []string{"PLEXUS_LOG_LEVL=x", "PLEXUS_METRICS_ADDR=nope", "PLEXUS_LOG_FORMAT=true"}, fs)
	var ds pipeline.Diagnostics
	if !errors.As(err, &ds) {
		t.Fatalf("error %T %v, want Diagnostics", err, err)
	}
	want := strings.Join([]string{
		`$PLEXUS_LOG_LEVL: no configuration key for this variable (did you mean "PLEXUS_LOG_LEVEL"?)`,
		`$PLEXUS_METRICS_ADDR: metrics.addr: expected host:port such as 127.0.0.1:9464, got "nope"`,
		`$PLEXUS_LOG_FORMAT: log.format: "true" is not one of text, json`,
		`--workers=-3: workers must not be negative (0 means one per CPU core)`,
		`testdata/bad.yaml:2:15: plugins.path: empty directory name`,
		`testdata/bad.yaml:3:3: unknown key "dirs"`,
		`testdata/bad.yaml:6:12: duplicate device name "a100" (first defined on line 5)`,
		`testdata/bad.yaml:6:24: device kind "tpu" is not one of cpu, gpu`,
		`testdata/bad.yaml:6:37: device "a100" needs a memory size, such as 80GiB`,
		`testdata/bad.yaml:7:12: invalid device name "Big": use lower-case letters, digits, "_" and "-", starting with a letter`,
		`testdata/bad.yaml:7:36: memory: expected a size like 1024, "64KiB" or "1GiB", got "lots"`,
		`testdata/bad.yaml:7:49: speed must be positive, got -1`,
		`testdata/bad.yaml:7:60: cores must not be negative`,
		`testdata/bad.yaml:10:14: log.level: "verbose" is not one of debug, info, warn, error`,
	}, "\n")
	got := ds.Error()
	for _, line := range strings.Split(want, "\n") {
		if !strings.Contains(got, line) {
			t.Errorf("missing diagnostic:\n  %s\ngot:\n%s", line, got)
		}
	}
	// workers: many in the file is replaced by the flag, so it is never reported.
	if strings.Contains(got, "many") {
		t.Errorf("overridden value reported:\n%s", got)
	}
}

func FuzzLoadConfig(f *testing.F) {
	for _, p := range []string{"testdata/good.yaml", "testdata/bad.yaml", "../../configs/plexus.yaml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "PLEXUS_WORKERS=2")
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, env string) {
		p := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(p, []string{env}, nil)
		var ds pipeline.Diagnostics
		if err != nil && !errors.As(err, &ds) {
			t.Fatalf("error is not Diagnostics: %v", err)
		}
	})
}
