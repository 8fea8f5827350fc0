package ctc

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCharLMKneserNey checks probabilities worked out by hand from the definition.
func TestCharLMKneserNey(t *testing.T) {
	// Unigrams of "aab": a 2, b 1, EOS 1; D = n1/(n1+2·n2) = 2/4; 4 symbols (a b EOS
	// UNK) share the discounted mass 0.5·3/4 uniformly.
	lm, err := TrainCharLM(strings.NewReader("aab\n"), 1, CharLMOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for r, want := range map[rune]float64{'a': 1.5/4 + 0.09375, 'b': 0.5/4 + 0.09375, EOS: 0.5/4 + 0.09375, UNK: 0.09375, 'z': 0.09375} {
		if got := math.Exp(lm.LogProb("ab", r)); math.Abs(got-want) > 1e-12 {
			t.Errorf("P(%q) = %g, want %g", r, got, want)
		}
	}
	pa, pb, pe := 1.5/4+0.09375, 0.5/4+0.09375, 0.5/4+0.09375
	if got, want := lm.SentenceLogProb("aab"), math.Log(pa*pa*pb*pe); math.Abs(got-want) > 1e-12 {
		t.Errorf("log P(aab) %g, want %g", got, want)
	}
	bits, n := lm.BitsPerChar(strings.NewReader("aab\n\n a  b \n"), CharLMOptions{})
	// "a b": the space is unknown to this model.
	if want := -(math.Log2(pa*pa*pb*pe) + math.Log2(pa*0.09375*pb*pe)) / 8; n != 8 || math.Abs(bits-want) > 1e-12 {
		t.Errorf("%g bits over %d symbols, want %g over 8", bits, n, want)
	}
	// Bigrams of "ab" and "b": ^a 1, ab 1, b$ 2, ^b 1, so D2 = 3/5. Continuation
	// counts: a 1, b 2 (after ^ and a), $ 1, so D1 = 2/4 and P1 = a .21875, b .46875,
	// $ .21875, UNK .09375.
	lm, err = TrainCharLM(strings.NewReader("ab\n\n  b \n"), 2, CharLMOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		ctx  string
		next rune
		want float64
	}{
		{"", 'a', (1-0.6)/2 + 0.6*2/2*0.21875},
		{"", 'b', (1-0.6)/2 + 0.6*2/2*0.46875},
		{"a", 'b', 0.4 + 0.6*0.46875},
		{"a", EOS, 0.6 * 0.21875},
		{"b", EOS, (2-0.6)/2 + 0.6*1/2*0.21875},
		{"b", UNK, 0.6 * 1 / 2 * 0.09375},
		{"xb", 'q', 0.6 * 1 / 2 * 0.09375},
		{"x", 'a', 0.21875}, // unseen context: the order below
	}
	for _, c := range cases {
		if got := math.Exp(lm.LogProb(c.ctx, c.next)); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("P(%q | %q) = %g, want %g", c.next, c.ctx, got, c.want)
		}
	}
	if v := lm.Vocabulary(); string(v) != "ab\x03\x1a" {
		t.Errorf("vocabulary %q", string(v))
	}
}

// TestCharLMSumsToOne: for any context, seen or not, the probabilities of the
// vocabulary sum to 1.
func TestCharLMSumsToOne(t *testing.T) {
	text := "the quick brown fox\njumps over the lazy dog\nTHE END\n\tthe  start of it \n"
	rng := rand.New(rand.NewPCG(5, 6))
	for order := 1; order <= 6; order++ {
		lm, err := TrainCharLM(strings.NewReader(text), order, CharLMOptions{Case: "lower"})
		if err != nil {
			t.Fatal(err)
		}
		voc := lm.Vocabulary()
		pool := append([]rune("qxé?"), voc[:len(voc)-2]...)
		for trial := 0; trial < 200; trial++ {
			var ctx []rune
			for i := rng.IntN(9); i > 0; i-- {
				ctx = append(ctx, pool[rng.IntN(len(pool))])
			}
			var s float64
			for _, r := range voc {
				s += math.Exp(lm.LogProb(string(ctx), r))
			}
			if math.Abs(s-1) > 1e-12 {
				t.Fatalf("order %d, context %q: the vocabulary sums to %.15g", order, string(ctx), s)
			}
		}
	}
}

func TestCharLMRoundTrip(t *testing.T) {
	lm, err := TrainCharLM(strings.NewReader("Hello, world\n\"quoted\" \\ back\tslash\nnaïve café\n"), 4, CharLMOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var a bytes.Buffer
	if _, err := lm.WriteTo(&a); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "x.charlm")
	if err := os.WriteFile(path, a.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := LoadCharLM(path)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	back.WriteTo(&b)
	if a.String() != b.String() {
		t.Fatalf("round trip changed the file:\n%s\n---\n%s", a.String(), b.String())
	}
	for _, ctx := range []string{"", "Hel", "naïve c", "zzz"} {
		for _, r := range lm.Vocabulary() {
			if x, y := lm.LogProb(ctx, r), back.LogProb(ctx, r); x != y {
				t.Fatalf("P(%q|%q): %g before, %g after", r, ctx, x, y)
			}
		}
	}
	if !strings.HasPrefix(a.String(), "plexus-charlm 1\norder 4\nngrams ") || !strings.Contains(a.String(), "\t\"\\x02\\x02\\x02H\"\n") {
		t.Errorf("format:\n%s", a.String())
	}
}

func TestReadCharLMErrors(t *testing.T) {
	head := "plexus-charlm 1\norder 2\nngrams 2\n"
	cases := map[string]string{
		"":                                            "line 1: the file ends before the header",
		"arpa\n":                                      "line 1: not a plexus character LM",
		"plexus-charlm 1\norder 99\n":                 "line 2: order 99 is outside",
		"plexus-charlm 1\norder 2\nngrams x":          "line 3: ngrams",
		head + "1\t\"ab\"\n":                          "line 5: the file ends before n-gram 2 of 2",
		head + "0\t\"ab\"\n":                          "line 4: count \"0\" is not a positive integer",
		head + "1 \"ab\"\n":                           "line 4: want COUNT<TAB>\"NGRAM\"",
		head + "1\tab\n":                              "line 4: n-gram ab is not a double-quoted string",
		head + "1\t\"abc\"\n":                         "line 4: n-gram \"abc\": 3 symbols",
		head + "1\t\"a\\x02\"\n":                      "BOS after a symbol",
		head + "1\t\"\\x03a\"\n":                      "EOS before the end",
		head + "1\t\"a\\x1a\"\n":                      "reserved",
		head + "1\t\"\\x02 \"\n":                      "a space at a sentence start",
		head + "1\t\"ab\"\n1\t\"ab\"\n":               "line 5: n-gram \"ab\" is out of order or repeated",
		head + "1\t\"ab\"\n1\t\"b\\x03\"\n#\nextra\n": "line 7: unexpected \"extra\"",
	}
	for in, want := range cases {
		_, err := ReadCharLM(strings.NewReader(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
	if _, err := TrainCharLM(strings.NewReader("\n \n"), 3, CharLMOptions{}); err == nil {
		t.Error("blank text trained")
	}
	if _, err := TrainCharLM(strings.NewReader("a"), 0, CharLMOptions{}); err == nil {
		t.Error("order 0 trained")
	}
	if _, err := LoadCharLM(filepath.Join(t.TempDir(), "none.charlm")); err == nil {
		t.Error("a missing file loaded")
	}
}

// FuzzReadCharLM: the reader never panics, and whatever it accepts is a proper
// distribution for every context and writes back to a file that reads the same.
func FuzzReadCharLM(f *testing.F) {
	var b bytes.Buffer
	lm, _ := TrainCharLM(strings.NewReader("ab ba\nabc\n"), 3, CharLMOptions{})
	lm.WriteTo(&b)
	f.Add(b.String())
	f.Add("plexus-charlm 1\norder 1\nngrams 2\n3\t\"\\x03\"\n1\t\"a\"\n")
	f.Add("plexus-charlm 1\norder 2\nngrams 1\n# c\n1\t\"\\x02é\"\n")
	f.Add("plexus-charlm 1\norder 2\nngrams 9999999\n")
	f.Fuzz(func(t *testing.T, in string) {
		lm, err := ReadCharLM(strings.NewReader(in))
		if err != nil {
			return
		}
		voc := lm.Vocabulary()
		for _, ctx := range []string{"", string(voc[:1]), "zz" + string(voc)} {
			var s float64
			for _, r := range voc {
				s += math.Exp(lm.LogProb(ctx, r))
			}
			if math.Abs(s-1) > 1e-9 {
				t.Fatalf("context %q sums to %g", ctx, s)
			}
		}
		var out bytes.Buffer
		lm.WriteTo(&out)
		again, err := ReadCharLM(&out)
		if err != nil {
			t.Fatalf("re-read: %v", err)
		}
		var out2 bytes.Buffer
		again.WriteTo(&out2)
		var out1 bytes.Buffer
		lm.WriteTo(&out1)
		if out1.String() != out2.String() {
			t.Fatal("the written model does not read back the same")
		}
	})
}
