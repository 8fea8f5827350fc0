package weights

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/plexusml/plexus/core/tensor"
)

// Names Open looks for in a directory, in order: the Hugging Face layouts.
var dirCandidates = []string{
	"model.safetensors",
	"model.safetensors.index.json",
	"pytorch_model.bin",
	"pytorch_model.bin.index.json",
}

// openDir opens the weights of a Hugging Face style model directory.
func openDir(dir string) (Store, error) {
	for _, c := range dirCandidates {
		p := filepath.Join(dir, c)
		if _, err := os.Stat(p); err == nil {
			return Open(p)
		}
	}
	return nil, fmt.Errorf("open weights %s: directory has none of %s", dir, strings.Join(dirCandidates, ", "))
}

// ShardedStore is a checkpoint split over several files and described by an index
// (model.safetensors.index.json or pytorch_model.bin.index.json, whose "weight_map"
// names the shard of every tensor).
type ShardedStore struct {
	path   string
	names  []string
	where  map[string]Store
	shards []Store
}

// OpenSharded opens every shard an index file names and checks that each shard holds
// the tensors the index assigns to it.
func OpenSharded(index string) (*ShardedStore, error) {
	data, err := os.ReadFile(index)
	if err != nil {
		return nil, fmt.Errorf("open sharded weights: %w", err)
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("open sharded weights %s: %w: %v", index, ErrFormat, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("open sharded weights %s: %w: no weight_map", index, ErrFormat)
	}
	s := &ShardedStore{path: index, where: map[string]Store{}}
	byFile := map[string]Store{}
	dir := filepath.Dir(index)
	var problems []string
	for name, file := range idx.WeightMap {
		if filepath.IsAbs(file) || strings.Contains(filepath.ToSlash(file), "../") {
			problems = append(problems, fmt.Sprintf("%s: shard path %q leaves the directory", name, file))
			continue
		}
		st, ok := byFile[file]
		if !ok {
			st, err = Open(filepath.Join(dir, file))
			if err != nil {
				s.Close()
				return nil, fmt.Errorf("open sharded weights %s: %w", index, err)
			}
			byFile[file] = st
			s.shards = append(s.shards, st)
		}
		if _, ok := st.Get(name); !ok {
			problems = append(problems, fmt.Sprintf("%s: not in shard %s", name, file))
			continue
		}
		s.where[name] = st
		s.names = append(s.names, name)
	}
	if len(problems) > 0 {
		s.Close()
		sort.Strings(problems)
		return nil, fmt.Errorf("open sharded weights %s: %w:\n  %s", index, ErrFormat, strings.Join(problems, "\n  "))
	}
	sort.Strings(s.names)
	return s, nil
}

// Path is the index file.
func (s *ShardedStore) Path() string { return s.path }

// Names returns the tensor names of all shards, sorted.
func (s *ShardedStore) Names() []string { return append([]string(nil), s.names...) }

// Get returns a tensor from its shard.
func (s *ShardedStore) Get(name string) (*tensor.Tensor, bool) {
	st, ok := s.where[name]
	if !ok {
		return nil, false
	}
	return st.Get(name)
}

// Close closes every shard.
func (s *ShardedStore) Close() error {
	var first error
	for _, st := range s.shards {
		if err := st.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

var _ Store = (*ShardedStore)(nil)
