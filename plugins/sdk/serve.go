package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"

	"github.com/hashicorp/go-plugin"
	"github.com/plexusml/plexus/core/tensor"
	"github.com/plexusml/plexus/plugins/proto/codec"
	pb "github.com/plexusml/plexus/plugins/proto/plexus/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Serve runs p as a plugin process and never returns. Run by hand, the binary says it
// is a plexus plugin and exits.
func Serve(p Plugin) {
	s := newServer(p)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: codec.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{
			codec.ProtocolV1: {codec.PluginKey: &grpcPlugin{srv: s, version: codec.ProtocolV1}},
			codec.ProtocolV2: {codec.PluginKey: &grpcPlugin{srv: s, version: codec.ProtocolV2}},
		},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			// gRPC's server keeps a 4 MiB receive limit unless told otherwise.
			opts = append(opts, grpc.MaxRecvMsgSize(codec.MaxMessageSize), grpc.MaxSendMsgSize(codec.MaxMessageSize))
			return grpc.NewServer(opts...)
		},
		Logger: logger,
	})
	os.Exit(0)
}

type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	srv     *server
	version int
}

func (g *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	// go-plugin calls this only for the negotiated version.
	g.srv.version = g.version
	pb.RegisterPluginServer(s, g.srv)
	return nil
}

func (g *grpcPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("sdk: a plugin process has no client side")
}

type server struct {
	pb.UnimplementedPluginServer
	p       Plugin
	version int

	mu        sync.Mutex
	instances map[string]*loaded
	next      int

	// The host sends one batch at a time per process; callMu keeps the arena's
	// output placement consistent should it not.
	callMu sync.Mutex
	arena  *tensor.Arena
}

type loaded struct {
	inst  Instance
	model *codec.ModelInfo
}

func newServer(p Plugin) *server {
	return &server{p: p, instances: map[string]*loaded{}}
}

func (s *server) description() (*codec.Description, error) {
	d := s.p.Describe()
	if s.version >= codec.ProtocolV2 && !d.HasCapability(codec.CapabilityArena) {
		d.Capabilities = append(d.Capabilities, codec.CapabilityArena)
	}
	return &d, nil
}

func (s *server) Describe(context.Context, *pb.DescribeRequest) (*pb.DescribeResponse, error) {
	d, err := s.description()
	if err != nil {
		return nil, err
	}
	r, err := codec.DescriptionToProto(d)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return r, nil
}

func (s *server) Load(ctx context.Context, req *pb.LoadRequest) (*pb.LoadResponse, error) {
	d, _ := s.description()
	m, ok := d.FindModel(req.GetModel())
	if !ok {
		return nil, status.Errorf(codes.NotFound, "plugin %s has no model %q", d.Name, req.GetModel())
	}
	cfg := map[string]any{}
	if b := req.GetConfigJson(); len(b) > 0 {
		if err := json.Unmarshal(b, &cfg); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "model %s: config is not a JSON object: %v", m.Name, err)
		}
	}
	cfg, err := codec.ValidateConfig(m.Config, cfg)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "model %s: %v", m.Name, err)
	}
	inst, err := s.p.Load(ctx, LoadRequest{Model: m.Name, Config: cfg, Device: req.GetDevice()})
	if err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "load model %s: %v", m.Name, err)
	}
	s.mu.Lock()
	s.next++
	id := m.Name + "#" + strconv.Itoa(s.next)
	s.instances[id] = &loaded{inst: inst, model: m}
	s.mu.Unlock()
	return &pb.LoadResponse{Instance: id}, nil
}

func (s *server) Unload(_ context.Context, req *pb.UnloadRequest) (*pb.UnloadResponse, error) {
	s.mu.Lock()
	l, ok := s.instances[req.GetInstance()]
	delete(s.instances, req.GetInstance())
	s.mu.Unlock()
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no instance %q", req.GetInstance())
	}
	if c, ok := l.inst.(io.Closer); ok {
		if err := c.Close(); err != nil {
			return nil, status.Errorf(codes.Internal, "unload %s: %v", req.GetInstance(), err)
		}
	}
	return &pb.UnloadResponse{}, nil
}

func (s *server) Health(context.Context, *pb.HealthRequest) (*pb.HealthResponse, error) {
	s.mu.Lock()
	n := len(s.instances)
	s.mu.Unlock()
	return &pb.HealthResponse{Ok: true, Instances: int32(n)}, nil
}

func (s *server) Process(ctx context.Context, req *pb.ProcessRequest) (*pb.ProcessResponse, error) {
	s.mu.Lock()
	l, ok := s.instances[req.GetInstance()]
	s.mu.Unlock()
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no instance %q (was it loaded?)", req.GetInstance())
	}
	task, ok := l.model.FindTask(req.GetTask())
	if !ok {
		return nil, status.Errorf(codes.InvalidArgument, "model %s has no task %q", l.model.Name, req.GetTask())
	}
	if m := l.model.MaxBatch; m > 0 && len(req.GetItems()) > m {
		return nil, status.Errorf(codes.InvalidArgument, "batch of %d items exceeds model %s's max batch %d", len(req.GetItems()), l.model.Name, m)
	}
	s.callMu.Lock()
	defer s.callMu.Unlock()

	var arena *tensor.Arena
	if req.GetArena() != nil && s.version >= codec.ProtocolV2 {
		a, err := s.mapArena(req.GetArena().GetSize())
		if err != nil {
			return nil, status.Errorf(codes.FailedPrecondition, "shared memory: %v", err)
		}
		// Mappings superseded by growth during the previous call are no longer
		// referenced: the host has copied that call's outputs out.
		a.Release()
		arena = a
	}
	dec := codec.Decoder{Arena: arena}
	n := len(req.GetItems())
	results := make([]Result, n)
	ids := make([]string, n)
	items := make([]Item, 0, n)
	index := make([]int, 0, n)
	for i, pi := range req.GetItems() {
		ids[i] = pi.GetId()
		it, err := dec.Item(pi)
		if err == nil {
			err = codec.CheckItem(task.Input, it)
		}
		if err != nil {
			var ie *codec.ItemError
			if !errors.As(err, &ie) {
				err = &codec.ItemError{Item: it.ID, Kind: codec.ErrBadItem, Reason: err.Error()}
			}
			results[i] = Result{Err: err}
			continue
		}
		items = append(items, it)
		index = append(index, i)
	}
	if len(items) > 0 {
		out := l.inst.Process(context.WithValue(ctx, seedKey{}, req.GetSeed()), task.Name, items)
		for j, i := range index {
			if j < len(out) {
				results[i] = out[j]
			} else {
				results[i] = Result{Err: &codec.ItemError{Item: ids[i], Kind: codec.ErrInternal,
					Reason: fmt.Sprintf("plugin returned %d results for %d items", len(out), len(items))}}
			}
		}
	}
	enc := codec.Encoder{Arena: arena, Threshold: codec.DefaultArenaThreshold, CanGrow: true}
	resp := &pb.ProcessResponse{Results: make([]*pb.Result, n)}
	if arena != nil {
		enc.Reset(req.GetArena().GetOutOffset())
	}
	for i := range results {
		resp.Results[i] = enc.Result(ids[i], results[i])
	}
	if arena != nil {
		resp.ArenaSize = uint64(arena.Size())
	}
	return resp, nil
}

// mapArena maps the inherited arena descriptor on first use and follows the host's
// growth afterwards.
func (s *server) mapArena(size uint64) (*tensor.Arena, error) {
	if s.arena != nil {
		if int64(size) > s.arena.Size() {
			return s.arena, s.arena.Refresh()
		}
		return s.arena, nil
	}
	v := os.Getenv(codec.EnvArenaFD)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("%s=%q is not an inherited descriptor", codec.EnvArenaFD, v)
	}
	a, err := tensor.OpenArena(os.NewFile(uintptr(fd), "plexus-arena"))
	if err != nil {
		return nil, err
	}
	s.arena = a
	return a, nil
}

var (
	_ pb.PluginServer   = (*server)(nil)
	_ plugin.GRPCPlugin = (*grpcPlugin)(nil)
)
