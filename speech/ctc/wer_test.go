package ctc

import (
	"math"
	"testing"
)

func TestEditDistanceAndRates(t *testing.T) {
	cases := []struct {
		ref, hyp    string
		words, n, c int
	}{
		{"one two three", "one two three", 0, 3, 0},
		{"one two three", "one too three", 1, 3, 1},
		{"one two three", "two three four", 2, 3, 9},
		{"one two", "", 2, 2, 7},
		{"", "", 0, 0, 0},
		{"  a  b ", "a b", 0, 2, 0},
		{"kitten", "sitting", 1, 1, 3},
	}
	for _, c := range cases {
		e, n := WordErrors(c.ref, c.hyp)
		ce, _ := CharErrors(c.ref, c.hyp)
		if e != c.words || n != c.n || ce != c.c {
			t.Errorf("%q → %q: %d/%d word edits, %d char edits; want %d/%d, %d", c.ref, c.hyp, e, n, ce, c.words, c.n, c.c)
		}
	}
	if w := WER([]string{"a b c d", "e f"}, []string{"a b c", "e g"}); math.Abs(w-2.0/6) > 1e-12 {
		t.Errorf("WER %g", w)
	}
	if c := CER([]string{"ab", "cd"}, []string{"ab"}); c != 0.5 {
		t.Errorf("CER with a missing hypothesis %g", c)
	}
	if w := WER([]string{""}, []string{"x"}); !math.IsInf(w, 1) {
		t.Errorf("insertions into nothing: %g", w)
	}
	if w := WER(nil, nil); w != 0 {
		t.Errorf("empty corpus: %g", w)
	}
}
