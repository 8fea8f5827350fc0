package pipeline

import (
	"errors"
	"testing"
)

type testEnv struct {
	modality string
	fields   map[string]any
}

func (e testEnv) Modality() string { return e.modality }
func (e testEnv) Field(name string) (any, bool) {
	v, ok := e.fields[name]
	return v, ok
}

func TestWhenMatch(t *testing.T) {
	img := testEnv{"image", map[string]any{"lang": "en", "score": 0.7, "n": int64(3), "csv_score": "0.25",
		"classify.label": "cat", "flag": true, "nothing": nil}}
	aud := testEnv{"audio", map[string]any{"lang": "fr", "transcribe.text": "bonjour"}}
	cases := []struct {
		expr     string
		img, aud bool
	}{
		{"", true, true},
		{"image", true, false},
		{"audio", false, true},
		{"text", false, false},
		{"image or audio", true, true},
		{"not image", false, true},
		{"not not image", true, false},
		{"has(lang)", true, true},
		{"lang", true, true},
		{"has(transcribe.text)", false, true},
		{"transcribe.text", false, true},
		{"has(nothing)", false, false}, // a nil field is absent
		{`lang == "en"`, true, false},
		{`lang != "en"`, false, true},
		{`lang == 'fr'`, false, true},
		{`missing != "x"`, false, false}, // comparisons need the field
		{`score > 0.5`, true, false},
		{`score >= 0.7 and score <= 0.7`, true, false},
		{`score < 0.5`, false, false},
		{`n == 3`, true, false},
		{`n > 2.5`, true, false},
		{`csv_score < 0.3`, true, false}, // numeric text compares as a number
		{`lang > "en"`, false, true},     // strings order bytewise
		{`lang == 1`, false, false},      // different types are unequal
		{`lang != 1`, true, true},
		{`score == "0.7"`, false, false},
		{`flag == true`, true, false},
		{`flag != false`, true, false},
		{`lang in ["en", "de"]`, true, false},
		{`lang not in ["en", "de"]`, false, true},
		{`n in [1, 2, 3]`, true, false},
		{`lang in []`, false, false},
		{`modality == "audio"`, false, true},
		{`modality in ["image", "text"]`, true, false},
		{`text == "hi"`, false, false}, // a modality word before an operator is a field
		{`(image or audio) and lang == "fr"`, false, true},
		{`image or audio and lang == "fr"`, true, true}, // and binds tighter than or
		{`not (image and lang == "en")`, false, true},
		{`classify.label == "cat" and not has(transcribe.text)`, true, false},
		{`score > -1 and score < 1e3`, true, false},
	}
	for _, c := range cases {
		e, err := ParseWhen(c.expr)
		if err != nil {
			t.Errorf("ParseWhen(%q): %v", c.expr, err)
			continue
		}
		if got := e.Match(img); got != c.img {
			t.Errorf("%q on image item = %v, want %v", c.expr, got, c.img)
		}
		if got := e.Match(aud); got != c.aud {
			t.Errorf("%q on audio item = %v, want %v", c.expr, got, c.aud)
		}
		if e != nil && e.String() != c.expr {
			t.Errorf("String() = %q, want %q", e.String(), c.expr)
		}
	}
}

func TestWhenErrors(t *testing.T) {
	cases := []struct {
		expr string
		col  int
	}{
		{`image and`, 10},
		{`lang = "en"`, 6},
		{`lang == en`, 9},
		{`(image`, 7},
		{`image)`, 6},
		{`has lang`, 5},
		{`has()`, 5},
		{`has(and)`, 5},
		{`x == "abc`, 6},
		{`x == "a\q"`, 8},
		{`x in "a"`, 6},
		{`x in ["a" "b"]`, 11},
		{`a || b`, 3},
		{`a ! b`, 3},
		{`x > true`, 3},
		{`x == 1.2.3`, 6},
		{`é`, 1},
		{`and`, 1},
		{`image audio`, 7},
	}
	for _, c := range cases {
		_, err := ParseWhen(c.expr)
		var we *WhenError
		if !errors.As(err, &we) {
			t.Errorf("ParseWhen(%q) = %v, want a *WhenError", c.expr, err)
			continue
		}
		if we.Col != c.col {
			t.Errorf("ParseWhen(%q): column %d (%s), want %d", c.expr, we.Col, we.Msg, c.col)
		}
	}
	deep := ""
	for range 500 {
		deep += "("
	}
	if _, err := ParseWhen(deep + "image"); err == nil {
		t.Error("500 nested parentheses parsed without error")
	}
}

func TestWhenFields(t *testing.T) {
	e, err := ParseWhen(`image and has(a.b) or c.d == 1 and not e in [1] and modality == "x"`)
	if err != nil {
		t.Fatal(err)
	}
	got := e.Fields()
	want := []string{"a.b", "c.d", "e"}
	if len(got) != len(want) {
		t.Fatalf("Fields() = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Fields() = %v, want %v", got, want)
		}
	}
}

func FuzzParseWhen(f *testing.F) {
	for _, s := range []string{"image", `a == "x" or not (b in [1, 2])`, "has(x.y)", `(((`, `x == 'q\'`, "-.5e3"} {
		f.Add(s)
	}
	env := testEnv{"text", map[string]any{"x": "1", "a": 2.0}}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseWhen(s)
		if err != nil {
			var we *WhenError
			if !errors.As(err, &we) || we.Col < 1 {
				t.Fatalf("ParseWhen(%q): bad error %v", s, err)
			}
			return
		}
		e.Match(env)
		_ = e.Fields()
	})
}
