package weights

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/plexusml/plexus/core/tensor"
)

// Spec declares one parameter a model needs. A negative dimension in Shape matches any
// size (a vocabulary size read from the file, for instance).
type Spec struct {
	Name     string
	Shape    []int
	Optional bool
}

// BindOption configures a Binder.
type BindOption func(*binderConfig)

type binderConfig struct {
	prefixes []string
	renames  []func(string) string
	ignore   []string
	notice   func(string)
	copyData bool
}

// StripPrefix removes the first matching prefix from file names ("bert." for a
// BertForMaskedLM checkpoint loaded into BertModel, "module." for DataParallel).
// Names without any of the prefixes are kept as they are.
func StripPrefix(prefixes ...string) BindOption {
	return func(c *binderConfig) { c.prefixes = append(c.prefixes, prefixes...) }
}

// Rename maps a file name (after prefix stripping) to the model's name; returning ""
// drops the tensor silently. Several renames apply in order.
func Rename(f func(name string) string) BindOption {
	return func(c *binderConfig) { c.renames = append(c.renames, f) }
}

// Ignore lists path.Match patterns ("cls.*", "*.num_batches_tracked") of model names
// that the model does not use; they are not reported as unexpected.
func Ignore(patterns ...string) BindOption {
	return func(c *binderConfig) { c.ignore = append(c.ignore, patterns...) }
}

// OnIgnored is called once per ignored tensor the model left unused, in name order,
// when Err is first called: a place to log "ignoring cls.predictions.bias".
func OnIgnored(f func(name string)) BindOption {
	return func(c *binderConfig) { c.notice = f }
}

// CopyData makes the Binder return copies, so the weights outlive the Store (a
// memory-mapped file can then be closed). Without it, slices share the Store's memory.
func CopyData() BindOption {
	return func(c *binderConfig) { c.copyData = true }
}

// HFLegacyNames is a Rename for old Hugging Face checkpoints, whose LayerNorm
// parameters are named gamma and beta; transformers renames them the same way on load.
func HFLegacyNames(name string) string {
	if strings.HasSuffix(name, ".gamma") {
		return strings.TrimSuffix(name, ".gamma") + ".weight"
	}
	if strings.HasSuffix(name, ".beta") {
		return strings.TrimSuffix(name, ".beta") + ".bias"
	}
	return name
}

// Binder hands a model its parameters by name and records every problem, so that one
// Err lists all missing, unexpected and wrong-shape parameters together. Returned
// slices share the Store's memory (a safetensors mapping is valid until Close) unless
// CopyData is given. A Binder is used by one goroutine.
type Binder struct {
	store    Store
	cfg      binderConfig
	source   string
	byName   map[string]string // model name -> file name
	used     map[string]bool
	missing  map[string]bool
	shapes   map[string]ShapeMismatch
	dtypes   map[string]DTypeMismatch
	setup    []string // option and mapping problems
	convert  map[string]tensor.DType
	noticed  bool
	mismatch *MismatchError
}

// ShapeMismatch is a parameter whose file shape differs from the model's.
type ShapeMismatch struct {
	Name      string
	Want, Got []int
}

// DTypeMismatch is a parameter whose file dtype cannot be converted to what the model
// asked for.
type DTypeMismatch struct {
	Name string
	Want string
	Got  tensor.DType
}

// MismatchError lists every way a weights file failed to fit a model; each list is
// sorted by name.
type MismatchError struct {
	Source     string // the weights file, when the Store knows it
	Missing    []string
	Unexpected []string
	WrongShape []ShapeMismatch
	WrongDType []DTypeMismatch
	Other      []string // mapping problems: two file names mapping to one, bad patterns
}

func (e *MismatchError) Error() string {
	var b strings.Builder
	src := "weights"
	if e.Source != "" {
		src = "weights " + e.Source
	}
	var counts []string
	add := func(n int, what string) {
		if n > 0 {
			counts = append(counts, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(len(e.Missing), "missing")
	add(len(e.Unexpected), "unexpected")
	add(len(e.WrongShape), "wrong shape")
	add(len(e.WrongDType), "wrong dtype")
	add(len(e.Other), "other")
	fmt.Fprintf(&b, "%s do not fit the model (%s)", src, strings.Join(counts, ", "))
	for _, n := range e.Missing {
		fmt.Fprintf(&b, "\n  missing: %s", n)
	}
	for _, n := range e.Unexpected {
		fmt.Fprintf(&b, "\n  unexpected: %s", n)
	}
	for _, m := range e.WrongShape {
		fmt.Fprintf(&b, "\n  wrong shape: %s: file has %v, model wants %v", m.Name, m.Got, m.Want)
	}
	for _, m := range e.WrongDType {
		fmt.Fprintf(&b, "\n  wrong dtype: %s: file has %s, model wants %s", m.Name, m.Got, m.Want)
	}
	for _, o := range e.Other {
		fmt.Fprintf(&b, "\n  %s", o)
	}
	if len(e.Unexpected) > 0 && len(e.Missing) > 0 {
		b.WriteString("\n  (if the names differ only by a prefix, strip it: --prefix-strip or weights.StripPrefix)")
	}
	return b.String()
}

// NewBinder maps the store's names through the options.
func NewBinder(s Store, opts ...BindOption) *Binder {
	b := &Binder{
		store:   s,
		byName:  map[string]string{},
		used:    map[string]bool{},
		missing: map[string]bool{},
		shapes:  map[string]ShapeMismatch{},
		dtypes:  map[string]DTypeMismatch{},
		convert: map[string]tensor.DType{},
	}
	for _, o := range opts {
		o(&b.cfg)
	}
	if p, ok := s.(interface{ Path() string }); ok {
		b.source = p.Path()
	}
	for _, p := range b.cfg.ignore {
		if _, err := path.Match(p, ""); err != nil {
			b.setup = append(b.setup, fmt.Sprintf("bad ignore pattern %q: %v", p, err))
		}
	}
	for _, file := range s.Names() {
		name := file
		for _, p := range b.cfg.prefixes {
			if strings.HasPrefix(name, p) {
				name = strings.TrimPrefix(name, p)
				break
			}
		}
		for _, r := range b.cfg.renames {
			if name = r(name); name == "" {
				break
			}
		}
		if name == "" {
			continue
		}
		if prev, dup := b.byName[name]; dup {
			b.setup = append(b.setup, fmt.Sprintf("ambiguous: %s and %s both map to %s", prev, file, name))
			continue
		}
		b.byName[name] = file
	}
	return b
}

// Names returns the model-side names the file offers, sorted.
func (b *Binder) Names() []string {
	out := make([]string, 0, len(b.byName))
	for n := range b.byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Has reports whether the file offers name; it does not count as using it.
func (b *Binder) Has(name string) bool {
	_, ok := b.byName[name]
	return ok
}

// Shape returns the file's shape for name, to size a layer from its weights.
func (b *Binder) Shape(name string) ([]int, bool) {
	t, ok := b.lookup(name)
	if !ok {
		return nil, false
	}
	return t.Shape(), true
}

func (b *Binder) lookup(name string) (*tensor.Tensor, bool) {
	file, ok := b.byName[name]
	if !ok {
		return nil, false
	}
	return b.store.Get(file)
}

// Tensor returns the parameter a Spec declares, in its file dtype, or nil after
// recording why not (an Optional spec that is absent records nothing).
func (b *Binder) Tensor(s Spec) *tensor.Tensor {
	t, ok := b.lookup(s.Name)
	if !ok {
		if !s.Optional {
			b.missing[s.Name] = true
		}
		return nil
	}
	b.used[s.Name] = true
	if got := t.Shape(); !shapeFits(got, s.Shape) {
		b.shapes[s.Name] = ShapeMismatch{Name: s.Name, Want: append([]int(nil), s.Shape...), Got: got}
		return nil
	}
	if b.cfg.copyData {
		return t.Clone()
	}
	return t.Contiguous()
}

// Float32 returns a float32 parameter of the given shape. float16, bfloat16 and float64
// weights are converted (see Converted); integer weights are a dtype error. It returns
// nil, and records the problem, when the parameter is missing or does not fit.
func (b *Binder) Float32(name string, shape ...int) []float32 {
	return b.float32(Spec{Name: name, Shape: shape})
}

// OptionalFloat32 is Float32 for a parameter the model can do without (a bias): its
// absence returns nil and is not an error.
func (b *Binder) OptionalFloat32(name string, shape ...int) []float32 {
	return b.float32(Spec{Name: name, Shape: shape, Optional: true})
}

func (b *Binder) float32(s Spec) []float32 {
	t := b.Tensor(s)
	if t == nil {
		return nil
	}
	switch dt := t.DType(); dt {
	case tensor.Float32:
		return t.Float32s()
	case tensor.Float16, tensor.BFloat16, tensor.Float64:
		b.convert[s.Name] = dt
		return t.ToFloat32().Float32s()
	default:
		b.dtypes[s.Name] = DTypeMismatch{Name: s.Name, Want: "a float type", Got: dt}
		return nil
	}
}

// Int64 returns an integer parameter (position ids, token type ids) as int64; int32
// and uint8 are widened, floats are a dtype error.
func (b *Binder) Int64(name string, shape ...int) []int64 {
	s := Spec{Name: name, Shape: shape}
	t := b.Tensor(s)
	if t == nil {
		return nil
	}
	switch dt := t.DType(); dt {
	case tensor.Int64:
		return t.Int64s()
	case tensor.Int32, tensor.Uint8:
		b.convert[name] = dt
		return t.ConvertTo(tensor.Int64).Int64s()
	default:
		b.dtypes[name] = DTypeMismatch{Name: name, Want: "an integer type", Got: dt}
		return nil
	}
}

// Bind fetches every spec as float32, keyed by name; problems go to Err.
func (b *Binder) Bind(specs ...Spec) map[string][]float32 {
	out := make(map[string][]float32, len(specs))
	for _, s := range specs {
		if v := b.float32(s); v != nil {
			out[s.Name] = v
		}
	}
	return out
}

// Converted lists parameters whose dtype was converted, with the file's dtype.
func (b *Binder) Converted() map[string]tensor.DType {
	m := make(map[string]tensor.DType, len(b.convert))
	for k, v := range b.convert {
		m[k] = v
	}
	return m
}

// Err returns nil when every requested parameter was present and fit and every file
// tensor was used or ignored; otherwise a *MismatchError listing all problems. Call it
// after the model has requested everything.
func (b *Binder) Err() error {
	e := &MismatchError{Source: b.source}
	for n := range b.missing {
		e.Missing = append(e.Missing, n)
	}
	var ignored []string
	for n := range b.byName {
		if b.used[n] {
			continue
		}
		if b.ignored(n) {
			ignored = append(ignored, n)
			continue
		}
		e.Unexpected = append(e.Unexpected, n)
	}
	for _, m := range b.shapes {
		e.WrongShape = append(e.WrongShape, m)
	}
	for _, m := range b.dtypes {
		e.WrongDType = append(e.WrongDType, m)
	}
	e.Other = append(e.Other, b.setup...)
	sort.Strings(e.Missing)
	sort.Strings(e.Unexpected)
	sort.Strings(ignored)
	sort.Slice(e.WrongShape, func(i, j int) bool { return e.WrongShape[i].Name < e.WrongShape[j].Name })
	sort.Slice(e.WrongDType, func(i, j int) bool { return e.WrongDType[i].Name < e.WrongDType[j].Name })
	if b.cfg.notice != nil && !b.noticed {
		b.noticed = true
		for _, n := range ignored {
			b.cfg.notice(n)
		}
	}
	if len(e.Missing)+len(e.Unexpected)+len(e.WrongShape)+len(e.WrongDType)+len(e.Other) == 0 {
		return nil
	}
	return e
}

func (b *Binder) ignored(name string) bool {
	for _, p := range b.cfg.ignore {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

func shapeFits(got, want []int) bool {
	if len(got) != len(want) {
		return false
	}
	for i, w := range want {
		if w >= 0 && got[i] != w {
			return false
		}
	}
	return true
}
