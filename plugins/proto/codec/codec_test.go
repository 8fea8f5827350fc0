package codec

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/plexusml/plexus/core/tensor"
	pb "github.com/plexusml/plexus/plugins/proto/plexus/v1"
	"google.golang.org/protobuf/proto"
)

func TestValidateConfig(t *testing.T) {
	schema := []ConfigField{
		{Name: "size", Type: "int", Default: int64(28)},
		{Name: "temperature", Type: "float"},
		{Name: "mode", Type: "string", Enum: []string{"fast", "exact"}, Required: true},
		{Name: "labels", Type: "strings"},
		{Name: "gray", Type: "bool"},
	}
	got, err := ValidateConfig(schema, map[string]any{"mode": "fast", "temperature": 1, "labels": []any{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"size": int64(28), "temperature": 1.0, "mode": "fast", "labels": []string{"a", "b"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	_, err = ValidateConfig(schema, map[string]any{"size": 2.5, "mode": "slow", "labels": []any{1}, "gray": "yes", "colour": 1})
	for _, frag := range []string{"config.size: want an integer", `config.mode: "slow" is not one of fast, exact`,
		"config.labels: [0]: want a string", "config.gray: want true or false", "config.colour: unknown key (known keys: size"} {
		if err == nil || !strings.Contains(err.Error(), frag) {
			t.Errorf("error %v lacks %q", err, frag)
		}
	}
	if _, err := ValidateConfig(schema, nil); err == nil || !strings.Contains(err.Error(), "config.mode: required string is missing") {
		t.Errorf("missing required: %v", err)
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Errorf("%v carries no FieldError", err)
	}
}

func TestValuesThroughArena(t *testing.T) {
	a, err := tensor.NewArena(tensor.ArenaAuto, 4096)
	if err != nil {
		t.Skip(err)
	}
	defer a.Close()
	big := tensor.New(tensor.Float32, 64, 1024) // 256 KiB: above the threshold
	for i := range big.Float32s() {
		big.Float32s()[i] = float32(i)
	}
	small := tensor.FromInt64([]int64{1, 2, 3}, 3)
	item := Item{ID: "a", Modality: "tensor", Fields: map[string]Value{
		"big": big, "small": small, "s": "x", "list": []Value{big, int64(4)},
	}}
	need := ArenaBytes([]Item{item}, DefaultArenaThreshold)
	if need < 2*256<<10 {
		t.Fatalf("ArenaBytes = %d", need)
	}
	// The host sizes the arena first; placement must then fit without growing.
	if err := a.Grow(int64(need)); err != nil {
		t.Fatal(err)
	}
	enc := Encoder{Arena: a, Threshold: DefaultArenaThreshold}
	pi, err := enc.Item(item)
	if err != nil {
		t.Fatal(err)
	}
	if pi.Fields["big"].GetTensor().GetArena() == nil || pi.Fields["small"].GetTensor().GetInline() == nil {
		t.Fatal("big should travel by reference and small inline")
	}
	wire, _ := proto.Marshal(pi)
	var back pb.Item
	if err := proto.Unmarshal(wire, &back); err != nil {
		t.Fatal(err)
	}
	for _, copyOut := range []bool{false, true} {
		dec := Decoder{Arena: a, Copy: copyOut}
		it, err := dec.Item(&back)
		if err != nil {
			t.Fatal(err)
		}
		got := it.Fields["big"].(*tensor.Tensor)
		if !bytes.Equal(got.Bytes(), big.Bytes()) || !reflect.DeepEqual(got.Shape(), big.Shape()) {
			t.Fatal("big tensor differs")
		}
		if _, in := a.Offset(got.Bytes()); in == copyOut {
			t.Fatalf("copy=%v: tensor in arena = %v", copyOut, in)
		}
		if !reflect.DeepEqual(it.Fields["small"].(*tensor.Tensor).Int64s(), []int64{1, 2, 3}) || it.Fields["s"] != "x" {
			t.Fatalf("fields %v", it.Fields)
		}
	}
	// An output already in the arena goes back as the same offset; a new one grows it.
	out := Encoder{Arena: a, Threshold: DefaultArenaThreshold, CanGrow: true}
	out.Reset(need)
	view, _ := (&Decoder{Arena: a}).Item(&back)
	r := out.Result("a", Result{Fields: map[string]Value{"same": view.Fields["big"], "fresh": big.Clone()}})
	if r.Fields["same"].GetTensor().GetArena().GetOffset() != back.Fields["big"].GetTensor().GetArena().GetOffset() {
		t.Fatal("an arena view was copied instead of referenced")
	}
	if r.Fields["fresh"].GetTensor().GetArena() == nil || uint64(a.Size()) < need+256<<10 {
		t.Fatalf("fresh output not placed in a grown arena (size %d)", a.Size())
	}
}

func TestDecodeRejectsArenaWithoutArena(t *testing.T) {
	v := &pb.Value{Kind: &pb.Value_Tensor{Tensor: &pb.Tensor{Dtype: "float32", Shape: []int64{4},
		Data: &pb.Tensor_Arena{Arena: &pb.ArenaRef{Offset: 0, Length: 16}}}}}
	if _, err := (&Decoder{}).Value(v); err == nil {
		t.Fatal("arena reference accepted without an arena")
	}
}

func TestItemErrorKinds(t *testing.T) {
	for _, kind := range []error{ErrBadItem, ErrInternal, ErrPoison, ErrUnavailable} {
		e := &ItemError{Kind: kind, Reason: "why"}
		back := errorFromProto("id", errorToProto(e))
		if !errors.Is(back, kind) || !strings.Contains(back.Error(), "item id") {
			t.Errorf("%v came back as %v", kind, back)
		}
	}
	if back := errorFromProto("x", errorToProto(errors.New("plain"))); !errors.Is(back, ErrInternal) {
		t.Errorf("plain error came back as %v", back)
	}
}

func TestParallelCopy(t *testing.T) {
	for _, n := range []int{0, 100, parallelCopyMin + 12345} {
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(i * 31)
		}
		dst := make([]byte, n)
		ParallelCopy(dst, src)
		if !bytes.Equal(dst, src) {
			t.Fatalf("n=%d: copy differs", n)
		}
	}
}

func TestDescriptionRoundTrip(t *testing.T) {
	d := &Description{Name: "p", Version: "1", Capabilities: []string{"arena"}, Models: []ModelInfo{{
		Name: "m", MaxBatch: 8, Resources: Resources{Devices: []string{"cpu", "gpu"}, Memory: 1 << 30},
		Tasks: []Task{{Name: "embed", Input: Contract{Modalities: []string{"text"}, Fields: []FieldSpec{{Name: "text", Kind: "string"}}},
			Output: Contract{Fields: []FieldSpec{{Name: "vec", Kind: "tensor", DType: "float32", Shape: []string{"768"}}}}}},
		Config: []ConfigField{{Name: "k", Type: "int", Default: 3.0, Description: "top k"}},
	}}}
	p, err := DescriptionToProto(d)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DescriptionFromProto(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, d) {
		t.Fatalf("got %+v\nwant %+v", back, d)
	}
}

// FuzzDecodeItem feeds arbitrary bytes through the plugin side of the protocol: the
// proto decoder, then the value and tensor decoder. It must never panic.
func FuzzDecodeItem(f *testing.F) {
	enc := Encoder{}
	for _, it := range []Item{
		{ID: "a", Modality: "text", Fields: map[string]Value{"t": "hi", "n": int64(1), "l": []Value{1.5, []Value{"x"}}}},
		{ID: "b", Fields: map[string]Value{"x": tensor.FromFloat32([]float32{1, 2, 3, 4}, 2, 2), "b": []byte{1}}},
	} {
		pi, _ := enc.Item(it)
		b, _ := proto.Marshal(pi)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var pi pb.Item
		if proto.Unmarshal(b, &pi) != nil {
			return
		}
		it, err := (&Decoder{}).Item(&pi)
		if err != nil {
			return
		}
		// What decodes re-encodes.
		if _, err := enc.Item(it); err != nil {
			t.Fatalf("decoded item does not re-encode: %v", err)
		}
	})
}
