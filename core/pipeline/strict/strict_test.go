package strict

import (
	"reflect"
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	env := map[string]string{"A": "1", "EMPTY": "", "PATH_X": "/p"}
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cases := []struct {
		in, out string
		probs   []int // offsets of problems
	}{
		{"plain", "plain", nil},
		{"${A}", "1", nil},
		{"x${A}y${PATH_X}", "x1y/p", nil},
		{"${B:-def}", "def", nil},
		{"${EMPTY:-def}", "def", nil}, // set but empty takes the default, as in sh
		{"${EMPTY}", "", nil},
		{"${B:-}", "", nil},
		{"${B:-a:-b}", "a:-b", nil},
		{"$$5 and $${A}", "$5 and ${A}", nil},
		{"cost $5", "cost $5", nil},
		{"trailing $", "trailing $", nil},
		{"${B}", "", []int{0}},
		{"ab${1X}", "ab", []int{2}},
		{"é${B}", "é", []int{1}},
		{"${A", "${A", []int{0}},
		{"${}", "", []int{0}},
	}
	for _, c := range cases {
		out, probs := expand(c.in, getenv)
		if out != c.out {
			t.Errorf("expand(%q) = %q, want %q", c.in, out, c.out)
		}
		var offs []int
		for _, p := range probs {
			offs = append(offs, p.off)
		}
		if !reflect.DeepEqual(offs, c.probs) {
			t.Errorf("expand(%q) problems at %v, want %v (%v)", c.in, offs, c.probs, probs)
		}
	}
}

func TestSuggest(t *testing.T) {
	keys := []string{"name", "plugin", "builtin", "batch", "resources", "after", "input", "retries"}
	cases := map[string]string{
		"batchsize": "batch", "plugn": "plugin", "pluign": "plugin", "Name": "name", "retry": "retries",
		"resource": "resources", "aftr": "after", "zzzzzz": "", "x": "", "c": "", "ab": "",
	}
	for in, want := range cases {
		if got := Suggest(in, keys); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

type setSchema struct {
	Items []struct {
		Name string `koanf:"name"`
		N    int    `koanf:"n"`
	} `koanf:"items"`
	Top string `koanf:"top"`
}

func TestSetAndDecode(t *testing.T) {
	doc, ds := ParseDoc("f.yaml", []byte("items:\n  - name: a\n    n: 1\n  - name: b\ntop: x\n"))
	if ds != nil {
		t.Fatal(ds)
	}
	for _, c := range []struct{ path, val, want string }{
		{"items.b.n", "7", ""},
		{"items.0.n", "2", ""},
		{"top", "y", ""},
		{"items.c.n", "1", `items has no item named "c"`},
		{"top.x", "1", `top is "y", not a mapping`},
		{"items.a.bogus", "1", ""}, // reported by Decode, at the override
	} {
		if got := doc.Set(c.path, c.val, "--set "+c.path, "name"); got != c.want {
			t.Errorf("Set(%s) = %q, want %q", c.path, got, c.want)
		}
	}
	m, ix, ds := doc.Decode(reflect.TypeFor[setSchema]())
	if len(ds) != 1 || ds[0].String() != `--set items.a.bogus: unknown key "bogus"` {
		t.Fatalf("diagnostics = %v", ds)
	}
	var out setSchema
	if err := Unmarshal(m, &out); err != nil {
		t.Fatal(err)
	}
	if out.Items[0].N != 2 || out.Items[1].N != 7 || out.Top != "y" {
		t.Errorf("decoded %+v", out)
	}
	if n := ix.Node("items.0.name"); n == nil || n.Line != 2 || n.Column != 11 {
		t.Errorf("index position of items.0.name = %+v", n)
	}
}

func TestDiagnosticsSortAndString(t *testing.T) {
	ds := Diagnostics{
		{File: "b.yaml", Line: 2, Col: 1, Msg: "z"},
		{File: "a.yaml", Line: 10, Col: 3, Msg: "y"},
		{File: "a.yaml", Line: 2, Col: 5, Msg: "x"},
		{File: "a.yaml", Line: 2, Col: 5, Msg: "x"},
		{File: "--set k=v", Msg: "bad"},
	}.Sort()
	got := ds.Error()
	want := strings.Join([]string{"--set k=v: bad", "a.yaml:2:5: x", "a.yaml:10:3: y", "b.yaml:2:1: z"}, "\n")
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if Diagnostics(nil).Err() != nil {
		t.Error("empty Diagnostics.Err() is not nil")
	}
}

// FuzzExpand checks the ${VAR} grammar never panics and reports problems inside the text.
func FuzzExpand(f *testing.F) {
	for _, s := range []string{"${A}", "${A:-x}", "$$", "${", "a${B}c${", "${:-}", "é${A"} {
		f.Add(s)
	}
	getenv := func(k string) (string, bool) { return "v", k == "A" }
	f.Fuzz(func(t *testing.T, s string) {
		_, probs := expand(s, getenv)
		for _, p := range probs {
			if p.off < 0 || p.off > len([]rune(s)) {
				t.Fatalf("problem offset %d outside %q", p.off, s)
			}
		}
	})
}
