package sdk

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/plexusml/plexus/plugins/proto/codec"
	pb "github.com/plexusml/plexus/plugins/proto/plexus/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// shortPlugin returns one result too few, to check the SDK guards the count.
type shortPlugin struct{ Echo }

func (shortPlugin) Describe() Description {
	d := Echo{}.Describe()
	d.Models[0].Config = []ConfigField{{Name: "n", Type: "int", Required: true}}
	d.Models[0].Tasks[0].Input = Contract{Fields: []FieldSpec{{Name: "x", Kind: "string"}}}
	return d
}

func (shortPlugin) Load(context.Context, LoadRequest) (Instance, error) { return shortInstance{}, nil }

type shortInstance struct{}

func (shortInstance) Process(_ context.Context, _ string, items []Item) []Result {
	return make([]Result, len(items)-1)
}

// The server's handlers are called directly: the transport around them is go-plugin's,
// exercised by core/plugin's process tests.
func TestServerChecks(t *testing.T) {
	ctx := context.Background()
	s := newServer(shortPlugin{})
	s.version = codec.ProtocolV2
	d, err := s.Describe(ctx, &pb.DescribeRequest{})
	if err != nil || len(d.GetCapabilities()) != 1 || d.GetCapabilities()[0] != "arena" {
		t.Fatalf("describe: %v %v", d, err)
	}
	if _, err := s.Load(ctx, &pb.LoadRequest{Model: "echo", ConfigJson: []byte(`{"m": 1}`)}); status.Code(err) != codes.InvalidArgument ||
		!strings.Contains(err.Error(), "config.n: required int is missing") || !strings.Contains(err.Error(), "config.m: unknown key") {
		t.Fatalf("bad config: %v", err)
	}
	if _, err := s.Load(ctx, &pb.LoadRequest{Model: "nope"}); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown model: %v", err)
	}
	lr, err := s.Load(ctx, &pb.LoadRequest{Model: "echo", ConfigJson: []byte(`{"n": 2}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Process(ctx, &pb.ProcessRequest{Instance: lr.GetInstance(), Task: "walk"}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("unknown task: %v", err)
	}
	str := func(v string) *pb.Value { return &pb.Value{Kind: &pb.Value_S{S: v}} }
	resp, err := s.Process(ctx, &pb.ProcessRequest{Instance: lr.GetInstance(), Task: "echo", Items: []*pb.Item{
		{Id: "a", Fields: map[string]*pb.Value{"x": str("1")}},
		{Id: "b", Fields: map[string]*pb.Value{"x": {Kind: &pb.Value_I{I: 1}}}},
		{Id: "c", Fields: map[string]*pb.Value{"x": str("3")}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	dec := codec.Decoder{}
	if r := dec.Result("b", resp.Results[1]); !errors.Is(r.Err, ErrBadItem) || !strings.Contains(r.Err.Error(), "field x: want string, got int") {
		t.Errorf("contract violation: %v", r.Err)
	}
	if r := dec.Result("c", resp.Results[2]); !errors.Is(r.Err, ErrInternal) || !strings.Contains(r.Err.Error(), "1 results for 2 items") {
		t.Errorf("short results: %v", r.Err)
	}
	if _, err := s.Unload(ctx, &pb.UnloadRequest{Instance: lr.GetInstance()}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Process(ctx, &pb.ProcessRequest{Instance: lr.GetInstance(), Task: "echo"}); status.Code(err) != codes.NotFound {
		t.Fatalf("unloaded instance: %v", err)
	}
}
