// Package config loads the plexus engine configuration: where plugins are found, the
// simulated devices, worker count, metrics address and logging. It layers the YAML
// file, then PLEXUS_SECTION_KEY environment variables, then command-line flags, and
// decodes strictly, reporting every problem with the file line or the override at fault.
package config

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/plexusml/plexus/core/pipeline"
	"github.com/plexusml/plexus/core/pipeline/strict"
	"github.com/plexusml/plexus/core/sched"
)

// Config is the engine configuration after every layer and default is applied.
type Config struct {
	Plugins Plugins  `koanf:"plugins"`
	Devices []Device `koanf:"devices"`
	// Workers is how many items are decoded and routed at once; 0 in the file means one
	// per CPU core, which Load fills in.
	Workers int     `koanf:"workers"`
	Metrics Metrics `koanf:"metrics"`
	Log     Log     `koanf:"log"`

	// File is the file the configuration came from, "" when only defaults were used.
	File string `koanf:"-"`
}

// Plugins says where plugin binaries are looked for.
type Plugins struct {
	// Path lists directories searched, in order, before $PATH; a leading "~/" is the
	// home directory.
	Path []string `koanf:"path"`
}

// Device is a simulated device, for tests and capacity planning.
type Device struct {
	Name   string        `koanf:"name"`
	Kind   string        `koanf:"kind"` // cpu or gpu
	Memory pipeline.Size `koanf:"memory"`
	Speed  float64       `koanf:"speed"` // relative to the reference device; default 1
	Cores  int           `koanf:"cores"` // for a simulated CPU
}

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	// Addr is host:port to serve /metrics on; "" disables the endpoint.
	Addr string `koanf:"addr"`
}

// Log configures the engine's logger.
type Log struct {
	Level  string `koanf:"level"`  // debug, info, warn, error
	Format string `koanf:"format"` // text or json
}

// EnvPrefix starts every variable that overrides the configuration.
const EnvPrefix = "PLEXUS_"

// flagKeyAnnotation ties a flag registered by RegisterFlags to its configuration key.
const flagKeyAnnotation = "plexus/config-key"

var (
	logLevels  = []string{"debug", "info", "warn", "error"}
	logFormats = []string{"text", "json"}
	nameRE     = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
)

// RegisterFlags adds the flags that override configuration keys: --plugins-path,
// --workers, --metrics-addr, --log-level and --log-format. Load applies the ones the
// user set, after the file and the environment.
func RegisterFlags(fs *pflag.FlagSet) {
	fs.StringSlice("plugins-path", nil, "directories searched for plugins before $PATH (config plugins.path)")
	fs.Int("workers", 0, "items decoded and routed at once; 0 means one per CPU core (config workers)")
	fs.String("metrics-addr", "", "serve Prometheus metrics on host:port, \"\" to disable (config metrics.addr)")
	fs.String("log-level", "", "debug, info, warn or error (config log.level)")
	fs.String("log-format", "", "text or json (config log.format)")
	for flag, key := range map[string]string{
		"plugins-path": "plugins.path", "workers": "workers", "metrics-addr": "metrics.addr",
		"log-level": "log.level", "log-format": "log.format",
	} {
		_ = fs.SetAnnotation(flag, flagKeyAnnotation, []string{key})
	}
}

// envKeys maps each variable to its key: the scalar and string-list keys of the
// schema, PLEXUS_ + the path with "." as "_", upper-cased (PLEXUS_METRICS_ADDR).
// Devices, a list of records, is file-only.
func envKeys() map[string]string {
	out := map[string]string{}
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("koanf"), ",")
			if name == "-" || name == "" {
				continue
			}
			p := strings.TrimPrefix(path+"."+name, ".")
			switch {
			case f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[pipeline.Size]():
				walk(f.Type, p)
			case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() != reflect.String:
			default:
				out[EnvPrefix+strings.ToUpper(strings.ReplaceAll(p, ".", "_"))] = p
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
	return out
}

// keyKind is the Go kind of the field at a dotted key of Config.
func keyKind(key string) reflect.Kind {
	t := reflect.TypeFor[Config]()
	for _, seg := range strings.Split(key, ".") {
		found := false
		for i := range t.NumField() {
			if name, _, _ := strings.Cut(t.Field(i).Tag.Get("koanf"), ","); name == seg {
				t, found = t.Field(i).Type, true
				break
			}
		}
		if !found {
			return reflect.Invalid
		}
	}
	return t.Kind()
}

// Load reads the configuration: the file at path ("" for none), then the PLEXUS_
// variables in env (os.Environ() form; a list variable such as PLEXUS_PLUGINS_PATH is
// split on the OS path-list separator), then the flags of flags that were set (nil for
// none). A PLEXUS_ variable in a configuration section (PLEXUS_LOG_LEVL) that names no
// key is an error; others (PLEXUS_PLUGIN_COOKIE, the plugin protocol's) are not ours and
// are left alone. The error is a pipeline.Diagnostics listing every problem.
func Load(path string, env []string, flags *pflag.FlagSet) (*Config, error) {
	var doc *strict.Doc
	var ds strict.Diagnostics
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("load engine config: %w", err)
		}
		doc, ds = strict.ParseDoc(path, data)
		if doc == nil {
			return nil, ds.Err()
		}
	} else {
		doc, _ = strict.ParseDoc("", nil)
	}

	keys := envKeys()
	var envNames []string
	for k := range keys {
		envNames = append(envNames, k)
	}
	slices.Sort(envNames)
	sections := map[string]bool{}
	for _, k := range keys {
		sec, _, _ := strings.Cut(k, ".")
		sections[EnvPrefix+strings.ToUpper(sec)] = true
	}
	for _, kv := range env {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		origin := "$" + name
		key, known := keys[name]
		if !known {
			sec, _, _ := strings.Cut(strings.TrimPrefix(name, EnvPrefix), "_")
			if sections[EnvPrefix+sec] {
				ds = append(ds, strict.Diagnostic{File: origin, Msg: "no configuration key for this variable" + strict.DidYouMean(name, envNames)})
			}
			continue
		}
		node := strict.PlainNode(val)
		switch keyKind(key) {
		case reflect.Slice:
			node = strict.StringsNode(filepath.SplitList(val))
		case reflect.String:
			node = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: val} // "true" is text here
		}
		if msg := doc.SetNode(key, node, origin, "name"); msg != "" {
			ds = append(ds, strict.Diagnostic{File: origin, Msg: msg})
		}
	}
	if flags != nil {
		flags.Visit(func(f *pflag.Flag) {
			key := f.Annotations[flagKeyAnnotation]
			if len(key) != 1 {
				return
			}
			node := strict.PlainNode(f.Value.String())
			if sv, ok := f.Value.(pflag.SliceValue); ok {
				node = strict.StringsNode(sv.GetSlice())
			} else if f.Value.Type() == "string" {
				node = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: f.Value.String()}
			}
			origin := "--" + f.Name + "=" + f.Value.String()
			if msg := doc.SetNode(key[0], node, origin, "name"); msg != "" {
				ds = append(ds, strict.Diagnostic{File: origin, Msg: msg})
			}
		})
	}

	raw, ix, dds := doc.Decode(reflect.TypeFor[Config]())
	ds = append(ds, dds...)
	var c Config
	if err := strict.Unmarshal(raw, &c); err != nil {
		ds = append(ds, strict.Diagnostic{File: path, Line: 1, Col: 1, Msg: err.Error()})
		return nil, ds.Err()
	}
	c.File = path
	ds = append(ds, validate(doc, ix, &c)...)
	if err := ds.Err(); err != nil {
		return nil, err
	}
	return &c, nil
}

// validate fills defaults and checks values; positions come from the same index the
// decoder built, so an override's problem names the override.
func validate(doc *strict.Doc, ix strict.Index, c *Config) strict.Diagnostics {
	var ds strict.Diagnostics
	at := func(path, format string, args ...any) {
		n := ix.Node(path)
		if n == nil {
			n = doc.Root
		}
		ds = append(ds, doc.At(n, format, args...))
	}
	if !ix.Has("plugins.path") {
		// The plexus binary's own folder first: `make build` puts the plugins beside it.
		c.Plugins.Path = []string{"~/.plexus/plugins"}
		if exe, err := os.Executable(); err == nil {
			c.Plugins.Path = append([]string{filepath.Dir(exe)}, c.Plugins.Path...)
		}
	}
	home, _ := os.UserHomeDir()
	for i, p := range c.Plugins.Path {
		if rest, ok := strings.CutPrefix(p, "~/"); ok && home != "" {
			c.Plugins.Path[i] = filepath.Join(home, rest)
		}
		if p == "" {
			at(fmt.Sprintf("plugins.path.%d", i), "plugins.path: empty directory name")
		}
	}
	switch {
	case c.Workers < 0:
		at("workers", "workers must not be negative (0 means one per CPU core)")
	case c.Workers == 0:
		c.Workers = runtime.NumCPU()
	}
	if a := c.Metrics.Addr; a != "" {
		_, port, err := net.SplitHostPort(a)
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
			at("metrics.addr", "metrics.addr: expected host:port such as 127.0.0.1:9464, got %q", a)
		}
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	} else if !slices.Contains(logLevels, c.Log.Level) {
		at("log.level", "log.level: %q is not one of %s%s", c.Log.Level, strings.Join(logLevels, ", "), strict.DidYouMean(c.Log.Level, logLevels))
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	} else if !slices.Contains(logFormats, c.Log.Format) {
		at("log.format", "log.format: %q is not one of %s", c.Log.Format, strings.Join(logFormats, ", "))
	}
	first := map[string]int{}
	for i := range c.Devices {
		d := &c.Devices[i]
		p := fmt.Sprintf("devices.%d", i)
		switch {
		case d.Name == "" && !ix.Bad[p+".name"]:
			at(p, "device %d has no name", i+1)
		case d.Name != "" && !nameRE.MatchString(d.Name):
			at(p+".name", "invalid device name %q: use lower-case letters, digits, \"_\" and \"-\", starting with a letter", d.Name)
		case d.Name != "":
			if j, dup := first[d.Name]; dup {
				_, line, _ := doc.Pos(ix.Node(fmt.Sprintf("devices.%d.name", j)))
				at(p+".name", "duplicate device name %q (first defined on line %d)", d.Name, line)
			} else {
				first[d.Name] = i
			}
		}
		if d.Kind != string(sched.CPU) && d.Kind != string(sched.GPU) && !ix.Bad[p+".kind"] {
			at(p+".kind", "device kind %q is not one of cpu, gpu", d.Kind)
		}
		if d.Memory <= 0 && !ix.Bad[p+".memory"] {
			at(p+".memory", "device %q needs a memory size, such as 80GiB", d.Name)
		}
		switch {
		case !ix.Has(p + ".speed"):
			d.Speed = 1
		case ix.OK(p+".speed") && d.Speed <= 0:
			at(p+".speed", "speed must be positive, got %g", d.Speed)
		}
		if d.Cores < 0 {
			at(p+".cores", "cores must not be negative")
		}
	}
	return ds
}

// SimDevices returns the configured simulated devices in the scheduler's form.
func (c *Config) SimDevices() []sched.SimDevice {
	out := make([]sched.SimDevice, len(c.Devices))
	for i, d := range c.Devices {
		out[i] = sched.SimDevice{Name: d.Name, Kind: sched.Kind(d.Kind), Memory: d.Memory.Bytes(), Speed: d.Speed, Cores: d.Cores}
	}
	return out
}
