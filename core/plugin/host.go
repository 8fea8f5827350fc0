// Package plugin is the host side of plexus model plugins: it discovers plugin
// binaries, launches and supervises their processes (restart with backoff, retries,
// poisoned-item isolation) and checks pipeline stages against their contracts. Each
// plugin runs as its own process and speaks plexus.v1 over go-plugin's gRPC.
package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/runner"
	"github.com/plexusml/plexus/core/tensor"
	"github.com/plexusml/plexus/plugins/proto/codec"
	pb "github.com/plexusml/plexus/plugins/proto/plexus/v1"
	"google.golang.org/grpc"
)

// The types the engine exchanges with plugins; plugins/sdk shares them.
type (
	Item        = codec.Item
	Result      = codec.Result
	Value       = codec.Value
	Description = codec.Description
	ModelInfo   = codec.ModelInfo
	Task        = codec.Task
	Contract    = codec.Contract
	FieldSpec   = codec.FieldSpec
	ConfigField = codec.ConfigField
	ItemError   = codec.ItemError
	FieldError  = codec.FieldError
)

// Per-item error kinds, matched with errors.Is: ErrBadItem and ErrPoison mean the item
// is at fault (dead-letter it), ErrUnavailable that the plugin could not be run (retry
// later), ErrInternal that the plugin failed on it.
var (
	ErrBadItem     = codec.ErrBadItem
	ErrPoison      = codec.ErrPoison
	ErrUnavailable = codec.ErrUnavailable
	ErrInternal    = codec.ErrInternal
)

// ErrNotFound is returned for a plugin name that discovery does not know.
var ErrNotFound = errors.New("plugin not found")

// Backoff is the restart policy of a crashed or hung plugin: the n-th consecutive
// failure waits Initial·2ⁿ⁻¹, at most Max.
type Backoff struct {
	Initial time.Duration // default 100ms
	Max     time.Duration // default 10s
	// Retries is how many times a failing batch is re-sent before it is bisected to
	// find the item at fault; a lone item gets as many (default 2).
	Retries int
}

// HostOptions configures a Host; zero values take the defaults.
type HostOptions struct {
	// Dirs are searched for plugins before PATH (config: plugins.path).
	Dirs []string
	// SkipPATH disables the search of $PATH for plexus-plugin-* binaries.
	SkipPATH bool
	// Logger receives the host's and the plugins' logs (default: stderr, info).
	Logger hclog.Logger
	// CallTimeout bounds one Process call; a plugin that overruns it is considered
	// hung, killed and restarted (default 60s).
	CallTimeout time.Duration
	// StartTimeout bounds a plugin's start and handshake (default 30s).
	StartTimeout time.Duration
	// LoadTimeout bounds Load (default 10m: weights can be large).
	LoadTimeout time.Duration
	Backoff     Backoff
	// ArenaThreshold is the smallest tensor, in bytes, sent through shared memory
	// (default 64 KiB); negative disables the arena.
	ArenaThreshold int
	// ArenaKind selects memfd or /dev/shm files (default: memfd where available).
	ArenaKind tensor.ArenaKind
	// Insecure names plugins started without AutoMTLS (config: plugins.insecure), for
	// plugins in languages that do not implement it.
	Insecure []string
	// Env is added to every plugin's environment.
	Env []string
}

// Host owns every plugin process of a run; Close kills them all.
type Host struct {
	opts   HostOptions
	logger hclog.Logger
	sweep  sync.Once

	mu        sync.Mutex
	extra     map[string]Found
	descs     map[string]descEntry
	instances map[*Instance]struct{}
	closed    bool
}

type descEntry struct {
	key  string
	desc *Description
}

// NewHost returns a Host; it starts nothing until asked.
func NewHost(opts HostOptions) *Host {
	if opts.Logger == nil {
		opts.Logger = hclog.New(&hclog.LoggerOptions{Name: "plugin", Output: os.Stderr, Level: hclog.Info})
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 60 * time.Second
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 30 * time.Second
	}
	if opts.LoadTimeout <= 0 {
		opts.LoadTimeout = 10 * time.Minute
	}
	if opts.Backoff.Initial <= 0 {
		opts.Backoff.Initial = 100 * time.Millisecond
	}
	if opts.Backoff.Max <= 0 {
		opts.Backoff.Max = 10 * time.Second
	}
	if opts.Backoff.Retries <= 0 {
		opts.Backoff.Retries = 2
	}
	if opts.ArenaThreshold == 0 {
		opts.ArenaThreshold = codec.DefaultArenaThreshold
	}
	return &Host{opts: opts, logger: opts.Logger, extra: map[string]Found{},
		descs: map[string]descEntry{}, instances: map[*Instance]struct{}{}}
}

// Add registers a plugin explicitly; it shadows any discovered one of the same name.
func (h *Host) Add(f Found) {
	h.mu.Lock()
	h.extra[f.Name] = f
	h.mu.Unlock()
}

// Describe starts the plugin, asks what it offers and stops it. The answer is cached
// per binary (path, size and modification time).
func (h *Host) Describe(ctx context.Context, name string) (*Description, error) {
	f, err := h.Resolve(name)
	if err != nil {
		return nil, err
	}
	key := f.cacheKey()
	h.mu.Lock()
	e, ok := h.descs[f.Name]
	h.mu.Unlock()
	if ok && e.key == key {
		return e.desc, nil
	}
	p, err := h.launch(f, nil, "")
	if err != nil {
		return nil, err
	}
	defer p.stop()
	cctx, cancel := context.WithTimeout(ctx, h.opts.StartTimeout)
	defer cancel()
	resp, err := p.rpc.Describe(cctx, &pb.DescribeRequest{})
	if err != nil {
		return nil, fmt.Errorf("plugin %s (%s): describe: %w", f.Name, f.Path, err)
	}
	d, err := codec.DescriptionFromProto(resp)
	if err != nil {
		return nil, fmt.Errorf("plugin %s (%s): describe: %w", f.Name, f.Path, err)
	}
	d.Protocol = p.version
	h.mu.Lock()
	h.descs[f.Name] = descEntry{key: key, desc: d}
	h.mu.Unlock()
	return d, nil
}

// Instance starts a supervised process of the plugin and loads model in it with
// config (validated against the model's schema first) on device. The Instance
// restarts the process transparently when it crashes or hangs.
func (h *Host) Instance(ctx context.Context, name, model string, config map[string]any, device string) (*Instance, error) {
	d, err := h.Describe(ctx, name)
	if err != nil {
		return nil, err
	}
	m, ok := d.FindModel(model)
	if !ok {
		return nil, fmt.Errorf("plugin %s has no model %q (it offers %s)", name, model, modelNames(d))
	}
	if _, err := codec.ValidateConfig(m.Config, config); err != nil {
		return nil, fmt.Errorf("plugin %s model %s: %w", name, model, err)
	}
	cfg, err := json.Marshal(config)
	if err != nil {
		return nil, fmt.Errorf("plugin %s model %s: config: %w", name, model, err)
	}
	f, err := h.Resolve(name)
	if err != nil {
		return nil, err
	}
	inst := &Instance{h: h, found: f, model: m, cfgJSON: cfg, device: device}
	if h.opts.ArenaThreshold >= 0 {
		a, err := tensor.NewArena(h.opts.ArenaKind, 1<<20)
		if err != nil && !errors.Is(err, tensor.ErrArenaUnsupported) {
			return nil, fmt.Errorf("plugin %s: %w", name, err)
		}
		inst.arena = a
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		inst.closeArena()
		return nil, errors.New("plugin host is closed")
	}
	h.instances[inst] = struct{}{}
	h.mu.Unlock()
	inst.mu.Lock()
	err = inst.start(ctx)
	inst.mu.Unlock()
	if err != nil {
		inst.Close()
		return nil, err
	}
	return inst, nil
}

func (h *Host) socketDir() string {
	h.sweep.Do(sweepSocketDirs)
	return socketDir()
}

// Close stops every plugin process the host started.
func (h *Host) Close() error {
	h.mu.Lock()
	h.closed = true
	insts := make([]*Instance, 0, len(h.instances))
	for i := range h.instances {
		insts = append(insts, i)
	}
	h.mu.Unlock()
	var wg sync.WaitGroup
	for _, i := range insts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			i.Close()
		}()
	}
	wg.Wait()
	removeSocketDir()
	return nil
}

func (h *Host) forget(i *Instance) {
	h.mu.Lock()
	delete(h.instances, i)
	h.mu.Unlock()
}

func (h *Host) insecure(name string) bool {
	for _, n := range h.opts.Insecure {
		if n == name {
			return true
		}
	}
	return false
}

// proc is one running plugin process.
type proc struct {
	client  *goplugin.Client
	runner  *procRunner
	rpc     pb.PluginClient
	version int
}

// kill SIGKILLs the process group at once: for crashed and hung plugins.
func (p *proc) kill() {
	if p.runner != nil {
		_ = p.runner.Kill(context.Background())
	}
	p.client.Kill()
}

// stop asks the plugin to shut down (go-plugin's controller) and kills its process
// group if it has not exited within two seconds.
func (p *proc) stop() {
	p.client.Kill()
	if p.runner != nil {
		_ = p.runner.Kill(context.Background())
	}
}

func (p *proc) exited() bool { return p.client.Exited() }

// launch starts f's process. With an arena the process inherits its descriptor.
func (h *Host) launch(f Found, arena *tensor.Arena, device string) (*proc, error) {
	p := &proc{}
	pluginSet := goplugin.PluginSet{codec.PluginKey: &clientPlugin{}}
	cfg := &goplugin.ClientConfig{
		HandshakeConfig: codec.Handshake,
		VersionedPlugins: map[int]goplugin.PluginSet{
			codec.ProtocolV1: pluginSet,
			codec.ProtocolV2: pluginSet,
		},
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		AutoMTLS:         !h.insecure(f.Name),
		Logger:           h.logger.Named(f.Name),
		StartTimeout:     h.opts.StartTimeout,
		// go-plugin redirects a plugin's stdout after the handshake; what it prints
		// there is logged rather than lost.
		SyncStdout:       h.logger.Named(f.Name).StandardWriter(&hclog.StandardLoggerOptions{ForceLevel: hclog.Warn}),
		UnixSocketConfig: &goplugin.UnixSocketConfig{TempDir: h.socketDir()},
		GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(codec.MaxMessageSize), grpc.MaxCallSendMsgSize(codec.MaxMessageSize))},
		RunnerFunc: func(l hclog.Logger, spec *exec.Cmd, _ string) (runner.Runner, error) {
			cmd := exec.Command(f.Path, f.Args...)
			cmd.Env = append(append(spec.Env, h.opts.Env...), codec.EnvDevice+"="+device)
			cmd.Env = append(cmd.Env, deviceEnv(device)...)
			cmd.SysProcAttr = sysProcAttr()
			if arena != nil {
				cmd.ExtraFiles = []*os.File{arena.File()}
				cmd.Env = append(cmd.Env, codec.EnvArenaFD+"=3")
			}
			r, err := newRunner(l, cmd)
			p.runner = r
			return r, err
		},
	}
	p.client = goplugin.NewClient(cfg)
	rpcClient, err := p.client.Client()
	if err != nil {
		p.kill()
		reason := ""
		if p.runner != nil {
			reason = p.runner.tail.lastLines(3)
		}
		if reason != "" {
			return nil, fmt.Errorf("start plugin %s (%s): %w; stderr: %s", f.Name, f.Path, err, reason)
		}
		return nil, fmt.Errorf("start plugin %s (%s): %w", f.Name, f.Path, err)
	}
	raw, err := rpcClient.Dispense(codec.PluginKey)
	if err != nil {
		p.kill()
		return nil, fmt.Errorf("start plugin %s (%s): %w", f.Name, f.Path, err)
	}
	p.rpc = raw.(pb.PluginClient)
	p.version = p.client.NegotiatedVersion()
	return p, nil
}

// deviceEnv restricts a GPU plugin to its device, so "gpu:1" is device 0 inside it.
func deviceEnv(device string) []string {
	var n string
	if _, err := fmt.Sscanf(device, "gpu:%s", &n); err == nil {
		return []string{"CUDA_VISIBLE_DEVICES=" + n}
	}
	return nil
}

type clientPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
}

func (clientPlugin) GRPCServer(*goplugin.GRPCBroker, *grpc.Server) error {
	return errors.New("the host serves no plugin")
}

func (clientPlugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return pb.NewPluginClient(c), nil
}

func modelNames(d *Description) string {
	s := ""
	for i, m := range d.Models {
		if i > 0 {
			s += ", "
		}
		s += m.Name
	}
	if s == "" {
		return "no models"
	}
	return s
}

var _ goplugin.GRPCPlugin = clientPlugin{}
