package ctc

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

var abLabels = []string{"-", "|", "a", "b"}

// oneHot builds logits that make each frame's label near certain; frames names one
// label a character, or is a list of labels.
func oneHot[S string | []string](labels []string, frames S) []float32 {
	var fr []string
	switch x := any(frames).(type) {
	case string:
		fr = strings.Split(x, "")
	case []string:
		fr = x
	}
	out := make([]float32, 0, len(fr)*len(labels))
	for _, r := range fr {
		row := make([]float32, len(labels))
		i := slices.Index(labels, r)
		if i < 0 {
			panic("no label " + r)
		}
		row[i] = 10
		out = append(out, row...)
	}
	return out
}

func TestGreedyKnownPath(t *testing.T) {
	d, err := NewDecoder(abLabels, Options{FrameSeconds: 0.02})
	if err != nil {
		t.Fatal(err)
	}
	// Repeats collapse, a blank separates a doubled letter, a leading separator and a
	// run of separators write one space between words.
	r, err := d.Decode(oneHot(abLabels, "||aa-ab||-|b-"), 13)
	if err != nil {
		t.Fatal(err)
	}
	if r.Text != "aab b" {
		t.Fatalf("text %q, want %q", r.Text, "aab b")
	}
	want := []Word{{Word: "aab", StartFrame: 2, EndFrame: 7, Start: 0.04, End: 0.14}, {Word: "b", StartFrame: 11, EndFrame: 12, Start: 0.22, End: 0.24}}
	if len(r.Words) != 2 {
		t.Fatalf("words %+v", r.Words)
	}
	for i, w := range want {
		g := r.Words[i]
		if g.Word != w.Word || g.StartFrame != w.StartFrame || g.EndFrame != w.EndFrame || math.Abs(g.Start-w.Start) > 1e-12 || math.Abs(g.End-w.End) > 1e-12 {
			t.Errorf("word %d: %+v, want %+v", i, g, w)
		}
		// Each frame's label has probability e^10/(e^10+3).
		if c := math.Exp(10) / (math.Exp(10) + 3); math.Abs(g.Confidence-c) > 1e-9 {
			t.Errorf("word %d confidence %g, want %g", i, g.Confidence, c)
		}
	}
	tk := []Token{{1, 0, 2, 0}, {2, 2, 4, 0}, {2, 5, 6, 0}, {3, 6, 7, 0}, {1, 7, 9, 0}, {1, 10, 11, 0}, {3, 11, 12, 0}}
	if len(r.Tokens) != len(tk) {
		t.Fatalf("tokens %+v", r.Tokens)
	}
	for i := range tk {
		g := r.Tokens[i]
		if g.Label != tk[i].Label || g.Start != tk[i].Start || g.End != tk[i].End {
			t.Errorf("token %d: %+v, want %+v", i, g, tk[i])
		}
	}
	// Nothing but blanks, and no frames at all, are empty transcripts.
	for _, f := range []string{"---", ""} {
		r, err := d.Decode(oneHot(abLabels, f), len(f))
		if err != nil || r.Text != "" || len(r.Words) != 0 {
			t.Errorf("%q: %+v, %v", f, r, err)
		}
	}
}

func TestSpaceSeparatorAndSpecialLabels(t *testing.T) {
	labels := []string{"<pad>", " ", "a", "<unk>", "b"}
	for _, m := range []string{Greedy, Beam} {
		d, err := NewDecoder(labels, Options{Method: m})
		if err != nil {
			t.Fatal(err)
		}
		em := oneHot(labels, []string{"a", "<unk>", "b", " ", " ", "a", "<pad>", "a", "a"})
		r, err := d.Decode(em, 9)
		if err != nil || r.Text != "ab aa" {
			t.Errorf("%s: %q, %v; want %q", m, r.Text, err, "ab aa")
		}
	}
}

// TestBeamSumsPaths is the case greedy decoding gets wrong: every frame's best label
// is the blank (0.6), but the three paths of "a" (aa, a-, -a) sum to 0.64 > 0.36.
func TestBeamSumsPaths(t *testing.T) {
	labels := []string{"-", "a"}
	l6, l4 := float32(math.Log(0.6)), float32(math.Log(0.4))
	em := []float32{l6, l4, l6, l4}
	g, _ := NewDecoder(labels, Options{})
	b, _ := NewDecoder(labels, Options{Method: Beam, BeamWidth: 2})
	rg, _ := g.Decode(em, 2)
	rb, _ := b.Decode(em, 2)
	if rg.Text != "" || math.Abs(rg.Score-math.Log(0.36)) > 1e-6 {
		t.Errorf("greedy %q %g", rg.Text, rg.Score)
	}
	if rb.Text != "a" || math.Abs(rb.Score-math.Log(0.64)) > 1e-6 {
		t.Errorf("beam %q %g, want a %g", rb.Text, rb.Score, math.Log(0.64))
	}
	// The best single path of "a" is a- or -a (0.24 each; a- comes first).
	if len(rb.Tokens) != 1 || rb.Tokens[0].Start != 0 || rb.Tokens[0].End != 1 {
		t.Errorf("alignment %+v", rb.Tokens)
	}
}

// bruteForce scores every transcript of tiny emissions by enumerating all paths: the
// summed probability of its paths, plus the LM and word bonus terms. It returns the
// best transcript's normal-form labels, score and best single path.
func bruteForce(d *Decoder, lp []float64, frames int) (best []int, score float64, path []int) {
	c := len(d.labels)
	type entry struct {
		seq      []int
		sum, vit float64
		path     []int
	}
	all := map[string]*entry{}
	p := make([]int, frames)
	var rec func(t int, acc float64)
	rec = func(t int, acc float64) {
		if t == frames {
			seq := normalForm(d, p)
			k := strings.Join(strings.Fields(strings.Repeat(" ", 0)+labelKey(seq)), "")
			e := all[k]
			if e == nil {
				e = &entry{seq: seq, sum: math.Inf(-1), vit: math.Inf(-1)}
				all[k] = e
			}
			e.sum = logAdd(e.sum, acc)
			if acc > e.vit {
				e.vit, e.path = acc, slices.Clone(p)
			}
			return
		}
		for j := 0; j < c; j++ {
			p[t] = j
			rec(t+1, acc+lp[t*c+j])
		}
	}
	rec(0, 0)
	score = math.Inf(-1)
	for _, e := range all {
		s := e.sum + d.opt.WordBonus*float64(len(strings.Fields(d.labelText(e.seq))))
		if d.opt.LM != nil {
			s += d.opt.LMWeight * sentenceLogProb(d.opt.LM, d.labelText(e.seq))
		}
		if s > score {
			best, score, path = e.seq, s, e.path
		}
	}
	return best, score, path
}

// normalForm collapses a path to its labels (repeats merged, blanks dropped) and drops
// the separators that write nothing: leading, repeated and trailing ones.
func normalForm(d *Decoder, path []int) []int {
	var seq []int
	prev := 0
	for _, l := range path {
		if l != 0 && l != prev {
			seq = append(seq, l)
		}
		prev = l
	}
	var out []int
	for _, l := range seq {
		if d.isSep[l] && (len(out) == 0 || d.isSep[out[len(out)-1]]) {
			continue
		}
		out = append(out, l)
	}
	for len(out) > 0 && d.isSep[out[len(out)-1]] {
		out = out[:len(out)-1]
	}
	return out
}

func labelKey(seq []int) string {
	var b strings.Builder
	for _, l := range seq {
		b.WriteByte(byte('0' + l))
	}
	return b.String()
}

func sentenceLogProb(lm *CharLM, text string) float64 {
	var s float64
	r := []rune(text)
	for i := range r {
		s += lm.LogProb(string(r[:i]), r[i])
	}
	return s + lm.LogProb(text, EOS)
}

// pathTokens returns the label runs of a path.
func pathTokens(path []int) []Token {
	var out []Token
	prev := 0
	for t, l := range path {
		switch {
		case l == 0:
		case l == prev:
			out[len(out)-1].End = t + 1
		default:
			out = append(out, Token{Label: l, Start: t, End: t + 1})
		}
		prev = l
	}
	return out
}

func randomLogProbs(rng *rand.Rand, frames, c int, spread float64) []float64 {
	em := make([]float32, frames*c)
	for i := range em {
		em[i] = float32(rng.NormFloat64() * spread)
	}
	lp, err := LogSoftmax(em, c)
	if err != nil {
		panic(err)
	}
	return lp
}

// TestBeamEqualsBruteForce: with a beam wide enough to keep every prefix, the beam
// search finds the transcript with the best total score (paths summed, LM, word
// bonus), its score, and as alignment the best single path of that transcript.
func TestBeamEqualsBruteForce(t *testing.T) {
	lm, err := TrainCharLM(strings.NewReader("ab ba\nabba b\naab\nb a b\n"), 3, CharLMOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, o := range []Options{
		{Method: Beam, BeamWidth: 4096},
		{Method: Beam, BeamWidth: 4096, WordBonus: 0.8},
		{Method: Beam, BeamWidth: 4096, LM: lm, LMWeight: 0.7, WordBonus: -0.3},
		{Method: Beam, BeamWidth: 4096, LM: lm, LMWeight: 2},
	} {
		d, err := NewDecoder(abLabels, o)
		if err != nil {
			t.Fatal(err)
		}
		for trial := 0; trial < 40; trial++ {
			frames := 1 + trial%6
			lp := randomLogProbs(rng, frames, len(abLabels), 1.5)
			seq, score, path := bruteForce(d, lp, frames)
			r, err := d.DecodeLogProbs(lp, frames)
			if err != nil {
				t.Fatal(err)
			}
			if want := d.labelText(seq); r.Text != want || math.Abs(r.Score-score) > 1e-9 {
				t.Fatalf("%+v trial %d: beam %q %.12g, brute force %q %.12g", o, trial, r.Text, r.Score, want, score)
			}
			want := pathTokens(path)
			if len(r.Tokens) != len(want) {
				t.Fatalf("trial %d: alignment %+v, best path %v", trial, r.Tokens, path)
			}
			for i := range want {
				g := r.Tokens[i]
				if g.Label != want[i].Label || g.Start != want[i].Start || g.End != want[i].End {
					t.Fatalf("trial %d: alignment %+v, best path %v", trial, r.Tokens, path)
				}
				var s float64
				for f := g.Start; f < g.End; f++ {
					s += lp[f*len(abLabels)+g.Label]
				}
				if math.Abs(s-g.LogProb) > 1e-9 {
					t.Fatalf("trial %d: token %d log prob %g, frames sum to %g", trial, i, g.LogProb, s)
				}
			}
		}
	}
}

// TestNarrowBeam: a narrow beam may miss the best transcript but never scores one
// above what it is worth, and width 1 without an LM still finds a transcript at least
// as likely as greedy's best path.
func TestNarrowBeam(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	wide, _ := NewDecoder(abLabels, Options{Method: Beam, BeamWidth: 4096})
	for _, w := range []int{1, 2, 3} {
		d, _ := NewDecoder(abLabels, Options{Method: Beam, BeamWidth: w})
		g, _ := NewDecoder(abLabels, Options{})
		for trial := 0; trial < 30; trial++ {
			lp := randomLogProbs(rng, 6, len(abLabels), 2)
			r, _ := d.DecodeLogProbs(lp, 6)
			best, _ := wide.DecodeLogProbs(lp, 6)
			gr, _ := g.DecodeLogProbs(lp, 6)
			if r.Score > best.Score+1e-9 {
				t.Fatalf("width %d: %q %g over the best %q %g", w, r.Text, r.Score, best.Text, best.Score)
			}
			if r.Score < gr.Score-1e-9 {
				t.Fatalf("width %d: %q %g under greedy's path %q %g", w, r.Text, r.Score, gr.Text, gr.Score)
			}
		}
	}
}

// TestBeamLMChoosesSpelling: two spellings the acoustics cannot tell apart; the LM,
// trained on one of them, picks it, and a word bonus trades words for letters.
func TestBeamLMChoosesSpelling(t *testing.T) {
	lm, err := TrainCharLM(strings.NewReader(strings.Repeat("ab ab\n", 20)), 4, CharLMOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := len(abLabels)
	// Frames: a, then a or b at 50/50, then a separator, a, b.
	frames := []map[int]float64{{2: 1}, {2: 0.5, 3: 0.5}, {1: 1}, {2: 1}, {3: 1}}
	em := make([]float32, 0, len(frames)*c)
	for _, f := range frames {
		for j := 0; j < c; j++ {
			p := f[j]*0.97 + 0.01
			em = append(em, float32(math.Log(p)))
		}
	}
	plain, _ := NewDecoder(abLabels, Options{Method: Beam})
	withLM, _ := NewDecoder(abLabels, Options{Method: Beam, LM: lm, LMWeight: 1})
	rp, _ := plain.Decode(em, len(frames))
	rl, _ := withLM.Decode(em, len(frames))
	if rl.Text != "ab ab" {
		t.Errorf("with the LM: %q, want %q", rl.Text, "ab ab")
	}
	if rp.Text != "a ab" && rp.Text != "ab ab" && rp.Text != "aa ab" {
		t.Errorf("without: %q", rp.Text)
	}
	if len(rl.Words) != 2 || rl.Words[0].StartFrame != 0 || rl.Words[0].EndFrame != 2 || rl.Words[1].StartFrame != 3 || rl.Words[1].EndFrame != 5 {
		t.Errorf("words %+v", rl.Words)
	}
}

func TestDecoderErrors(t *testing.T) {
	for _, o := range []Options{{Method: "viterbi"}, {BeamWidth: -1}, {TokenMinLogProb: 1}, {LMWeight: math.NaN()}, {FrameSeconds: -1}} {
		if _, err := NewDecoder(abLabels, o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	if _, err := NewDecoder([]string{"-"}, Options{}); err == nil {
		t.Error("one label accepted")
	}
	d, _ := NewDecoder(abLabels, Options{})
	if _, err := d.Decode(make([]float32, 7), 2); err == nil {
		t.Error("7 scores for 2 frames of 4 labels accepted")
	}
	if _, err := d.Decode([]float32{0, float32(math.NaN()), 0, 0}, 1); err == nil {
		t.Error("a NaN score accepted")
	}
	if _, err := d.Decode([]float32{float32(math.Inf(-1)), float32(math.Inf(-1)), float32(math.Inf(-1)), float32(math.Inf(-1))}, 1); err == nil {
		t.Error("a frame of -Inf accepted")
	}
}

func TestLogSoftmax(t *testing.T) {
	lp, err := LogSoftmax([]float32{1, 2, 3, 1000, 0, -1000}, 3)
	if err != nil {
		t.Fatal(err)
	}
	for f := 0; f < 2; f++ {
		var s float64
		for _, v := range lp[f*3 : f*3+3] {
			s += math.Exp(v)
		}
		if math.Abs(s-1) > 1e-12 {
			t.Errorf("frame %d sums to %g", f, s)
		}
	}
	if lp[3] != 0 || lp[4] != -1000 {
		t.Errorf("extreme frame %v", lp[3:])
	}
	if _, err := LogSoftmax(make([]float32, 5), 3); err == nil {
		t.Error("5 scores as frames × 3 accepted")
	}
}

func TestSelectTop(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for trial := 0; trial < 500; trial++ {
		n := 1 + rng.IntN(60)
		keys := make([]rankKey, n)
		for i := range keys {
			keys[i] = rankKey{score: float64(rng.IntN(8)), id: int32(i)}
		}
		want := slices.Clone(keys)
		slices.SortFunc(want, rankKey.cmp)
		k := rng.IntN(n + 1)
		selectTop(keys, k)
		got := slices.Clone(keys[:k])
		slices.SortFunc(got, rankKey.cmp)
		if !slices.Equal(got, want[:k]) {
			t.Fatalf("n %d k %d: %v, want %v", n, k, got, want[:k])
		}
	}
}
