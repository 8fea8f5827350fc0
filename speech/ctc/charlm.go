package ctc

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Reserved LM symbols: they never occur in text, so they mark the sentence start (the
// padding of the first contexts), the sentence end and a label the LM does not know.
const (
	BOS = '\x02'
	EOS = '\x03'
	UNK = '\x1a'
)

// MaxOrder is the longest n-gram a CharLM takes.
const MaxOrder = 16

// CharLM is a character n-gram language model with interpolated Kneser-Ney smoothing.
// Its vocabulary is the characters of its training text (one sentence a line, runs of
// white space as one space) plus EOS and UNK; for every context the probabilities of
// the vocabulary sum to 1, because each order gives the mass it discounts to the order
// below and the bottom order is uniform.
//
// The model is its order-N counts: TrainCharLM counts them, WriteTo saves them and
// ReadCharLM reads them back, and everything else (continuation counts, discounts) is
// derived from them the same way in both cases.
type CharLM struct {
	order int
	raw   map[string]int64 // order-N counts; keys are BOS-padded rune strings
	vocab []rune           // sorted alphabet, then EOS, then UNK
	index map[rune]int
	// Per order n (index n-1): each context's (the first n-1 runes) successors with
	// their counts (raw at order N, continuation counts below), and the discount.
	ctx      []map[string]*lmContext
	discount []float64
}

// lmContext is what follows one context at one order.
type lmContext struct {
	total int64
	succ  []lmSucc
}

type lmSucc struct {
	sym   int // index in vocab
	count int64
}

// CharLMOptions configure TrainCharLM.
type CharLMOptions struct {
	// Case folds the text: "lower", "upper", or "" to keep it.
	Case string
}

// TrainCharLM counts the order-N character n-grams of r, one sentence a line.
func TrainCharLM(r io.Reader, order int, o CharLMOptions) (*CharLM, error) {
	if order < 1 || order > MaxOrder {
		return nil, fmt.Errorf("charlm: order %d is outside 1..%d", order, MaxOrder)
	}
	if o.Case != "" && o.Case != "lower" && o.Case != "upper" {
		return nil, fmt.Errorf("charlm: case %q, want lower, upper or empty", o.Case)
	}
	fold := foldFunc(o.Case)
	raw := map[string]int64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	pad := strings.Repeat(string(BOS), order-1)
	var buf []rune
	for sc.Scan() {
		s := normaliseSentence(sc.Text(), fold)
		if s == "" {
			continue
		}
		buf = append(append(append(buf[:0], []rune(pad)...), []rune(s)...), EOS)
		for i := 0; i+order <= len(buf); i++ {
			raw[string(buf[i:i+order])]++
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("charlm: read text: %w", err)
	}
	if len(raw) == 0 {
		return nil, errors.New("charlm: the text has no sentences")
	}
	return newCharLM(order, raw), nil
}

func foldFunc(c string) func(rune) rune {
	switch c {
	case "lower":
		return unicode.ToLower
	case "upper":
		return unicode.ToUpper
	}
	return func(r rune) rune { return r }
}

// normaliseSentence folds case, drops control characters and writes each run of white
// space as one space, trimmed: text as a decoder writes it.
func normaliseSentence(s string, fold func(rune) rune) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case unicode.IsControl(r) || r == unicode.ReplacementChar:
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(fold(r))
	}
	return b.String()
}

// newCharLM derives the model from validated order-N counts.
func newCharLM(order int, raw map[string]int64) *CharLM {
	lm := &CharLM{order: order, raw: raw, index: map[rune]int{}}
	seen := map[rune]bool{}
	for k := range raw {
		for _, r := range k {
			if r != BOS && r != EOS && r != UNK {
				seen[r] = true
			}
		}
	}
	for r := range seen {
		lm.vocab = append(lm.vocab, r)
	}
	slices.Sort(lm.vocab)
	lm.vocab = append(lm.vocab, EOS, UNK)
	for i, r := range lm.vocab {
		lm.index[r] = i
	}
	lm.ctx = make([]map[string]*lmContext, order)
	lm.discount = make([]float64, order)
	counts := raw
	for n := order; n >= 1; n-- {
		ctxs := map[string]*lmContext{}
		var n1, n2 int64
		for k, v := range counts {
			r := []rune(k)
			h := string(r[:len(r)-1])
			c := ctxs[h]
			if c == nil {
				c = &lmContext{}
				ctxs[h] = c
			}
			c.total += v
			c.succ = append(c.succ, lmSucc{sym: lm.index[r[len(r)-1]], count: v})
			switch v {
			case 1:
				n1++
			case 2:
				n2++
			}
		}
		lm.ctx[n-1] = ctxs
		// Ney's estimate of the absolute discount; it stays in (0, 1], so every seen
		// n-gram keeps mass and every context passes some down.
		d := 0.5
		if n1 > 0 {
			d = float64(n1) / float64(n1+2*n2)
		}
		lm.discount[n-1] = d
		if n == 1 {
			break
		}
		// The Kneser-Ney count of a lower-order n-gram is the number of distinct
		// symbols seen before it: how many contexts it continues, not how often.
		lower := map[string]int64{}
		for k := range counts {
			_, size := utf8.DecodeRuneInString(k)
			lower[k[size:]]++
		}
		counts = lower
	}
	return lm
}

// Order is the model's n-gram order.
func (lm *CharLM) Order() int { return lm.order }

// NGrams is the number of distinct order-N n-grams the model holds.
func (lm *CharLM) NGrams() int { return len(lm.raw) }

// SentenceLogProb returns the natural log probability of a whole sentence: each
// character given the ones before it, then EOS.
func (lm *CharLM) SentenceLogProb(s string) float64 {
	ctx := []rune(lm.contextKey(""))
	var lp float64
	for _, r := range s + string(EOS) {
		i, ok := lm.index[r]
		if !ok {
			r, i = UNK, lm.index[UNK]
		}
		lp += lm.logProbs(string(ctx))[i]
		if len(ctx) > 0 {
			ctx = append(ctx[1:], r)
		}
	}
	return lp
}

// BitsPerChar is the model's cross-entropy on text (one sentence a line, normalised as
// for training): bits per predicted symbol, sentence ends included, and their count.
func (lm *CharLM) BitsPerChar(r io.Reader, o CharLMOptions) (float64, int) {
	fold := foldFunc(o.Case)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var nats float64
	var n int
	for sc.Scan() {
		s := normaliseSentence(sc.Text(), fold)
		if s == "" {
			continue
		}
		nats -= lm.SentenceLogProb(s)
		n += utf8.RuneCountInString(s) + 1
	}
	if n == 0 {
		return 0, 0
	}
	return nats / float64(n) / math.Ln2, n
}

// Vocabulary returns the symbols the model predicts: its alphabet, EOS and UNK.
func (lm *CharLM) Vocabulary() []rune { return slices.Clone(lm.vocab) }

// LogProb returns log P(next | context), where context is the text so far of the
// sentence (without BOS: the sentence start is implied) and next a vocabulary symbol,
// EOS for the end of the sentence; a symbol outside the vocabulary is scored as UNK.
func (lm *CharLM) LogProb(context string, next rune) float64 {
	i, ok := lm.index[next]
	if !ok {
		i = lm.index[UNK]
	}
	return lm.logProbs(lm.contextKey(context))[i]
}

// contextKey returns the last N-1 symbols of BOS-padded text, unknown runes as UNK.
func (lm *CharLM) contextKey(text string) string {
	r := []rune(strings.Repeat(string(BOS), lm.order-1) + text)
	r = r[len(r)-(lm.order-1):]
	for i, c := range r {
		if _, ok := lm.index[c]; !ok && c != BOS {
			r[i] = UNK
		}
	}
	return string(r)
}

// logProbs returns the log-probability of every vocabulary symbol after ctx, a key of
// exactly N-1 runes.
func (lm *CharLM) logProbs(ctx string) []float64 {
	p := lm.probs([]rune(ctx))
	for i, v := range p {
		p[i] = math.Log(v)
	}
	return p
}

// probs is interpolated Kneser-Ney, from the bottom order up:
// P_n(w|h) = max(c_n(hw)-D_n, 0)/c_n(h) + D_n·types_n(h)/c_n(h) · P_{n-1}(w|h'),
// or P_{n-1}(w|h') when the context h was never seen; P_0 is uniform.
func (lm *CharLM) probs(ctx []rune) []float64 {
	v := len(lm.vocab)
	p := make([]float64, v)
	for i := range p {
		p[i] = 1 / float64(v)
	}
	for n := 1; n <= lm.order; n++ {
		c := lm.ctx[n-1][string(ctx[len(ctx)-(n-1):])]
		if c == nil {
			continue
		}
		d := lm.discount[n-1]
		back := d * float64(len(c.succ)) / float64(c.total)
		for i := range p {
			p[i] *= back
		}
		for _, s := range c.succ {
			p[s.sym] += math.Max(float64(s.count)-d, 0) / float64(c.total)
		}
	}
	return p
}

// symbolsFor returns the LM symbols a label stands for: a separator's space, each
// rune of the label (in the other case when only that one is known), or UNK.
func (lm *CharLM) symbolsFor(label string) []rune {
	if isSpecial(label) {
		return []rune{UNK}
	}
	var out []rune
	for _, r := range label {
		switch {
		case lm.knows(r):
		case lm.knows(unicode.ToLower(r)):
			r = unicode.ToLower(r)
		case lm.knows(unicode.ToUpper(r)):
			r = unicode.ToUpper(r)
		default:
			r = UNK
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return []rune{UNK}
	}
	return out
}

func (lm *CharLM) knows(r rune) bool {
	_, ok := lm.index[r]
	return ok && r != EOS && r != UNK
}

// The text format of a CharLM (a .charlm file), UTF-8, one record a line:
//
//	plexus-charlm 1
//	order N
//	ngrams K
//	COUNT<TAB>"NGRAM"      (K lines)
//
// NGRAM is an order-N n-gram as a Go double-quoted string: \x02 (BOS) pads the start
// of a sentence (only as a prefix, at most N-1 of them), \x03 (EOS) ends it (only as
// the last symbol), other symbols are characters of the text; COUNT is how often it
// occurred, a positive integer. Lines are sorted by n-gram and each occurs once.
// Lines starting with # are comments.
const charLMMagic = "plexus-charlm 1"

// WriteTo writes the model in the text format above.
func (lm *CharLM) WriteTo(w io.Writer) (int64, error) {
	bw := bufio.NewWriter(w)
	var n int64
	put := func(s string) {
		k, _ := bw.WriteString(s)
		n += int64(k)
	}
	put(fmt.Sprintf("%s\norder %d\nngrams %d\n", charLMMagic, lm.order, len(lm.raw)))
	keys := make([]string, 0, len(lm.raw))
	for k := range lm.raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		put(strconv.FormatInt(lm.raw[k], 10) + "\t" + strconv.Quote(k) + "\n")
	}
	return n, bw.Flush()
}

// Save writes the model to path.
func (lm *CharLM) Save(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("charlm: %w", err)
	}
	if _, err := lm.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("charlm: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("charlm: write %s: %w", path, err)
	}
	return nil
}

// LoadCharLM reads a .charlm file.
func LoadCharLM(path string) (*CharLM, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("charlm: %w", err)
	}
	defer f.Close()
	lm, err := ReadCharLM(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return lm, nil
}

// maxNgrams bounds what a file may declare, so a corrupt count cannot make the reader
// reserve memory it will never fill.
const maxNgrams = 1 << 26

// ReadCharLM reads a model in the text format WriteTo writes.
func ReadCharLM(r io.Reader) (*CharLM, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 1<<20)
	line := 0
	next := func() (string, bool) {
		for sc.Scan() {
			line++
			s := strings.TrimSuffix(sc.Text(), "\r")
			if strings.HasPrefix(s, "#") {
				continue
			}
			return s, true
		}
		return "", false
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("charlm line %d: %s", line, fmt.Sprintf(format, a...))
	}
	header := func(key string) (int, error) {
		s, ok := next()
		if !ok {
			return 0, eofError(sc, line, key)
		}
		v, found := strings.CutPrefix(s, key+" ")
		if !found {
			return 0, bad("want %q, got %q", key+" N", s)
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, bad("%s: %v", key, err)
		}
		return n, nil
	}
	s, ok := next()
	if !ok {
		return nil, eofError(sc, line, "the header "+strconv.Quote(charLMMagic))
	}
	if s != charLMMagic {
		return nil, bad("not a plexus character LM (want %q, got %.40q)", charLMMagic, s)
	}
	order, err := header("order")
	if err != nil {
		return nil, err
	}
	if order < 1 || order > MaxOrder {
		return nil, bad("order %d is outside 1..%d", order, MaxOrder)
	}
	k, err := header("ngrams")
	if err != nil {
		return nil, err
	}
	if k < 1 || k > maxNgrams {
		return nil, bad("ngrams %d is outside 1..%d", k, maxNgrams)
	}
	raw := make(map[string]int64, min(k, 1<<16))
	prev := ""
	for i := 0; i < k; i++ {
		s, ok := next()
		if !ok {
			return nil, eofError(sc, line, fmt.Sprintf("n-gram %d of %d", i+1, k))
		}
		cs, qs, found := strings.Cut(s, "\t")
		if !found {
			return nil, bad("want COUNT<TAB>\"NGRAM\", got %.40q", s)
		}
		c, err := strconv.ParseInt(cs, 10, 64)
		if err != nil || c < 1 {
			return nil, bad("count %q is not a positive integer", cs)
		}
		g, err := strconv.Unquote(qs)
		if err != nil || !strings.HasPrefix(qs, `"`) {
			return nil, bad("n-gram %.40s is not a double-quoted string", qs)
		}
		if err := checkNgram(g, order); err != nil {
			return nil, bad("n-gram %q: %v", g, err)
		}
		if i > 0 && g <= prev {
			return nil, bad("n-gram %q is out of order or repeated (after %q)", g, prev)
		}
		prev = g
		raw[g] = c
	}
	if s, ok := next(); ok {
		return nil, bad("unexpected %.40q after the %d n-grams", s, k)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("charlm line %d: %w", line+1, err)
	}
	return newCharLM(order, raw), nil
}

// checkNgram checks one order-N n-gram of the file.
func checkNgram(g string, order int) error {
	r := []rune(g)
	if len(r) != order {
		return fmt.Errorf("%d symbols, the order is %d", len(r), order)
	}
	for i, c := range r {
		switch {
		case c == BOS:
			if i > 0 && r[i-1] != BOS {
				return errors.New("BOS after a symbol")
			}
			if i == order-1 {
				return errors.New("ends with BOS")
			}
		case c == EOS:
			if i != order-1 {
				return errors.New("EOS before the end")
			}
			if i > 0 && r[i-1] == ' ' {
				return errors.New("a space before the sentence end")
			}
		case c == UNK || c == '\uFFFD' || unicode.IsControl(c):
			return fmt.Errorf("symbol %q is reserved or a control character", c)
		case c == ' ' && i > 0 && (r[i-1] == BOS || r[i-1] == ' '):
			return errors.New("a space at a sentence start or after a space")
		}
	}
	return nil
}

func eofError(sc *bufio.Scanner, line int, want string) error {
	if err := sc.Err(); err != nil {
		return fmt.Errorf("charlm line %d: %w", line+1, err)
	}
	return fmt.Errorf("charlm line %d: the file ends before %s", line+1, want)
}
