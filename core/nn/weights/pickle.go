package weights

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// This file is a restricted pickle machine for PyTorch checkpoints. It is written here
// instead of using gopickle's Unpickler because that one allocates whatever length a
// file claims before reading it (a 10-byte pickle can ask for exabytes) and calls into
// Go types for every class; this one reads from a byte slice it already holds, so every
// length is bounded by the bytes that remain, and it never runs anything: globals are
// inert names, and only the few torch rebuild functions are given meaning.

// Pickle limits: far above anything a state dict uses, low enough that a hostile file
// cannot make the machine spend quadratic time on big-integer parsing.
const (
	maxPickleLong  = 1 << 10 // bytes of a LONG1/LONG4 integer
	maxPickleLine  = 1 << 12 // bytes of a text-protocol line
	maxPickleDepth = 100     // nesting walked when collecting tensors
)

// errPickle marks every malformed-pickle error so callers can tell bad files apart.
var errPickle = errors.New("malformed pickle")

// pyGlobal is a class or function named by GLOBAL / STACK_GLOBAL; nothing is imported.
type pyGlobal struct{ module, name string }

func (g *pyGlobal) String() string { return g.module + "." + g.name }

// pyTuple, pyList, pyDict and pyObject are pointers so that any value can be a dict key
// (Go map keys must be comparable; Python keys are hashable by construction).
type pyTuple struct{ items []any }
type pyList struct{ items []any }
type pyBytes string // bytes / bytearray, kept comparable

type pyDict struct {
	keys  []any
	vals  []any
	index map[any]int
}

func newDict() *pyDict { return &pyDict{index: map[any]int{}} }

func (d *pyDict) set(k, v any) {
	if i, ok := d.index[k]; ok {
		d.vals[i] = v
		return
	}
	d.index[k] = len(d.keys)
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
}

func (d *pyDict) get(k string) (any, bool) {
	i, ok := d.index[k]
	if !ok {
		return nil, false
	}
	return d.vals[i], true
}

// pyObject is any other object: a class applied to arguments (REDUCE, NEWOBJ) plus the
// state BUILD gave it. nn.Module pickles arrive as these.
type pyObject struct {
	class *pyGlobal
	args  []any
	state any
}

// storageRef is a persistent-id reference to a typed storage: its bytes live outside
// the pickle (archive/data/KEY in a zip checkpoint, after the pickles in a legacy one).
type storageRef struct {
	dtypeName string // the torch storage class, e.g. "FloatStorage"
	key       string
	numel     int // elements
	// A legacy view: numel elements starting at viewOffset elements into base.
	base       *storageRef
	viewOffset int
}

// pyTensor is the result of torch._utils._rebuild_tensor_v2: a strided view of a storage.
type pyTensor struct {
	storage *storageRef
	offset  int
	size    []int
	stride  []int
}

// unpickler executes one pickle held in memory.
type unpickler struct {
	data  []byte
	pos   int
	stack []any
	marks []int
	memo  map[uint32]any
	// persistentLoad resolves BINPERSID / PERSID ids to values.
	persistentLoad func(pid any) (any, error)
}

func newUnpickler(data []byte, persistentLoad func(any) (any, error)) *unpickler {
	return &unpickler{data: data, memo: map[uint32]any{}, persistentLoad: persistentLoad}
}

// load runs until STOP and returns the value on top of the stack. u.pos is left after
// STOP, so legacy files can continue with the next pickle.
func (u *unpickler) load() (result any, err error) {
	u.stack, u.marks = u.stack[:0], u.marks[:0]
	for {
		start := u.pos
		op, err := u.byte()
		if err != nil {
			return nil, err
		}
		done, err := u.step(op)
		if err != nil {
			return nil, fmt.Errorf("%w: opcode 0x%02x at byte %d: %v", errPickle, op, start, err)
		}
		if done {
			v, err := u.pop()
			if err != nil {
				return nil, fmt.Errorf("%w: STOP at byte %d: %v", errPickle, start, err)
			}
			return v, nil
		}
	}
}

func (u *unpickler) byte() (byte, error) {
	if u.pos >= len(u.data) {
		return 0, fmt.Errorf("%w: unexpected end at byte %d", errPickle, u.pos)
	}
	b := u.data[u.pos]
	u.pos++
	return b, nil
}

// read returns the next n bytes; n is checked against what remains before anything is
// allocated, which is the bound every length in the file gets.
func (u *unpickler) read(n uint64) ([]byte, error) {
	if n > uint64(len(u.data)-u.pos) {
		return nil, fmt.Errorf("length %d runs past the end (%d bytes left)", n, len(u.data)-u.pos)
	}
	b := u.data[u.pos : u.pos+int(n)]
	u.pos += int(n)
	return b, nil
}

func (u *unpickler) readUint(n int) (uint64, error) {
	b, err := u.read(uint64(n))
	if err != nil {
		return 0, err
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v, nil
}

func (u *unpickler) readLine() (string, error) {
	rest := u.data[u.pos:]
	for i, c := range rest {
		if c == '\n' {
			u.pos += i + 1
			return string(rest[:i]), nil
		}
		if i >= maxPickleLine {
			break
		}
	}
	return "", fmt.Errorf("text line without newline within %d bytes", maxPickleLine)
}

func (u *unpickler) push(v any) { u.stack = append(u.stack, v) }

func (u *unpickler) floor() int {
	if len(u.marks) == 0 {
		return 0
	}
	return u.marks[len(u.marks)-1]
}

func (u *unpickler) pop() (any, error) {
	if len(u.stack) <= u.floor() {
		return nil, errors.New("stack underflow")
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *unpickler) top() (any, error) {
	if len(u.stack) <= u.floor() {
		return nil, errors.New("stack underflow")
	}
	return u.stack[len(u.stack)-1], nil
}

// popMark returns the items pushed since the last MARK (a fresh slice) and drops the mark.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, errors.New("no MARK on the stack")
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	items := append([]any(nil), u.stack[m:]...)
	u.stack = u.stack[:m]
	return items, nil
}

func (u *unpickler) memoPut(i uint32) error {
	v, err := u.top()
	if err != nil {
		return err
	}
	u.memo[i] = v
	return nil
}

func (u *unpickler) memoGet(i uint32) error {
	v, ok := u.memo[i]
	if !ok {
		return fmt.Errorf("memo key %d was never stored", i)
	}
	u.push(v)
	return nil
}

// step executes one opcode; done is true at STOP.
func (u *unpickler) step(op byte) (done bool, err error) {
	switch op {
	case 0x80: // PROTO
		p, err := u.byte()
		if err != nil {
			return false, err
		}
		if p > 5 {
			return false, fmt.Errorf("unsupported pickle protocol %d", p)
		}
	case 0x95: // FRAME: only a read-ahead hint; the whole pickle is in memory.
		if _, err := u.readUint(8); err != nil {
			return false, err
		}
	case '.': // STOP
		return true, nil
	case '(': // MARK
		u.marks = append(u.marks, len(u.stack))
	case '0': // POP
		if len(u.stack) == u.floor() && len(u.marks) > 0 {
			_, err = u.popMark()
			return false, err
		}
		_, err = u.pop()
	case '1': // POP_MARK
		_, err = u.popMark()
	case '2': // DUP
		var v any
		if v, err = u.top(); err == nil {
			u.push(v)
		}
	case 'N':
		u.push(nil)
	case 0x88:
		u.push(true)
	case 0x89:
		u.push(false)
	case 'J': // BININT
		v, err := u.readUint(4)
		if err != nil {
			return false, err
		}
		u.push(int64(int32(uint32(v))))
	case 'K': // BININT1
		v, err := u.readUint(1)
		if err != nil {
			return false, err
		}
		u.push(int64(v))
	case 'M': // BININT2
		v, err := u.readUint(2)
		if err != nil {
			return false, err
		}
		u.push(int64(v))
	case 0x8a, 0x8b: // LONG1, LONG4
		width := 1
		if op == 0x8b {
			width = 4
		}
		n, err := u.readUint(width)
		if err != nil {
			return false, err
		}
		if n > maxPickleLong {
			return false, fmt.Errorf("integer of %d bytes is too long", n)
		}
		b, err := u.read(n)
		if err != nil {
			return false, err
		}
		u.push(decodeLong(b))
	case 'I', 'L': // INT, LONG (text)
		line, err := u.readLine()
		if err != nil {
			return false, err
		}
		v, err := parseTextInt(line)
		if err != nil {
			return false, err
		}
		u.push(v)
	case 'G': // BINFLOAT, big-endian
		b, err := u.read(8)
		if err != nil {
			return false, err
		}
		u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
	case 'F': // FLOAT (text)
		line, err := u.readLine()
		if err != nil {
			return false, err
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(line), 64)
		if err != nil {
			return false, err
		}
		u.push(f)
	case 'X', 0x8c, 0x8d, 'B', 'C', 0x8e, 0x96, 'T', 'U': // counted strings and bytes
		n, err := u.readUint(countWidth(op))
		if err != nil {
			return false, err
		}
		b, err := u.read(n)
		if err != nil {
			return false, err
		}
		switch op {
		case 'X', 0x8c, 0x8d, 'T', 'U': // str (Python 2 str is read as text too)
			u.push(string(b))
		default:
			u.push(pyBytes(b))
		}
	case 'V', 'S': // UNICODE, STRING (text protocol)
		line, err := u.readLine()
		if err != nil {
			return false, err
		}
		if op == 'S' {
			if len(line) < 2 || (line[0] != '\'' && line[0] != '"') || line[len(line)-1] != line[0] {
				return false, errors.New("STRING argument is not quoted")
			}
			line = line[1 : len(line)-1]
		}
		u.push(line)
	case ')':
		u.push(&pyTuple{})
	case 0x85, 0x86, 0x87: // TUPLE1..3
		n := int(op - 0x84)
		if len(u.stack)-u.floor() < n {
			return false, errors.New("stack underflow")
		}
		items := append([]any(nil), u.stack[len(u.stack)-n:]...)
		u.stack = u.stack[:len(u.stack)-n]
		u.push(&pyTuple{items: items})
	case 't': // TUPLE
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		u.push(&pyTuple{items: items})
	case ']':
		u.push(&pyList{})
	case 'l': // LIST
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		u.push(&pyList{items: items})
	case 'a': // APPEND
		v, err := u.pop()
		if err != nil {
			return false, err
		}
		return false, u.extend([]any{v})
	case 'e': // APPENDS
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		return false, u.extend(items)
	case '}':
		u.push(newDict())
	case 'd': // DICT
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		d := newDict()
		if err := setPairs(d, items); err != nil {
			return false, err
		}
		u.push(d)
	case 's': // SETITEM
		v, err := u.pop()
		if err != nil {
			return false, err
		}
		k, err := u.pop()
		if err != nil {
			return false, err
		}
		return false, u.setItems([]any{k, v})
	case 'u': // SETITEMS
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		return false, u.setItems(items)
	case 0x8f: // EMPTY_SET: a set is kept as a list; only its members matter here.
		u.push(&pyList{})
	case 0x90: // ADDITEMS
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		return false, u.extend(items)
	case 0x91: // FROZENSET
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		u.push(&pyList{items: items})
	case 'c': // GLOBAL
		mod, err := u.readLine()
		if err != nil {
			return false, err
		}
		name, err := u.readLine()
		if err != nil {
			return false, err
		}
		u.push(&pyGlobal{module: mod, name: name})
	case 0x93: // STACK_GLOBAL
		name, err := u.pop()
		if err != nil {
			return false, err
		}
		mod, err := u.pop()
		if err != nil {
			return false, err
		}
		ms, ok1 := mod.(string)
		ns, ok2 := name.(string)
		if !ok1 || !ok2 {
			return false, errors.New("STACK_GLOBAL needs two strings")
		}
		u.push(&pyGlobal{module: ms, name: ns})
	case 'R': // REDUCE
		args, err := u.pop()
		if err != nil {
			return false, err
		}
		fn, err := u.pop()
		if err != nil {
			return false, err
		}
		t, ok := args.(*pyTuple)
		if !ok {
			return false, fmt.Errorf("REDUCE arguments are %T, not a tuple", args)
		}
		v, err := reduce(fn, t.items)
		if err != nil {
			return false, err
		}
		u.push(v)
	case 0x81, 0x92: // NEWOBJ, NEWOBJ_EX
		if op == 0x92 {
			if _, err := u.pop(); err != nil { // kwargs
				return false, err
			}
		}
		args, err := u.pop()
		if err != nil {
			return false, err
		}
		cls, err := u.pop()
		if err != nil {
			return false, err
		}
		g, ok := cls.(*pyGlobal)
		if !ok {
			return false, fmt.Errorf("NEWOBJ class is %T", cls)
		}
		t, _ := args.(*pyTuple)
		if t == nil {
			t = &pyTuple{}
		}
		if g.module == "collections" && g.name == "OrderedDict" {
			u.push(newDict())
		} else {
			u.push(&pyObject{class: g, args: t.items})
		}
	case 'b': // BUILD
		state, err := u.pop()
		if err != nil {
			return false, err
		}
		inst, err := u.top()
		if err != nil {
			return false, err
		}
		// A dict's BUILD state is its attributes (a state dict's _metadata), which
		// carry no tensors; a tensor's is hooks or subclass attributes. Only plain
		// objects keep their state, since nn.Module parameters live there.
		if o, ok := inst.(*pyObject); ok {
			o.state = state
		}
	case 'P', 'Q': // PERSID, BINPERSID
		var pid any
		if op == 'P' {
			line, err := u.readLine()
			if err != nil {
				return false, err
			}
			pid = line
		} else if pid, err = u.pop(); err != nil {
			return false, err
		}
		if u.persistentLoad == nil {
			return false, errors.New("persistent id without a loader")
		}
		v, err := u.persistentLoad(pid)
		if err != nil {
			return false, err
		}
		u.push(v)
	case 'h': // BINGET
		i, err := u.readUint(1)
		if err != nil {
			return false, err
		}
		return false, u.memoGet(uint32(i))
	case 'j': // LONG_BINGET
		i, err := u.readUint(4)
		if err != nil {
			return false, err
		}
		return false, u.memoGet(uint32(i))
	case 'g': // GET
		line, err := u.readLine()
		if err != nil {
			return false, err
		}
		i, err := strconv.ParseUint(line, 10, 32)
		if err != nil {
			return false, err
		}
		return false, u.memoGet(uint32(i))
	case 'q': // BINPUT
		i, err := u.readUint(1)
		if err != nil {
			return false, err
		}
		return false, u.memoPut(uint32(i))
	case 'r': // LONG_BINPUT
		i, err := u.readUint(4)
		if err != nil {
			return false, err
		}
		return false, u.memoPut(uint32(i))
	case 'p': // PUT
		line, err := u.readLine()
		if err != nil {
			return false, err
		}
		i, err := strconv.ParseUint(line, 10, 32)
		if err != nil {
			return false, err
		}
		return false, u.memoPut(uint32(i))
	case 0x94: // MEMOIZE
		return false, u.memoPut(uint32(len(u.memo)))
	default:
		return false, fmt.Errorf("unsupported opcode")
	}
	return false, err
}

// countWidth is the byte width of a counted string or bytes opcode's length.
func countWidth(op byte) int {
	switch op {
	case 0x8c, 'C', 'U': // SHORT_BINUNICODE, SHORT_BINBYTES, SHORT_BINSTRING
		return 1
	case 0x8d, 0x8e, 0x96: // BINUNICODE8, BINBYTES8, BYTEARRAY8
		return 8
	}
	return 4 // BINUNICODE, BINBYTES, BINSTRING
}

func (u *unpickler) extend(items []any) error {
	v, err := u.top()
	if err != nil {
		return err
	}
	l, ok := v.(*pyList)
	if !ok {
		return fmt.Errorf("APPEND to %T", v)
	}
	l.items = append(l.items, items...)
	return nil
}

func (u *unpickler) setItems(items []any) error {
	v, err := u.top()
	if err != nil {
		return err
	}
	d, ok := v.(*pyDict)
	if !ok {
		return fmt.Errorf("SETITEM on %T", v)
	}
	return setPairs(d, items)
}

func setPairs(d *pyDict, items []any) error {
	if len(items)%2 != 0 {
		return errors.New("odd number of dict items")
	}
	for i := 0; i < len(items); i += 2 {
		d.set(items[i], items[i+1])
	}
	return nil
}

// decodeLong decodes a little-endian two's-complement integer (LONG1/LONG4).
func decodeLong(b []byte) any {
	if len(b) == 0 {
		return int64(0)
	}
	if len(b) <= 8 {
		var v uint64
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		shift := 64 - 8*uint(len(b))
		return int64(v<<shift) >> shift // sign-extend
	}
	be := make([]byte, len(b))
	for i, c := range b {
		be[len(b)-1-i] = c
	}
	v := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return v
}

func parseTextInt(line string) (any, error) {
	s := strings.TrimSuffix(line, "L")
	switch s {
	case "00":
		return false, nil
	case "01":
		return true, nil
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, nil
	}
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return nil, fmt.Errorf("bad integer %q", line)
	}
	return v, nil
}

// reduce applies a callable to arguments. Only torch's tensor rebuilders and
// OrderedDict mean anything; every other call becomes an inert pyObject, which is how
// optimizer states, argparse namespaces and modules in a checkpoint are carried along
// without running anything.
func reduce(fn any, args []any) (any, error) {
	g, ok := fn.(*pyGlobal)
	if !ok {
		return &pyObject{args: args}, nil
	}
	switch g.module + "." + g.name {
	case "collections.OrderedDict", "builtins.dict", "__builtin__.dict":
		d := newDict()
		if len(args) == 1 {
			if l, ok := args[0].(*pyList); ok {
				for _, it := range l.items {
					if t, ok := it.(*pyTuple); ok && len(t.items) == 2 {
						d.set(t.items[0], t.items[1])
					}
				}
			}
		}
		return d, nil
	case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor":
		if len(args) < 4 {
			return nil, fmt.Errorf("%s with %d arguments", g, len(args))
		}
		return rebuildTensor(args[0], args[1], args[2], args[3])
	case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
		if len(args) < 1 {
			return nil, fmt.Errorf("%s without arguments", g)
		}
		if _, ok := args[0].(*pyTensor); !ok {
			return nil, fmt.Errorf("%s of %T, not a tensor", g, args[0])
		}
		return args[0], nil
	case "torch._tensor._rebuild_from_type_v2", "torch._tensor._rebuild_from_type":
		// (func, subclass, args, state): a tensor subclass; rebuild the plain tensor.
		if len(args) < 3 {
			return nil, fmt.Errorf("%s with %d arguments", g, len(args))
		}
		inner, ok := args[2].(*pyTuple)
		if !ok {
			return nil, fmt.Errorf("%s arguments are %T", g, args[2])
		}
		if _, isGlobal := args[0].(*pyGlobal); !isGlobal {
			return nil, fmt.Errorf("%s of %T", g, args[0])
		}
		return reduce(args[0], inner.items)
	}
	if g.module == "torch._utils" && strings.HasPrefix(g.name, "_rebuild_") {
		return nil, fmt.Errorf("unsupported tensor kind %s (quantized, sparse, meta or device tensors cannot be read; save a dense CPU state dict)", g)
	}
	return &pyObject{class: g, args: args}, nil
}

func rebuildTensor(storage, offset, size, stride any) (*pyTensor, error) {
	s, ok := storage.(*storageRef)
	if !ok {
		return nil, fmt.Errorf("tensor storage is %T, not a persistent storage", storage)
	}
	off, ok := offset.(int64)
	if !ok || off < 0 || off > maxDim {
		return nil, fmt.Errorf("bad storage offset %v", offset)
	}
	sz, err := intTuple(size)
	if err != nil {
		return nil, fmt.Errorf("tensor size: %w", err)
	}
	st, err := intTuple(stride)
	if err != nil {
		return nil, fmt.Errorf("tensor stride: %w", err)
	}
	if len(sz) != len(st) {
		return nil, fmt.Errorf("tensor size %v and stride %v differ in rank", sz, st)
	}
	return &pyTensor{storage: s, offset: int(off), size: sz, stride: st}, nil
}

// maxDim bounds every dimension, stride and offset read from a pickle so that sums and
// products of a few of them cannot overflow an int: 2^40 where int has 64 bits, 2^28
// where it has 32.
const maxDim = 1 << (28 + 12*(^uint(0)>>63))

func intTuple(v any) ([]int, error) {
	var items []any
	switch t := v.(type) {
	case *pyTuple:
		items = t.items
	case *pyList:
		items = t.items
	case *pyObject: // torch.Size((2, 3))
		if t.class != nil && t.class.name == "Size" && len(t.args) == 1 {
			return intTuple(t.args[0])
		}
		return nil, fmt.Errorf("%v is not a tuple", t.class)
	default:
		return nil, fmt.Errorf("%T is not a tuple", v)
	}
	if len(items) > 64 {
		return nil, fmt.Errorf("rank %d is too large", len(items))
	}
	out := make([]int, len(items))
	for i, it := range items {
		n, ok := it.(int64)
		if !ok || n < 0 || n > maxDim {
			return nil, fmt.Errorf("element %d is %v", i, it)
		}
		out[i] = int(n)
	}
	return out, nil
}
