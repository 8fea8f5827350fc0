package weights

import (
	"fmt"
	"io"
	"testing"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/pytorch"
	"github.com/nlpodyssey/gopickle/types"
)

// rebuildParameter stands in for torch._utils._rebuild_parameter, which gopickle
// v0.2.0 does not know: a Parameter pickles as its tensor plus flags.
type rebuildParameter struct{}

func (rebuildParameter) Call(args ...any) (any, error) { return args[0], nil }

// Differential check against gopickle's pytorch.Load, an independent reader: for the
// float32 tensors of the zip fixture, both must give the same storage elements at the
// same strided positions. (gopickle widens half/bfloat16 to float32 and leaves strides
// to the caller; this reader keeps dtypes and gathers views, so only float32 is compared.)
func TestAgainstGopickle(t *testing.T) {
	path := fixture(t, "dtypes.pth")
	ref, err := pytorch.LoadWithUnpickler(path, func(r io.Reader) pickle.Unpickler {
		u := pickle.NewUnpickler(r)
		u.FindClass = func(module, name string) (any, error) {
			if module == "torch._utils" && name == "_rebuild_parameter" {
				return rebuildParameter{}, nil
			}
			return nil, fmt.Errorf("class %s.%s", module, name)
		}
		return u
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadPyTorch(path)
	if err != nil {
		t.Fatal(err)
	}
	od, ok := ref.(*types.OrderedDict)
	if !ok {
		t.Fatalf("gopickle returned %T", ref)
	}
	checked := 0
	for _, name := range []string{"f32", "base", "base_t", "base_cols", "base_row2", "param", "scalar"} {
		v, ok := od.Get(name)
		if !ok {
			t.Fatalf("gopickle lacks %q", name)
		}
		rt := v.(*pytorch.Tensor)
		data := rt.Source.(*pytorch.FloatStorage).Data
		mine := got[name]
		idx := make([]int, len(rt.Size))
		for i := 0; i < mine.NumElems(); i++ {
			off := rt.StorageOffset
			for d := range idx {
				off += idx[d] * rt.Stride[d]
			}
			if want, have := float64(data[off]), mine.At(idx...); want != have {
				t.Fatalf("%s%v: gopickle %v, plexus %v", name, idx, want, have)
			}
			for d := len(idx) - 1; d >= 0; d-- {
				if idx[d]++; idx[d] < rt.Size[d] {
					break
				}
				idx[d] = 0
			}
			checked++
		}
	}
	if checked < 50 {
		t.Errorf("compared only %d elements", checked)
	}
}
