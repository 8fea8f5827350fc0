package tokenize

import (
	"errors"
	"strings"
	"testing"
)

const testVocab = `[PAD]
[UNK]
[CLS]
[SEP]
[MASK]
hello
world
,
!
'
un
##aff
##able
don
t
the
cafe
中
文
##s
cat
Hello
.
$
5
`

func testWP(t testing.TB, lower bool) *WordPiece {
	t.Helper()
	w, err := ParseVocab(strings.NewReader(testVocab), lower)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWordPiece(t *testing.T) {
	for _, c := range []struct {
		text  string
		lower bool
		want  string
	}{
		{"Hello, World!", true, "hello , world !"},
		{"unaffable", true, "un ##aff ##able"},
		{"UNAFFABLE", true, "un ##aff ##able"},
		{"Café", true, "cafe"},
		{"Cafe\u0301", true, "cafe"}, // decomposed accent
		{"don't", true, "don ' t"},
		{"中文cats", true, "中 文 cat ##s"},
		{"the\u00a0cat\tthe\ncat", true, "the cat the cat"},
		{"the\x00 c\u200bat", true, "the cat"}, // NUL and a format character are removed
		{"unknownword", true, "[UNK]"},
		{"unaffablex", true, "[UNK]"}, // one unmatched piece makes the whole word unknown
		{"Hello world", false, "Hello world"},
		{"hello World", false, "hello [UNK]"},
		{"$5.", true, "$ 5 ."},
		{"", true, ""},
		{"  \t ", true, ""},
	} {
		got, err := testWP(t, c.lower).Tokenize(c.text)
		if err != nil {
			t.Fatalf("%q: %v", c.text, err)
		}
		if g := strings.Join(got, " "); g != c.want {
			t.Errorf("%q (lower %v): %q, want %q", c.text, c.lower, g, c.want)
		}
	}
}

func TestWordPieceForModel(t *testing.T) {
	w := testWP(t, true)
	ids, cut, err := w.EncodeForModel("hello, world!", 0)
	if err != nil || cut {
		t.Fatal(err, cut)
	}
	if want := []int{2, 5, 7, 6, 8, 3}; !equalInts(ids, want) {
		t.Errorf("ids %v, want %v", ids, want)
	}
	ids, cut, _ = w.EncodeForModel("hello, world!", 4)
	if want := []int{2, 5, 7, 3}; !cut || !equalInts(ids, want) {
		t.Errorf("cut to 4: %v (%v), want %v", ids, cut, want)
	}
	s, err := w.Decode([]int{10, 11, 12, 15})
	if err != nil || s != "unaffable the" {
		t.Errorf("decode %q, %v", s, err)
	}
	if _, err := w.Decode([]int{99}); err == nil {
		t.Error("decoded an id outside the vocabulary")
	}
}

func TestInvalidUTF8(t *testing.T) {
	w := testWP(t, true)
	_, err := w.Tokenize("hello \xffworld")
	if !errors.Is(err, ErrInvalidUTF8) || !strings.Contains(err.Error(), "byte 6") {
		t.Errorf("wordpiece: %v", err)
	}
	c, _ := NewChar("abc")
	if _, err := c.Encode("a\xc3"); !errors.Is(err, ErrInvalidUTF8) || !strings.Contains(err.Error(), "byte 1") {
		t.Errorf("char: %v", err)
	}
	if _, err := NewChar("ok", "bad\xff"); err == nil || !strings.Contains(err.Error(), "text 1") {
		t.Errorf("char vocabulary: %v", err)
	}
	if _, err := ParseVocab(strings.NewReader("[UNK]\nok\nbad\xff\n"), true); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("vocab.txt: %v", err)
	}
}

func TestVocabErrors(t *testing.T) {
	if _, err := ParseVocab(strings.NewReader(""), true); err == nil {
		t.Error("empty vocabulary accepted")
	}
	if _, err := ParseVocab(strings.NewReader("a\nb\n"), true); err == nil {
		t.Error("vocabulary without [UNK] accepted")
	}
	if _, err := CharFromTokens([]string{"a"}); err == nil {
		t.Error("char vocabulary without <unk> first accepted")
	}
	if _, err := CharFromTokens([]string{Unknown, "ab"}); err == nil {
		t.Error("two-character token accepted")
	}
	if _, err := CharFromTokens([]string{Unknown, "a", "a"}); err == nil {
		t.Error("duplicate token accepted")
	}
}

func TestChar(t *testing.T) {
	c, err := NewChar("hello world", "héllo\n")
	if err != nil {
		t.Fatal(err)
	}
	// <unk>, "\n", " ", d, e, h, l, o, r, w, é
	if c.VocabSize() != 11 {
		t.Fatalf("vocabulary %q", c.Tokens())
	}
	ids, err := c.Encode("hold é!")
	if err != nil {
		t.Fatal(err)
	}
	if ids[len(ids)-1] != 0 {
		t.Errorf("unseen '!' got id %d, want 0", ids[len(ids)-1])
	}
	s, _ := c.Decode(ids)
	if s != "hold é\uFFFD" {
		t.Errorf("round trip %q", s)
	}
	back, err := FromSpec(c.Spec())
	if err != nil {
		t.Fatal(err)
	}
	ids2, _ := back.Encode("hold é!")
	if !equalInts(ids, ids2) {
		t.Errorf("restored vocabulary encodes %v, want %v", ids2, ids)
	}
}

func TestByte(t *testing.T) {
	ids, _ := Byte{}.Encode("a\xff")
	if !equalInts(ids, []int{97, 255}) {
		t.Fatal(ids)
	}
	s, err := Byte{}.Decode(ids)
	if err != nil || s != "a\xff" {
		t.Fatal(s, err)
	}
	if _, err := (Byte{}).Decode([]int{256}); err == nil {
		t.Error("id 256 decoded")
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
