package codec

import (
	"fmt"
	"runtime"
	"sort"
	"sync"

	"github.com/plexusml/plexus/core/tensor"
	pb "github.com/plexusml/plexus/plugins/proto/plexus/v1"
)

// DefaultArenaThreshold is the smallest tensor, in bytes, that travels through the
// arena; smaller ones are cheaper inline than an extra copy and an offset.
const DefaultArenaThreshold = 64 << 10

// Encoder turns values into messages. With an Arena, tensors of Threshold bytes or
// more are placed in it and only their offsets are sent.
type Encoder struct {
	Arena     *tensor.Arena
	Threshold int
	// CanGrow lets placement grow the arena when a tensor does not fit (the plugin's
	// outputs); the host sizes the arena before it encodes, so it never grows mid-call.
	CanGrow bool
	next    uint64
}

// Reset starts placing tensors at offset start.
func (e *Encoder) Reset(start uint64) { e.next = start }

// End is the offset just past the last placed tensor.
func (e *Encoder) End() uint64 { return e.next }

// ArenaBytes is how many arena bytes Items would place for these items, so the host
// can size the arena before encoding.
func ArenaBytes(items []Item, threshold int) uint64 {
	var n uint64
	var walk func(v Value)
	walk = func(v Value) {
		switch x := v.(type) {
		case *tensor.Tensor:
			if b := x.NumBytes(); b >= threshold && b > 0 {
				n = tensor.AlignArena(n) + uint64(b)
			}
		case []Value:
			for _, y := range x {
				walk(y)
			}
		}
	}
	for _, it := range items {
		for _, v := range it.Fields {
			walk(v)
		}
	}
	return tensor.AlignArena(n)
}

// Item encodes one item.
func (e *Encoder) Item(it Item) (*pb.Item, error) {
	out := &pb.Item{Id: it.ID, Modality: it.Modality, Fields: make(map[string]*pb.Value, len(it.Fields))}
	for _, k := range sortedKeys(it.Fields) {
		pv, err := e.Value(it.Fields[k])
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", k, err)
		}
		out.Fields[k] = pv
	}
	return out, nil
}

// Result encodes one result; an encoding failure becomes the item's error.
func (e *Encoder) Result(id string, r Result) *pb.Result {
	if r.Err != nil {
		return &pb.Result{Error: errorToProto(r.Err)}
	}
	out := &pb.Result{Fields: make(map[string]*pb.Value, len(r.Fields))}
	for _, k := range sortedKeys(r.Fields) {
		pv, err := e.Value(r.Fields[k])
		if err != nil {
			return &pb.Result{Error: &pb.ItemError{Kind: "internal", Message: fmt.Sprintf("output field %s: %v", k, err)}}
		}
		out.Fields[k] = pv
	}
	return out
}

// Value encodes one value.
func (e *Encoder) Value(v Value) (*pb.Value, error) {
	switch x := v.(type) {
	case string:
		return &pb.Value{Kind: &pb.Value_S{S: x}}, nil
	case float64:
		return &pb.Value{Kind: &pb.Value_F{F: x}}, nil
	case float32:
		return &pb.Value{Kind: &pb.Value_F{F: float64(x)}}, nil
	case int64:
		return &pb.Value{Kind: &pb.Value_I{I: x}}, nil
	case int:
		return &pb.Value{Kind: &pb.Value_I{I: int64(x)}}, nil
	case int32:
		return &pb.Value{Kind: &pb.Value_I{I: int64(x)}}, nil
	case bool:
		return &pb.Value{Kind: &pb.Value_B{B: x}}, nil
	case []byte:
		return &pb.Value{Kind: &pb.Value_Raw{Raw: x}}, nil
	case []string:
		return &pb.Value{Kind: &pb.Value_Strings{Strings: &pb.Strings{Values: x}}}, nil
	case []float64:
		return &pb.Value{Kind: &pb.Value_Floats{Floats: &pb.Floats{Values: x}}}, nil
	case *tensor.Tensor:
		if x == nil {
			return nil, fmt.Errorf("nil tensor")
		}
		t, err := e.tensor(x)
		if err != nil {
			return nil, err
		}
		return &pb.Value{Kind: &pb.Value_Tensor{Tensor: t}}, nil
	case []Value:
		l := &pb.List{Values: make([]*pb.Value, len(x))}
		for i, y := range x {
			pv, err := e.Value(y)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			l.Values[i] = pv
		}
		return &pb.Value{Kind: &pb.Value_List{List: l}}, nil
	}
	return nil, fmt.Errorf("unsupported value type %T", v)
}

func (e *Encoder) tensor(t *tensor.Tensor) (*pb.Tensor, error) {
	h := t.Header()
	pt := &pb.Tensor{Dtype: h.DType, Shape: h.Shape, Layout: h.Layout}
	nb := t.NumBytes()
	if e.Arena != nil && nb >= e.Threshold && nb > 0 {
		if t.IsContiguous() {
			// A tensor already in the arena (a plugin echoing or viewing its input)
			// is sent by reference without a copy.
			if off, ok := e.Arena.Offset(t.Bytes()); ok {
				pt.Data = &pb.Tensor_Arena{Arena: &pb.ArenaRef{Offset: off, Length: uint64(nb)}}
				return pt, nil
			}
		}
		off := tensor.AlignArena(e.next)
		end := off + uint64(nb)
		if end > uint64(e.Arena.Size()) && e.CanGrow {
			// Grow with headroom so a batch of outputs does not remap once per item.
			if err := e.Arena.Grow(int64(end + end/4)); err != nil {
				return nil, err
			}
		}
		if end <= uint64(e.Arena.Size()) {
			dst := e.Arena.Bytes()[off:end]
			if t.IsContiguous() {
				ParallelCopy(dst, t.Bytes())
			} else {
				copy(dst, t.Contiguous().Bytes())
			}
			e.next = end
			pt.Data = &pb.Tensor_Arena{Arena: &pb.ArenaRef{Offset: off, Length: uint64(nb)}}
			return pt, nil
		}
	}
	pt.Data = &pb.Tensor_Inline{Inline: t.Contiguous().Bytes()}
	return pt, nil
}

// Decoder turns messages into values. Arena references are resolved in Arena; with
// Copy they are copied out (the host: the arena is overwritten by the next call),
// without it they are views valid for the duration of the call (the plugin).
type Decoder struct {
	Arena *tensor.Arena
	Copy  bool
}

// Item decodes one item.
func (d *Decoder) Item(pi *pb.Item) (Item, error) {
	it := Item{ID: pi.GetId(), Modality: pi.GetModality(), Fields: make(map[string]Value, len(pi.GetFields()))}
	for k, pv := range pi.GetFields() {
		v, err := d.Value(pv)
		if err != nil {
			return it, fmt.Errorf("field %s: %w", k, err)
		}
		it.Fields[k] = v
	}
	return it, nil
}

// Result decodes one result of item id; a malformed result becomes the item's error.
func (d *Decoder) Result(id string, pr *pb.Result) Result {
	if pr.GetError() != nil {
		return Result{Err: errorFromProto(id, pr.GetError())}
	}
	r := Result{Fields: make(map[string]Value, len(pr.GetFields()))}
	for k, pv := range pr.GetFields() {
		v, err := d.Value(pv)
		if err != nil {
			return Result{Err: &ItemError{Item: id, Kind: ErrInternal, Reason: fmt.Sprintf("plugin sent a malformed field %s: %v", k, err)}}
		}
		r.Fields[k] = v
	}
	return r
}

// maxListDepth bounds nested lists so a hostile message cannot exhaust the stack.
const maxListDepth = 32

// Value decodes one value.
func (d *Decoder) Value(pv *pb.Value) (Value, error) { return d.value(pv, 0) }

func (d *Decoder) value(pv *pb.Value, depth int) (Value, error) {
	switch k := pv.GetKind().(type) {
	case *pb.Value_S:
		return k.S, nil
	case *pb.Value_F:
		return k.F, nil
	case *pb.Value_I:
		return k.I, nil
	case *pb.Value_B:
		return k.B, nil
	case *pb.Value_Raw:
		return k.Raw, nil
	case *pb.Value_Strings:
		return append([]string{}, k.Strings.GetValues()...), nil
	case *pb.Value_Floats:
		return append([]float64{}, k.Floats.GetValues()...), nil
	case *pb.Value_Tensor:
		return d.tensor(k.Tensor)
	case *pb.Value_List:
		if depth >= maxListDepth {
			return nil, fmt.Errorf("lists nested deeper than %d", maxListDepth)
		}
		out := make([]Value, len(k.List.GetValues()))
		for i, y := range k.List.GetValues() {
			v, err := d.value(y, depth+1)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("empty value")
}

func (d *Decoder) tensor(pt *pb.Tensor) (*tensor.Tensor, error) {
	h := tensor.WireHeader{DType: pt.GetDtype(), Shape: pt.GetShape(), Layout: pt.GetLayout()}
	switch data := pt.GetData().(type) {
	case *pb.Tensor_Arena:
		if d.Arena == nil {
			return nil, fmt.Errorf("tensor refers to a shared-memory arena but none is mapped")
		}
		if _, _, n, err := h.Check(); err != nil {
			return nil, err
		} else if uint64(n) != data.Arena.GetLength() {
			return nil, fmt.Errorf("wire tensor: %s%v needs %d bytes, arena region has %d", h.DType, h.Shape, n, data.Arena.GetLength())
		}
		b, err := d.Arena.Slice(data.Arena.GetOffset(), data.Arena.GetLength())
		if err != nil {
			return nil, err
		}
		if d.Copy {
			// append allocates without zeroing first (make would clear the buffer
			// only for it to be overwritten), which saves a pass over large tensors.
			b = append([]byte(nil), b...)
		}
		return tensor.FromWire(h, b)
	case *pb.Tensor_Inline:
		return tensor.FromWire(h, data.Inline)
	default:
		return tensor.FromWire(h, nil)
	}
}

// parallelCopyMin is the size above which a copy is split across cores: one core does
// not saturate memory bandwidth.
const parallelCopyMin = 4 << 20

// ParallelCopy copies src into dst (equal lengths), on several cores when large.
func ParallelCopy(dst, src []byte) {
	n := len(src)
	workers := runtime.GOMAXPROCS(0)
	if n < parallelCopyMin || workers < 2 {
		copy(dst, src)
		return
	}
	if workers > 8 {
		workers = 8
	}
	chunk := (n/workers + 4095) &^ 4095
	var wg sync.WaitGroup
	for off := chunk; off < n; off += chunk {
		end := min(off+chunk, n)
		wg.Add(1)
		go func(off, end int) {
			defer wg.Done()
			copy(dst[off:end], src[off:end])
		}(off, end)
	}
	copy(dst[:min(chunk, n)], src[:min(chunk, n)])
	wg.Wait()
}

func sortedKeys(m map[string]Value) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
