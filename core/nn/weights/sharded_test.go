package weights

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plexusml/plexus/core/tensor"
)

func storeTensors(t *testing.T, s Store) map[string]*tensor.Tensor {
	t.Helper()
	out := map[string]*tensor.Tensor{}
	for _, n := range s.Names() {
		x, ok := s.Get(n)
		if !ok {
			t.Fatalf("%s listed but not returned", n)
		}
		out[n] = x
	}
	return out
}

// A Hugging Face directory opens whatever layout it holds: single file or sharded,
// safetensors or pytorch.
func TestOpenDirectoryAndShards(t *testing.T) {
	want := expected(t, "model.expected.safetensors")
	for _, dir := range []string{"sharded_safetensors", "sharded_bin"} {
		t.Run(dir, func(t *testing.T) {
			s, err := Open(fixture(t, dir))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, ok := s.(*ShardedStore); !ok {
				t.Fatalf("Open(dir) = %T, want *ShardedStore", s)
			}
			sameTensors(t, storeTensors(t, s), want)
		})
	}
	s, err := Open(fixture(t, "hf"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := len(s.Names()); got != len(want) {
		t.Errorf("hf directory: %d tensors, want %d", got, len(want))
	}
	if _, err := Open(t.TempDir()); err == nil || !strings.Contains(err.Error(), "model.safetensors") {
		t.Errorf("empty directory: %v", err)
	}
}

func TestOpenShardedErrors(t *testing.T) {
	dir := t.TempDir()
	shard := filepath.Join(dir, "a.safetensors")
	if err := WriteSafetensors(shard, map[string]*tensor.Tensor{"x": tensor.New(tensor.Float32, 1)}, nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ index, want string }{
		{`{"weight_map": {"x": "a.safetensors", "y": "a.safetensors"}}`, "y: not in shard a.safetensors"},
		{`{"weight_map": {"x": "../a.safetensors"}}`, "leaves the directory"},
		{`{"weight_map": {}}`, "no weight_map"},
		{`{"weight_map": {"x": "missing.safetensors"}}`, "missing.safetensors"},
		{`[`, "invalid weights file"},
	} {
		p := filepath.Join(dir, "model.safetensors.index.json")
		if err := os.WriteFile(p, []byte(tc.index), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Open(p)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("index %s: err = %v, want %q", tc.index, err, tc.want)
		}
		if tc.want != "missing.safetensors" && !errors.Is(err, ErrFormat) {
			t.Errorf("index %s: %v does not wrap ErrFormat", tc.index, err)
		}
	}
}
