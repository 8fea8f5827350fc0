package weights

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/plexusml/plexus/core/tensor"
)

// storageDTypes maps torch's storage classes to element types. Char, Short and complex
// storages have no plexus dtype and are reported by name when a tensor uses them.
var storageDTypes = map[string]tensor.DType{
	"FloatStorage":    tensor.Float32,
	"HalfStorage":     tensor.Float16,
	"BFloat16Storage": tensor.BFloat16,
	"DoubleStorage":   tensor.Float64,
	"LongStorage":     tensor.Int64,
	"IntStorage":      tensor.Int32,
	"ByteStorage":     tensor.Uint8,
	"BoolStorage":     tensor.Bool,
	"UntypedStorage":  tensor.Uint8,
}

// storageElemSizes covers the storage classes plexus cannot read too, so that a legacy
// file's storages after an unsupported one can still be located.
var storageElemSizes = map[string]int{
	"CharStorage": 1, "ShortStorage": 2, "ComplexFloatStorage": 8, "ComplexDoubleStorage": 16,
	"QInt8Storage": 1, "QUInt8Storage": 1, "QInt32Storage": 4,
}

func storageElemSize(class string) int {
	if dt, ok := storageDTypes[class]; ok {
		return dt.Size()
	}
	return storageElemSizes[class]
}

// legacyMagic is torch's magic number for the pre-1.6 (non-zip) format, pickled as LONG1.
var legacyMagic, _ = new(big.Int).SetString("1950a86a20f9469cfc6c", 16)

// ReadPyTorch reads the tensors of a PyTorch checkpoint: a zip checkpoint written by
// torch.save (.pth, .pt, pytorch_model.bin) or the legacy format torch wrote before 1.6.
// A state dict wrapped as {"state_dict": ...} or {"model": ...} and a pickled
// nn.Module are unwrapped; other entries (optimizer state, epochs) are left out. Every
// tensor comes back contiguous; tensors that shared storage in torch share bytes here
// when their layout allows. Nothing in the file is executed.
func ReadPyTorch(path string) (map[string]*tensor.Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read pytorch checkpoint: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read pytorch checkpoint: %w", err)
	}
	m, err := readPyTorch(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("read pytorch checkpoint %s: %w", path, err)
	}
	return m, nil
}

func readPyTorch(r io.ReaderAt, size int64) (map[string]*tensor.Tensor, error) {
	var head [4]byte
	if _, err := r.ReadAt(head[:], 0); err != nil {
		return nil, fmt.Errorf("%w: file too short", ErrFormat)
	}
	if string(head[:]) == "PK\x03\x04" {
		return readZipCheckpoint(r, size)
	}
	if head[0] == 0x80 && head[1] <= 5 {
		return readLegacyCheckpoint(r, size)
	}
	return nil, fmt.Errorf("%w: neither a zip checkpoint nor a legacy torch.save file", ErrFormat)
}

// readZipCheckpoint reads ARCHIVE/data.pkl and the storages it names, ARCHIVE/data/KEY.
func readZipCheckpoint(r io.ReaderAt, size int64) (map[string]*tensor.Tensor, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("%w: zip: %v", ErrFormat, err)
	}
	var pkl *zip.File
	for _, f := range zr.File {
		if path.Base(f.Name) == "data.pkl" && strings.Count(f.Name, "/") == 1 {
			pkl = f
			break
		}
	}
	if pkl == nil {
		for _, f := range zr.File {
			if path.Base(f.Name) == "constants.pkl" {
				return nil, errors.New("this is a TorchScript archive (torch.jit.save); save model.state_dict() with torch.save instead")
			}
		}
		return nil, fmt.Errorf("%w: zip has no ARCHIVE/data.pkl; not a torch.save checkpoint", ErrFormat)
	}
	prefix := strings.TrimSuffix(pkl.Name, "data.pkl")
	entries := map[string]*zip.File{}
	for _, f := range zr.File {
		if strings.HasPrefix(f.Name, prefix+"data/") {
			entries[strings.TrimPrefix(f.Name, prefix+"data/")] = f
		}
	}
	pickled, err := readZipEntry(pkl, pkl.UncompressedSize64, size)
	if err != nil {
		return nil, err
	}
	storages := map[string]*storageRef{}
	u := newUnpickler(pickled, func(pid any) (any, error) {
		// ('storage', storage_class, key, location, numel)
		t, ok := pid.(*pyTuple)
		if !ok || len(t.items) < 5 || t.items[0] != "storage" {
			return nil, fmt.Errorf("persistent id %v is not a storage", describe(pid))
		}
		return newStorageRef(storages, t.items[1], t.items[2], t.items[4])
	})
	root, err := u.load()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pkl.Name, err)
	}
	named, err := collectTensors(root)
	if err != nil {
		return nil, err
	}
	data := map[*storageRef][]byte{}
	load := func(s *storageRef) ([]byte, error) {
		if b, ok := data[s]; ok {
			return b, nil
		}
		f, ok := entries[s.key]
		if !ok {
			return nil, fmt.Errorf("storage %q: no entry %sdata/%s in the archive", s.key, prefix, s.key)
		}
		b, err := readZipEntry(f, uint64(s.numel)*uint64(storageDTypes[s.dtypeName].Size()), size)
		if err != nil {
			return nil, err
		}
		data[s] = b
		return b, nil
	}
	return materialize(named, load)
}

// readZipEntry reads want bytes of an entry, after checking that the entry holds that
// many: sizes from the pickle are never trusted further than the archive's own sizes,
// and a stored entry's size is bounded by the file.
func readZipEntry(f *zip.File, want uint64, fileSize int64) ([]byte, error) {
	if want > f.UncompressedSize64 {
		return nil, fmt.Errorf("%w: entry %s holds %d bytes, %d needed", ErrFormat, f.Name, f.UncompressedSize64, want)
	}
	if f.Method == zip.Store && want > uint64(fileSize) {
		return nil, fmt.Errorf("%w: entry %s claims %d bytes in a %d-byte file", ErrFormat, f.Name, want, fileSize)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: entry %s: %v", ErrFormat, f.Name, err)
	}
	defer rc.Close()
	var b []byte
	if f.Method == zip.Store {
		b = make([]byte, want)
		if _, err = io.ReadFull(rc, b); err == nil && want == f.UncompressedSize64 {
			// One more read reaches the end of the entry, where archive/zip
			// verifies the CRC: a corrupted checkpoint fails here, not later.
			var one [1]byte
			if _, err = rc.Read(one[:]); err == io.EOF {
				err = nil
			}
		}
	} else {
		// A compressed entry's declared size is not bounded by the file; grow the
		// buffer with the data actually inflated instead of trusting it.
		var buf bytes.Buffer
		var n int64
		n, err = io.Copy(&buf, io.LimitReader(rc, int64(want)))
		if err == nil && uint64(n) < want {
			err = io.ErrUnexpectedEOF
		}
		b = buf.Bytes()
	}
	if err != nil {
		return nil, fmt.Errorf("%w: entry %s: %v", ErrFormat, f.Name, err)
	}
	return b, nil
}

func newStorageRef(seen map[string]*storageRef, class, key, numel any) (*storageRef, error) {
	g, ok := class.(*pyGlobal)
	if !ok {
		return nil, fmt.Errorf("storage class is %s", describe(class))
	}
	k, ok := key.(string)
	if !ok {
		return nil, fmt.Errorf("storage key is %s", describe(key))
	}
	n, ok := numel.(int64)
	if !ok || n < 0 || n > maxDim {
		return nil, fmt.Errorf("storage %q size is %s", k, describe(numel))
	}
	if s, ok := seen[k]; ok {
		if s.dtypeName != g.name {
			return nil, fmt.Errorf("storage %q is both %s and %s", k, s.dtypeName, g.name)
		}
		return s, nil
	}
	if g.module != "torch" && g.module != "torch.storage" {
		return nil, fmt.Errorf("storage %q has class %s", k, g)
	}
	s := &storageRef{dtypeName: g.name, key: k, numel: int(n)}
	seen[k] = s
	return s, nil
}

// readLegacyCheckpoint reads the pre-zip format: pickled magic number, protocol version
// and system info, the object pickle, the list of storage keys, then for each key an
// 8-byte little-endian element count followed by the raw elements.
func readLegacyCheckpoint(r io.ReaderAt, size int64) (map[string]*tensor.Tensor, error) {
	buf := make([]byte, size)
	if _, err := r.ReadAt(buf, 0); err != nil && !(errors.Is(err, io.EOF)) {
		return nil, err
	}
	u := newUnpickler(buf, nil)
	magic, err := u.load()
	if err != nil {
		return nil, fmt.Errorf("legacy header: %w", err)
	}
	if m, ok := magic.(*big.Int); !ok || m.Cmp(legacyMagic) != 0 {
		return nil, fmt.Errorf("%w: no torch magic number; not a torch.save file", ErrFormat)
	}
	if v, err := u.load(); err != nil || v != int64(1001) {
		return nil, fmt.Errorf("%w: legacy protocol version %v (want 1001)", ErrFormat, v)
	}
	sysInfo, err := u.load()
	if err != nil {
		return nil, fmt.Errorf("legacy system info: %w", err)
	}
	if d, ok := sysInfo.(*pyDict); ok {
		if le, ok := d.get("little_endian"); ok && le == false {
			return nil, errors.New("checkpoint was written on a big-endian machine; re-save it on a little-endian one")
		}
	}
	storages := map[string]*storageRef{}
	u.persistentLoad = func(pid any) (any, error) {
		// ('storage', storage_class, root_key, location, numel, view_metadata)
		t, ok := pid.(*pyTuple)
		if !ok || len(t.items) < 6 || t.items[0] != "storage" {
			return nil, fmt.Errorf("persistent id %v is not a storage", describe(pid))
		}
		s, err := newStorageRef(storages, t.items[1], t.items[2], t.items[4])
		if err != nil || t.items[5] == nil {
			return s, err
		}
		// (view_key, offset, view_size): a view into the root storage, from torch < 1.0.
		vm, ok := t.items[5].(*pyTuple)
		if !ok || len(vm.items) != 3 {
			return nil, fmt.Errorf("storage %q view metadata is %s", s.key, describe(t.items[5]))
		}
		off, ok1 := vm.items[1].(int64)
		n, ok2 := vm.items[2].(int64)
		if !ok1 || !ok2 || off < 0 || n < 0 || off > maxDim || n > maxDim {
			return nil, fmt.Errorf("storage %q view metadata is %s", s.key, describe(t.items[5]))
		}
		return &storageRef{dtypeName: s.dtypeName, key: s.key, numel: int(n), base: s, viewOffset: int(off)}, nil
	}
	root, err := u.load()
	if err != nil {
		return nil, fmt.Errorf("legacy object pickle: %w", err)
	}
	u.persistentLoad = nil
	keysV, err := u.load()
	if err != nil {
		return nil, fmt.Errorf("legacy storage keys: %w", err)
	}
	keys, ok := keysV.(*pyList)
	if !ok {
		return nil, fmt.Errorf("%w: legacy storage keys are %s", ErrFormat, describe(keysV))
	}
	data := map[*storageRef][]byte{}
	pos := u.pos
	for _, kv := range keys.items {
		k, _ := kv.(string)
		s, ok := storages[k]
		if !ok {
			return nil, fmt.Errorf("%w: legacy storage key %s was not referenced", ErrFormat, describe(kv))
		}
		es := storageElemSize(s.dtypeName)
		if es == 0 {
			return nil, fmt.Errorf("%w: legacy storage %q has unknown type torch.%s", ErrFormat, k, s.dtypeName)
		}
		if len(buf)-pos < 8 {
			return nil, fmt.Errorf("%w: legacy storage %q: truncated", ErrFormat, k)
		}
		var n uint64
		for i := 7; i >= 0; i-- {
			n = n<<8 | uint64(buf[pos+i])
		}
		pos += 8
		if n > uint64(len(buf)-pos)/uint64(es) {
			return nil, fmt.Errorf("%w: legacy storage %q: %d elements run past the end of the file", ErrFormat, k, n)
		}
		if int(n) < s.numel {
			return nil, fmt.Errorf("%w: legacy storage %q has %d elements, %d referenced", ErrFormat, k, n, s.numel)
		}
		// Copied out of the file buffer, where the 8-byte counts leave elements at any
		// alignment; float32 and int64 slices need natural alignment.
		data[s] = alignedCopy(buf[pos : pos+int(n)*es])
		pos += int(n) * es
	}
	named, err := collectTensors(root)
	if err != nil {
		return nil, err
	}
	return materialize(named, func(s *storageRef) ([]byte, error) {
		b, ok := data[s]
		if !ok {
			return nil, fmt.Errorf("%w: storage %q has no data", ErrFormat, s.key)
		}
		return b, nil
	})
}

// materialize turns rebuilt tensor views into contiguous tensors; load returns a root
// storage's bytes.
func materialize(named map[string]*pyTensor, load func(*storageRef) ([]byte, error)) (map[string]*tensor.Tensor, error) {
	names := make([]string, 0, len(named))
	for n := range named {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make(map[string]*tensor.Tensor, len(named))
	for _, name := range names {
		t, err := toTensor(named[name], load)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

func toTensor(p *pyTensor, load func(*storageRef) ([]byte, error)) (*tensor.Tensor, error) {
	s := p.storage
	dt, ok := storageDTypes[s.dtypeName]
	if !ok {
		return nil, fmt.Errorf("unsupported storage type torch.%s (plexus reads float32/16, bfloat16, float64, int64/32, uint8, bool)", s.dtypeName)
	}
	es := dt.Size()
	root, viewOff := s, 0
	if s.base != nil {
		root, viewOff = s.base, s.viewOffset
	}
	b, err := load(root)
	if err != nil {
		return nil, err
	}
	if viewOff+s.numel > len(b)/es {
		return nil, fmt.Errorf("%w: storage %q view [%d:%d] is past its %d elements", ErrFormat, s.key, viewOff, viewOff+s.numel, len(b)/es)
	}
	b = b[viewOff*es : (viewOff+s.numel)*es]

	// Bounds: the farthest element must lie inside the storage. Each term is below
	// 2^80 at worst, so the check is done in two steps to stay inside int64.
	n := 1
	last := p.offset
	for i, d := range p.size {
		if d == 0 {
			n = 0
			break
		}
		if n > maxDim/d {
			return nil, fmt.Errorf("%w: shape %v is too large", ErrFormat, p.size)
		}
		n *= d
		if p.stride[i] > maxDim/d {
			return nil, fmt.Errorf("%w: stride %v is too large", ErrFormat, p.stride)
		}
		last += (d - 1) * p.stride[i]
		if last > maxDim {
			return nil, fmt.Errorf("%w: view past the end of its storage", ErrFormat)
		}
	}
	if n == 0 {
		return tensor.New(dt, p.size...), nil
	}
	if last >= s.numel {
		return nil, fmt.Errorf("%w: view (offset %d, size %v, stride %v) reaches element %d of a %d-element storage", ErrFormat, p.offset, p.size, p.stride, last, s.numel)
	}
	if isContiguous(p.size, p.stride) {
		// Shares bytes with every other tensor of the same storage, as torch did.
		return tensor.FromBytes(dt, p.size, b[p.offset*es:(p.offset+n)*es:(p.offset+n)*es])
	}
	// A transposed or sliced view: gather it into row-major order. A view with a zero
	// stride (torch's expand) can be far larger than its storage; past maxExpand bytes
	// it is refused rather than letting a small file ask for any amount of memory.
	if n*es > len(b) && n*es > maxExpand {
		return nil, fmt.Errorf("%w: view (size %v, stride %v) expands a %d-byte storage to %d bytes, over the %d limit", ErrFormat, p.size, p.stride, len(b), n*es, maxExpand)
	}
	out := make([]byte, n*es)
	idx := make([]int, len(p.size))
	off := p.offset
	for i := 0; i < n; i++ {
		copy(out[i*es:(i+1)*es], b[off*es:(off+1)*es])
		for d := len(p.size) - 1; d >= 0; d-- {
			idx[d]++
			off += p.stride[d]
			if idx[d] < p.size[d] {
				break
			}
			off -= p.stride[d] * p.size[d]
			idx[d] = 0
		}
	}
	return tensor.FromBytes(dt, p.size, out)
}

// maxExpand bounds the bytes a broadcast view may grow to beyond its storage.
const maxExpand = 64 << 20

func isContiguous(size, stride []int) bool {
	want := 1
	for i := len(size) - 1; i >= 0; i-- {
		if size[i] != 1 && stride[i] != want {
			return false
		}
		want *= size[i]
	}
	return true
}

// wrapperKeys are the keys under which training scripts nest a state dict, tried in
// order when the top level holds no tensors itself.
var wrapperKeys = []string{"state_dict", "model_state_dict", "model", "module", "net", "network", "ema", "params"}

// collectTensors finds the state dict in an unpickled checkpoint and names its tensors.
func collectTensors(root any) (map[string]*pyTensor, error) {
	if d, ok := root.(*pyDict); ok && !hasDirectTensors(d) {
		for _, k := range wrapperKeys {
			if v, ok := d.get(k); ok {
				out := map[string]*pyTensor{}
				walkTensors(v, "", out, map[any]bool{}, 0)
				if len(out) > 0 {
					return out, nil
				}
			}
		}
	}
	out := map[string]*pyTensor{}
	walkTensors(root, "", out, map[any]bool{}, 0)
	if len(out) == 0 {
		return nil, fmt.Errorf("no tensors found (top level is %s)", describe(root))
	}
	return out, nil
}

func hasDirectTensors(d *pyDict) bool {
	for _, v := range d.vals {
		if _, ok := v.(*pyTensor); ok {
			return true
		}
	}
	return false
}

// walkTensors names every tensor reachable through string-keyed dicts and nn.Module
// objects; other containers (optimizer state keyed by ints, lists) are skipped, since
// their tensors have no parameter names. seen stops reference cycles.
func walkTensors(v any, prefix string, out map[string]*pyTensor, seen map[any]bool, depth int) {
	if depth > maxPickleDepth {
		return
	}
	switch x := v.(type) {
	case *pyTensor:
		if prefix != "" {
			out[prefix] = x
		}
	case *pyDict:
		if seen[x] {
			return
		}
		seen[x] = true
		for i, k := range x.keys {
			ks, ok := k.(string)
			if !ok {
				continue
			}
			walkTensors(x.vals[i], join(prefix, ks), out, seen, depth+1)
		}
	case *pyObject:
		// A pickled nn.Module: state is its __dict__, with _parameters, _buffers and
		// _modules dicts whose keys form the state-dict names.
		st, ok := x.state.(*pyDict)
		if !ok || seen[x] {
			return
		}
		seen[x] = true
		if _, isModule := st.get("_modules"); !isModule {
			return
		}
		for _, field := range []string{"_parameters", "_buffers", "_modules"} {
			if sub, ok := st.get(field); ok {
				if d, ok := sub.(*pyDict); ok {
					for i, k := range d.keys {
						if ks, ok := k.(string); ok {
							walkTensors(d.vals[i], join(prefix, ks), out, seen, depth+1)
						}
					}
				}
			}
		}
	}
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// describe names a pickled value's kind for error messages without dumping it.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case string:
		if len(x) > 40 {
			x = x[:40] + "…"
		}
		return fmt.Sprintf("%q", x)
	case int64, bool, float64:
		return fmt.Sprint(x)
	case *pyDict:
		return fmt.Sprintf("a dict of %d entries", len(x.keys))
	case *pyList:
		return fmt.Sprintf("a list of %d items", len(x.items))
	case *pyTuple:
		return fmt.Sprintf("a tuple of %d items", len(x.items))
	case *pyObject:
		if x.class != nil {
			return "a " + x.class.String() + " object"
		}
		return "an object"
	case *pyGlobal:
		return x.String()
	case *pyTensor:
		return "a tensor"
	case *storageRef:
		return "a storage"
	}
	return fmt.Sprintf("%T", v)
}
