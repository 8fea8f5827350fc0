package dense

import (
	"reflect"
	"testing"

	"github.com/plexusml/plexus/core/tensor"
)

func TestRoundTrip(t *testing.T) {
	x := tensor.FromFloat32([]float32{0, 1, 2, 3, 4, 250}, 2, 3)
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64, tensor.Int64, tensor.Int32, tensor.Uint8, tensor.Bool} {
		src := x.ConvertTo(dt)
		d, err := ToDense(src)
		if err != nil {
			t.Fatalf("%s: %v", dt, err)
		}
		if !reflect.DeepEqual([]int(d.Shape()), []int{2, 3}) {
			t.Fatalf("%s: dense shape %v", dt, d.Shape())
		}
		y, err := FromDense(d)
		if err != nil {
			t.Fatalf("%s: %v", dt, err)
		}
		if y.DType() != dt || !reflect.DeepEqual(y.Bytes(), src.Bytes()) {
			t.Fatalf("%s: round trip gave %s %v", dt, y.DType(), y.Values())
		}
	}
	b, _ := ToDense(x.ConvertTo(tensor.BFloat16))
	if _, ok := b.Data().([]float32); !ok {
		t.Fatalf("bfloat16 dense is %T, want []float32", b.Data())
	}
	// A transposed view is copied in logical order.
	tr, _ := x.Permute(1, 0)
	d, _ := ToDense(tr)
	if got := d.Data().([]float32); !reflect.DeepEqual(got, []float32{0, 3, 1, 4, 2, 250}) {
		t.Fatalf("transposed = %v", got)
	}
}
