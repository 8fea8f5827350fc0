// Command oldproto is a plugin written against protocol version 1 only, with go-plugin
// and the generated plexus.v1 code directly, as a third-party plugin built before the
// shared-memory arena existed would be. It moves every tensor inline.
package main

import (
	"context"
	"errors"

	"github.com/hashicorp/go-plugin"
	pb "github.com/plexusml/plexus/plugins/proto/plexus/v1"
	"google.golang.org/grpc"
)

type server struct {
	pb.UnimplementedPluginServer
}

func (server) Describe(context.Context, *pb.DescribeRequest) (*pb.DescribeResponse, error) {
	return &pb.DescribeResponse{Name: "oldproto", Version: "0.9.0", Models: []*pb.ModelInfo{{
		Name:  "double",
		Tasks: []*pb.TaskInfo{{Name: "double", Input: &pb.Contract{Fields: []*pb.FieldSpec{{Name: "x", Kind: "tensor", Dtype: "float32"}}}}},
	}}}, nil
}

func (server) Load(context.Context, *pb.LoadRequest) (*pb.LoadResponse, error) {
	return &pb.LoadResponse{Instance: "double-1"}, nil
}

func (server) Health(context.Context, *pb.HealthRequest) (*pb.HealthResponse, error) {
	return &pb.HealthResponse{Ok: true}, nil
}

// Process doubles float32 tensor x; a v1 plugin only ever sees inline bytes.
func (server) Process(_ context.Context, req *pb.ProcessRequest) (*pb.ProcessResponse, error) {
	resp := &pb.ProcessResponse{}
	for _, it := range req.GetItems() {
		t := it.GetFields()["x"].GetTensor()
		in := t.GetInline()
		if t == nil || len(in)%4 != 0 || t.GetArena() != nil {
			resp.Results = append(resp.Results, &pb.Result{Error: &pb.ItemError{Kind: "bad_item", Message: "x must be an inline float32 tensor"}})
			continue
		}
		out := make([]byte, len(in))
		for i := 0; i < len(in); i += 4 {
			// Doubling a float adds one to its exponent, unless it is zero or special.
			v := uint32(in[i]) | uint32(in[i+1])<<8 | uint32(in[i+2])<<16 | uint32(in[i+3])<<24
			if e := v >> 23 & 0xff; e != 0 && e < 0xfe {
				v += 1 << 23
			}
			out[i], out[i+1], out[i+2], out[i+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		}
		resp.Results = append(resp.Results, &pb.Result{Fields: map[string]*pb.Value{
			"y": {Kind: &pb.Value_Tensor{Tensor: &pb.Tensor{Dtype: "float32", Shape: t.GetShape(), Data: &pb.Tensor_Inline{Inline: out}}}},
		}})
	}
	return resp, nil
}

type stage struct{ plugin.NetRPCUnsupportedPlugin }

func (stage) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterPluginServer(s, server{})
	return nil
}

func (stage) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("no client side")
}

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: plugin.HandshakeConfig{
			ProtocolVersion:  1,
			MagicCookieKey:   "PLEXUS_PLUGIN_COOKIE",
			MagicCookieValue: "d2f8c3e1-plexus-stage-plugin",
		},
		Plugins: plugin.PluginSet{"stage": stage{}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(opts, grpc.MaxRecvMsgSize(1<<30))...)
		},
	})
}
