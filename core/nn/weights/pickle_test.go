package weights

import (
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"testing"
)

// Pickles of one value at each protocol, made by CPython's pickle.dumps of
// {'a': [1, -2, 2**70, -2**63, 255, 65535, 2**31-1, -2**31, 1.5, 's', b'b', (1, 2),
// None, True, False, ()], 'n': {'x': 1}}.
var protocolPickles = map[int]string{
	0: "(dp0\x0aVa\x0ap1\x0a(lp2\x0aI1\x0aaI-2\x0aaL1180591620717411303424L\x0aaL-9223372036854775808L\x0aaI255\x0aaI65535\x0aaI2147483647\x0aaI-2147483648\x0aaF1.5\x0aaVs\x0ap3\x0aac_codecs\x0aencode\x0ap4\x0a(Vb\x0ap5\x0aVlatin1\x0ap6\x0atp7\x0aRp8\x0aa(I1\x0aI2\x0atp9\x0aaNaI01\x0aaI00\x0aa(tasVn\x0ap10\x0a(dp11\x0aVx\x0ap12\x0aI1\x0ass.",
	2: "\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01J\xfe\xff\xff\xff\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00@\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x80K\xffM\xff\xffJ\xff\xff\xff\x7fJ\x00\x00\x00\x80G?\xf8\x00\x00\x00\x00\x00\x00X\x01\x00\x00\x00sq\x03c_codecs\x0aencode\x0aq\x04X\x01\x00\x00\x00bq\x05X\x06\x00\x00\x00latin1q\x06\x86q\x07Rq\x08K\x01K\x02\x86q\x09N\x88\x89)eX\x01\x00\x00\x00nq\x0a}q\x0bX\x01\x00\x00\x00xq\x0cK\x01su.",
	4: "\x80\x04\x95`\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x01a\x94]\x94(K\x01J\xfe\xff\xff\xff\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00@\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x80K\xffM\xff\xffJ\xff\xff\xff\x7fJ\x00\x00\x00\x80G?\xf8\x00\x00\x00\x00\x00\x00\x8c\x01s\x94C\x01b\x94K\x01K\x02\x86\x94N\x88\x89)e\x8c\x01n\x94}\x94\x8c\x01x\x94K\x01su.",
	5: "\x80\x05\x95`\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x01a\x94]\x94(K\x01J\xfe\xff\xff\xff\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00@\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x80K\xffM\xff\xffJ\xff\xff\xff\x7fJ\x00\x00\x00\x80G?\xf8\x00\x00\x00\x00\x00\x00\x8c\x01s\x94C\x01b\x94K\x01K\x02\x86\x94N\x88\x89)e\x8c\x01n\x94}\x94\x8c\x01x\x94K\x01su.",
}

// plain turns unpickled values into Go values that reflect.DeepEqual can compare.
func plain(v any) any {
	switch x := v.(type) {
	case *pyDict:
		m := map[string]any{}
		for i, k := range x.keys {
			m[fmt.Sprint(k)] = plain(x.vals[i])
		}
		return m
	case *pyList:
		out := []any{}
		for _, it := range x.items {
			out = append(out, plain(it))
		}
		return out
	case *pyTuple:
		out := []any{"tuple"}
		for _, it := range x.items {
			out = append(out, plain(it))
		}
		return out
	case *big.Int:
		return x.String()
	case pyBytes:
		return "bytes:" + string(x)
	case *pyObject: // protocols 0-2 pickle bytes as _codecs.encode(str, 'latin1')
		if x.class != nil && x.class.String() == "_codecs.encode" && len(x.args) == 2 {
			return "bytes:" + x.args[0].(string)
		}
	}
	return v
}

func TestUnpicklerProtocols(t *testing.T) {
	want := map[string]any{
		"a": []any{int64(1), int64(-2), "1180591620717411303424", int64(-1 << 63), int64(255), int64(65535),
			int64(1<<31 - 1), int64(-1 << 31), 1.5, "s", "bytes:b", []any{"tuple", int64(1), int64(2)},
			nil, true, false, []any{"tuple"}},
		"n": map[string]any{"x": int64(1)},
	}
	for proto, data := range protocolPickles {
		t.Run(fmt.Sprint("protocol", proto), func(t *testing.T) {
			u := newUnpickler([]byte(data), nil)
			v, err := u.load()
			if err != nil {
				t.Fatal(err)
			}
			if got := plain(v); !reflect.DeepEqual(got, want) {
				t.Errorf("got  %#v\nwant %#v", got, want)
			}
			if u.pos != len(data) {
				t.Errorf("stopped at %d of %d bytes", u.pos, len(data))
			}
		})
	}
}

func TestUnpicklerHostile(t *testing.T) {
	for _, tc := range []struct {
		name, data, want string
	}{
		{"huge BINUNICODE8", "\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\x7f", "runs past the end"},
		{"huge BINBYTES", "\x80\x03B\xff\xff\xff\xff", "runs past the end"},
		{"huge LONG4", "\x80\x02\x8b\xff\xff\xff\x7f", "too long"},
		{"huge FRAME is only a hint", "\x80\x04\x95\xff\xff\xff\xff\xff\xff\xff\x7fN.", ""},
		{"memo miss", "\x80\x02h\x05.", "never stored"},
		{"underflow", "\x80\x02.", "stack underflow"},
		{"pop below mark", "\x80\x02N(R", "stack underflow"},
		{"unknown opcode", "\x80\x02\xff", "unsupported opcode"},
		{"protocol 9", "\x80\x09N.", "unsupported pickle protocol 9"},
		{"truncated", "\x80\x02X\x05\x00\x00\x00ab", "runs past the end"},
		{"no stop", "\x80\x02N", "unexpected end"},
		{"reduce non-tuple", "\x80\x02cos\nsystem\nX\x02\x00\x00\x00lsR.", "not a tuple"},
		{"setitem on list", "\x80\x02]K\x01K\x02s.", "SETITEM on"},
		{"persid without loader", "\x80\x02NQ.", "without a loader"},
		{"quantized tensor", "\x80\x02ctorch._utils\n_rebuild_qtensor\n)R.", "unsupported tensor kind"},
		{"long text line", "I" + strings.Repeat("1", maxPickleLine+10) + "\n.", "without newline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newUnpickler([]byte(tc.data), nil).load()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if !errors.Is(err, errPickle) {
				t.Errorf("err %v does not wrap errPickle", err)
			}
		})
	}
}

// A dict that contains itself (memo reference) must not loop the tensor walk, and
// "os.system" is only ever a name.
func TestCollectTensorsCycleAndGlobals(t *testing.T) {
	data := "\x80\x02}q\x00(X\x04\x00\x00\x00selfq\x01h\x00X\x03\x00\x00\x00cmdcos\nsystem\nX\x02\x00\x00\x00ls\x85Ru."
	v, err := newUnpickler([]byte(data), nil).load()
	if err != nil {
		t.Fatal(err)
	}
	_, err = collectTensors(v)
	if err == nil || !strings.Contains(err.Error(), "no tensors found (top level is a dict of 2 entries)") {
		t.Errorf("collectTensors = %v", err)
	}
	d := v.(*pyDict)
	if o, ok := d.vals[1].(*pyObject); !ok || o.class.String() != "os.system" {
		t.Errorf("cmd = %#v, want an inert os.system object", d.vals[1])
	}
}
