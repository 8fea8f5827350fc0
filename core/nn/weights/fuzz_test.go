package weights

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func addFixtures(f *testing.F, names ...string) {
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatalf("fixture %s missing (run /usr/bin/python3 tools/golden/weights.py): %v", n, err)
		}
		f.Add(data)
	}
}

// FuzzSafetensors: any input either fails to parse or yields tensors whose every byte
// can be read.
func FuzzSafetensors(f *testing.F) {
	addFixtures(f, "dtypes.expected.safetensors", "model.expected.safetensors")
	f.Add(stFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"k":"v"}}`, 8))
	f.Add(stFile(`{"a":{"dtype":"BF16","shape":[1,1],"data_offsets":[1,3]}}`, 3))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSafetensors(data)
		if err != nil {
			return
		}
		for _, n := range s.Names() {
			x, ok := s.Get(n)
			if !ok {
				t.Fatalf("%q listed but not returned", n)
			}
			if len(x.Bytes()) != x.NumBytes() {
				t.Fatalf("%q: %d bytes for %s", n, len(x.Bytes()), x)
			}
			x.ToFloat32()
		}
		s.Metadata()
	})
}

// FuzzPickle runs the pickle machine and the tensor walk with a storage loader like the
// zip reader's; nothing may panic, loop or allocate beyond the input.
func FuzzPickle(f *testing.F) {
	for _, p := range protocolPickles {
		f.Add([]byte(p))
	}
	for _, n := range []string{"dtypes.pth", "module.pt", "wrapped_state_dict.pth"} {
		data, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatalf("fixture %s missing: %v", n, err)
		}
		if i := bytes.Index(data, []byte("\x80\x02")); i >= 0 {
			f.Add(data[i:])
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		storages := map[string]*storageRef{}
		u := newUnpickler(data, func(pid any) (any, error) {
			tu, ok := pid.(*pyTuple)
			if !ok || len(tu.items) < 5 {
				return nil, errPickle
			}
			return newStorageRef(storages, tu.items[1], tu.items[2], tu.items[4])
		})
		v, err := u.load()
		if err != nil {
			return
		}
		named, err := collectTensors(v)
		if err != nil {
			return
		}
		// Storages of the declared size, as a well-formed archive would hold.
		materialize(named, func(s *storageRef) ([]byte, error) {
			if s.numel > 1<<16 {
				return nil, errPickle
			}
			return make([]byte, s.numel*8), nil
		})
	})
}

// FuzzPyTorch feeds whole checkpoint files (zip and legacy) to the reader.
func FuzzPyTorch(f *testing.F) {
	addFixtures(f, "dtypes.pth", "dtypes_legacy.pth", "wrapped_model.pt")
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := readPyTorch(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		for n, x := range m {
			if len(x.Bytes()) != x.NumBytes() {
				t.Fatalf("%q: %d bytes for %s", n, len(x.Bytes()), x)
			}
		}
	})
}
