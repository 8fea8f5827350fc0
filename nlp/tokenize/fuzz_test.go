package tokenize

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzWordPiece(f *testing.F) {
	for _, s := range []string{"Hello, World!", "unaffable", "中文cats", "Cafe\u0301", "\xff\xfe", "don't $5.", "\x00\u200b"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, text string, lower bool) {
		w := testWP(t, lower)
		toks, err := w.Tokenize(text)
		if !utf8.ValidString(text) {
			if err == nil {
				t.Fatal("invalid UTF-8 accepted")
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range toks {
			if _, ok := w.ID(tok); !ok {
				t.Fatalf("token %q is not in the vocabulary", tok)
			}
		}
		if _, err := w.Encode(text); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzParseVocab(f *testing.F) {
	f.Add(testVocab)
	f.Add("[UNK]\n\xff\n")
	f.Add("[UNK]\r\n##a\r\n")
	f.Fuzz(func(t *testing.T, vocab string) {
		w, err := ParseVocab(strings.NewReader(vocab), true)
		if err != nil {
			return
		}
		if _, err := w.Tokenize("some text, with ##pieces"); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzChar(f *testing.F) {
	f.Add("hello world", "hold")
	f.Add("h\xffi", "x")
	f.Fuzz(func(t *testing.T, train, text string) {
		c, err := NewChar(train)
		if err != nil {
			if utf8.ValidString(train) {
				t.Fatal(err)
			}
			return
		}
		ids, err := c.Encode(text)
		if err != nil {
			if utf8.ValidString(text) {
				t.Fatal(err)
			}
			return
		}
		s, err := c.Decode(ids)
		if err != nil {
			t.Fatal(err)
		}
		if utf8.RuneCountInString(s) != len(ids) {
			t.Fatalf("%d ids decode to %d characters", len(ids), utf8.RuneCountInString(s))
		}
		if strings.ContainsRune(train, utf8.RuneError) {
			return
		}
		if !strings.ContainsRune(text, utf8.RuneError) && !strings.Contains(s, "\uFFFD") && s != text {
			t.Fatalf("round trip %q -> %q", text, s)
		}
	})
}
