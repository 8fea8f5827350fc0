package weights

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/plexusml/plexus/core/tensor"
)

func bertLike() *MapStore {
	f := func(n int) *tensor.Tensor { return tensor.New(tensor.Float32, n) }
	return NewMapStore("bert.safetensors", map[string]*tensor.Tensor{
		"bert.embeddings.word_embeddings.weight":   tensor.New(tensor.Float32, 10, 4),
		"bert.embeddings.LayerNorm.gamma":          f(4),
		"bert.embeddings.LayerNorm.beta":           f(4),
		"bert.embeddings.position_ids":             tensor.FromInt64([]int64{0, 1, 2}, 1, 3),
		"bert.encoder.layer.0.output.dense.weight": tensor.FromFloat32([]float32{1, 2, 3, 4, 5, 6, 7, 8}, 2, 4).ConvertTo(tensor.Float16),
		"cls.predictions.bias":                     f(10),
		"cls.predictions.transform.dense.weight":   tensor.New(tensor.Float32, 4, 4),
		"pooler.dense.weight":                      tensor.New(tensor.Float32, 4, 4),
	})
}

func TestBinderAllProblemsAtOnce(t *testing.T) {
	b := NewBinder(bertLike(), StripPrefix("bert."), Rename(HFLegacyNames))
	if b.Float32("embeddings.word_embeddings.weight", 10, 4) == nil {
		t.Error("word embeddings not bound")
	}
	if b.Float32("embeddings.LayerNorm.weight", 4) == nil || b.Float32("embeddings.LayerNorm.bias", 4) == nil {
		t.Error("gamma/beta were not renamed to weight/bias")
	}
	if b.Float32("pooler.dense.weight", 8, 4) != nil {
		t.Error("wrong-shape parameter returned data")
	}
	if b.Float32("pooler.dense.bias", 4) != nil || b.Float32("encoder.layer.0.attention.self.query.weight", 4, 4) != nil {
		t.Error("missing parameter returned data")
	}
	if b.Float32("embeddings.position_ids", 1, 3) != nil {
		t.Error("int64 tensor returned as float32")
	}
	if b.OptionalFloat32("encoder.layer.0.output.dense.bias", 2) != nil {
		t.Error("absent optional parameter returned data")
	}
	err := b.Err()
	var me *MismatchError
	if !errors.As(err, &me) {
		t.Fatalf("Err() = %v, want *MismatchError", err)
	}
	want := &MismatchError{
		Source:     "bert.safetensors",
		Missing:    []string{"encoder.layer.0.attention.self.query.weight", "pooler.dense.bias"},
		Unexpected: []string{"cls.predictions.bias", "cls.predictions.transform.dense.weight", "encoder.layer.0.output.dense.weight"},
		WrongShape: []ShapeMismatch{{Name: "pooler.dense.weight", Want: []int{8, 4}, Got: []int{4, 4}}},
		WrongDType: []DTypeMismatch{{Name: "embeddings.position_ids", Want: "a float type", Got: tensor.Int64}},
	}
	if !reflect.DeepEqual(me, want) {
		t.Errorf("got  %#v\nwant %#v", me, want)
	}
	msg := err.Error()
	for _, line := range []string{
		"weights bert.safetensors do not fit the model (2 missing, 3 unexpected, 1 wrong shape, 1 wrong dtype)",
		"\n  missing: encoder.layer.0.attention.self.query.weight\n  missing: pooler.dense.bias\n",
		"\n  unexpected: cls.predictions.bias\n",
		"\n  wrong shape: pooler.dense.weight: file has [4 4], model wants [8 4]",
		"\n  wrong dtype: embeddings.position_ids: file has int64, model wants a float type",
	} {
		if !strings.Contains(msg, line) {
			t.Errorf("message lacks %q:\n%s", line, msg)
		}
	}
}

func TestBinderIgnoreConvertAndCopy(t *testing.T) {
	var notices []string
	store := bertLike()
	b := NewBinder(store, StripPrefix("bert."), Rename(HFLegacyNames),
		Ignore("cls.*", "pooler.*", "embeddings.position_ids", "embeddings.LayerNorm.*"),
		OnIgnored(func(n string) { notices = append(notices, n) }), CopyData())
	w := b.Float32("encoder.layer.0.output.dense.weight", -1, 4) // any first dimension
	if !reflect.DeepEqual(w, []float32{1, 2, 3, 4, 5, 6, 7, 8}) {
		t.Errorf("float16 weight converted to %v", w)
	}
	if got := b.Converted(); got["encoder.layer.0.output.dense.weight"] != tensor.Float16 {
		t.Errorf("Converted() = %v", got)
	}
	emb := b.Float32("embeddings.word_embeddings.weight", 10, 4)
	emb[0] = 5 // a copy: the store keeps its zero
	if orig, _ := store.Get("bert.embeddings.word_embeddings.weight"); orig.Float32s()[0] != 0 {
		t.Error("CopyData returned the store's memory")
	}
	if !b.Has("cls.predictions.bias") || b.Has("bert.cls.predictions.bias") {
		t.Error("Has does not use mapped names")
	}
	if shape, ok := b.Shape("pooler.dense.weight"); !ok || !reflect.DeepEqual(shape, []int{4, 4}) {
		t.Errorf("Shape = %v %v", shape, ok)
	}
	if err := b.Err(); err != nil {
		t.Fatalf("Err() = %v", err)
	}
	b.Err()
	want := []string{"cls.predictions.bias", "cls.predictions.transform.dense.weight", "embeddings.LayerNorm.bias", "embeddings.LayerNorm.weight", "embeddings.position_ids", "pooler.dense.weight"}
	if !reflect.DeepEqual(notices, want) {
		t.Errorf("notices %v, want %v (once each)", notices, want)
	}
}

func TestBinderAmbiguousAndBadPattern(t *testing.T) {
	s := NewMapStore("", map[string]*tensor.Tensor{
		"bert.x": tensor.New(tensor.Float32, 1),
		"x":      tensor.New(tensor.Float32, 1),
	})
	b := NewBinder(s, StripPrefix("bert."), Ignore("[")) // "[" is a malformed pattern
	b.Float32("x", 1)
	err := b.Err()
	if err == nil || !strings.Contains(err.Error(), "ambiguous: bert.x and x both map to x") || !strings.Contains(err.Error(), `bad ignore pattern "["`) {
		t.Errorf("Err() = %v", err)
	}
}

func TestBinderBindSpecs(t *testing.T) {
	s := NewMapStore("", map[string]*tensor.Tensor{
		"w": tensor.FromFloat32([]float32{1, 2}, 2),
		"n": tensor.FromInt64([]int64{3}, 1),
	})
	b := NewBinder(s)
	got := b.Bind(Spec{Name: "w", Shape: []int{2}}, Spec{Name: "b", Shape: []int{2}, Optional: true})
	if len(got) != 1 || got["w"][1] != 2 {
		t.Errorf("Bind = %v", got)
	}
	if n := b.Int64("n", 1); len(n) != 1 || n[0] != 3 {
		t.Errorf("Int64 = %v", n)
	}
	if err := b.Err(); err != nil {
		t.Errorf("Err() = %v", err)
	}
}

// Golden: the torch state dict binds under its own names, through Open.
func TestBinderOnCheckpoint(t *testing.T) {
	s, err := Open(fixture(t, "hf/pytorch_model.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b := NewBinder(s, StripPrefix("bert."), Ignore("*.num_batches_tracked"))
	b.Float32("0.weight", 4, 3, 3, 3)
	b.Float32("0.bias", 4)
	for _, n := range []string{"weight", "bias", "running_mean", "running_var"} {
		b.Float32("1."+n, 4)
	}
	b.Float32("4.weight", 2, 4)
	b.Float32("4.bias", 2)
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
}
