package tokenize

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// WordPiece is BERT's tokenizer: the basic tokenizer (cleaning, CJK splitting,
// optional lower-casing with accent stripping, punctuation splitting) followed by
// greedy longest-match-first WordPiece over a vocab.txt, as Hugging Face's
// BertTokenizer does it.
type WordPiece struct {
	vocab  map[string]int
	tokens []string
	// Lower lower-cases and strips accents (uncased models); cased models set it false.
	Lower bool
	// MaxWordChars longer words become [UNK] (Hugging Face's max_input_chars_per_word).
	MaxWordChars int
	// The special tokens' ids; -1 when the vocabulary lacks one.
	CLS, SEP, PAD, UNK, MASK int
}

// ReadVocab reads a vocab.txt (one token per line, the line number is the id).
func ReadVocab(path string, lower bool) (*WordPiece, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	w, err := ParseVocab(f, lower)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return w, nil
}

// ParseVocab reads a vocab.txt from r.
func ParseVocab(r io.Reader, lower bool) (*WordPiece, error) {
	w := &WordPiece{vocab: map[string]int{}, Lower: lower, MaxWordChars: 100}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		tok := string(bytes.TrimRight(sc.Bytes(), "\r"))
		if !utf8.ValidString(tok) {
			return nil, fmt.Errorf("line %d: %w", line, invalidAt(tok))
		}
		if _, dup := w.vocab[tok]; !dup {
			// Hugging Face keeps the first id of a duplicated token.
			w.vocab[tok] = len(w.tokens)
		}
		w.tokens = append(w.tokens, tok)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", line+1, err)
	}
	if len(w.tokens) == 0 {
		return nil, fmt.Errorf("empty vocabulary")
	}
	id := func(t string) int {
		if i, ok := w.vocab[t]; ok {
			return i
		}
		return -1
	}
	w.CLS, w.SEP, w.PAD, w.UNK, w.MASK = id("[CLS]"), id("[SEP]"), id("[PAD]"), id("[UNK]"), id("[MASK]")
	if w.UNK < 0 {
		return nil, fmt.Errorf("the vocabulary has no [UNK] token")
	}
	return w, nil
}

// VocabSize is the number of lines of the vocabulary.
func (w *WordPiece) VocabSize() int { return len(w.tokens) }

// ID returns a token's id.
func (w *WordPiece) ID(token string) (int, bool) {
	i, ok := w.vocab[token]
	return i, ok
}

// Tokenize splits text into WordPiece tokens (strings). Invalid UTF-8 is an error
// giving its byte offset.
func (w *WordPiece) Tokenize(text string) ([]string, error) {
	if !utf8.ValidString(text) {
		return nil, invalidAt(text)
	}
	var out []string
	for _, word := range w.basic(text) {
		out = w.wordpiece(word, out)
	}
	return out, nil
}

// Encode returns the ids of text's WordPiece tokens, without [CLS] and [SEP].
func (w *WordPiece) Encode(text string) ([]int, error) {
	toks, err := w.Tokenize(text)
	if err != nil {
		return nil, err
	}
	ids := make([]int, len(toks))
	for i, t := range toks {
		ids[i] = w.vocab[t]
	}
	return ids, nil
}

// EncodeForModel returns [CLS] text [SEP] ids, cut to maxLen (keeping [SEP] last) when
// maxLen > 0, and whether it was cut.
func (w *WordPiece) EncodeForModel(text string, maxLen int) ([]int, bool, error) {
	if w.CLS < 0 || w.SEP < 0 {
		return nil, false, fmt.Errorf("the vocabulary lacks [CLS] or [SEP]")
	}
	ids, err := w.Encode(text)
	if err != nil {
		return nil, false, err
	}
	cut := false
	if maxLen > 0 && len(ids)+2 > maxLen {
		ids, cut = ids[:max(maxLen-2, 0)], true
	}
	out := make([]int, 0, len(ids)+2)
	out = append(out, w.CLS)
	out = append(out, ids...)
	return append(out, w.SEP), cut, nil
}

// Decode joins tokens, gluing "##" continuations to the word before them.
func (w *WordPiece) Decode(ids []int) (string, error) {
	var sb strings.Builder
	for i, id := range ids {
		if id < 0 || id >= len(w.tokens) {
			return "", fmt.Errorf("id %d at position %d outside the vocabulary of %d", id, i, len(w.tokens))
		}
		t := w.tokens[id]
		if rest, ok := strings.CutPrefix(t, "##"); ok {
			sb.WriteString(rest)
			continue
		}
		if sb.Len() > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(t)
	}
	return sb.String(), nil
}

// basic is BERT's BasicTokenizer: words and punctuation marks.
func (w *WordPiece) basic(text string) []string {
	var sb strings.Builder
	// Hugging Face normalises to NFC first, so that composed and decomposed forms of a
	// character tokenize alike.
	for _, r := range norm.NFC.String(text) {
		switch {
		case r == 0 || r == utf8.RuneError || isControl(r):
			continue
		case isWhitespace(r):
			sb.WriteByte(' ')
		case isCJK(r):
			sb.WriteByte(' ')
			sb.WriteRune(r)
			sb.WriteByte(' ')
		default:
			sb.WriteRune(r)
		}
	}
	var words []string
	for _, tok := range strings.Fields(sb.String()) {
		if w.Lower {
			tok = stripAccents(strings.ToLower(tok))
		}
		start := 0
		for i, r := range tok {
			if isPunct(r) {
				if start < i {
					words = append(words, tok[start:i])
				}
				words = append(words, string(r))
				start = i + utf8.RuneLen(r)
			}
		}
		if start < len(tok) {
			words = append(words, tok[start:])
		}
	}
	return words
}

// wordpiece appends word's pieces to out: greedy longest match first, continuations
// prefixed "##"; a word with any unmatched part is [UNK] as a whole.
func (w *WordPiece) wordpiece(word string, out []string) []string {
	unk := w.tokens[w.UNK]
	if utf8.RuneCountInString(word) > w.MaxWordChars {
		return append(out, unk)
	}
	n := len(out)
	for start := 0; start < len(word); {
		end := len(word)
		found := ""
		for end > start {
			sub := word[start:end]
			if start > 0 {
				sub = "##" + sub
			}
			if _, ok := w.vocab[sub]; ok {
				found = sub
				break
			}
			_, size := utf8.DecodeLastRuneInString(word[start:end])
			end -= size
		}
		if found == "" {
			return append(out[:n], unk)
		}
		out = append(out, found)
		start = end
	}
	return out
}

func isWhitespace(r rune) bool {
	if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
		return true
	}
	return unicode.Is(unicode.Zs, r)
}

func isControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	return unicode.In(r, unicode.C) // Cc, Cf, Co, Cs: Python's category "C*"

}

// isPunct is BERT's punctuation: all non-alphanumeric ASCII (so "$" and "^" count) and
// Unicode's P categories.
func isPunct(r rune) bool {
	if r >= 33 && r <= 47 || r >= 58 && r <= 64 || r >= 91 && r <= 96 || r >= 123 && r <= 126 {
		return true
	}
	return unicode.IsPunct(r)
}

// isCJK is BERT's "Chinese character" test: the CJK Unified Ideographs blocks (not
// Hangul, Hiragana or Katakana, which are split like other scripts).
func isCJK(r rune) bool {
	return r >= 0x4E00 && r <= 0x9FFF || r >= 0x3400 && r <= 0x4DBF || r >= 0x20000 && r <= 0x2A6DF ||
		r >= 0x2A700 && r <= 0x2B73F || r >= 0x2B740 && r <= 0x2B81F || r >= 0x2B820 && r <= 0x2CEAF ||
		r >= 0xF900 && r <= 0xFAFF || r >= 0x2F800 && r <= 0x2FA1F
}

// stripAccents removes combining marks after canonical decomposition (NFD), as
// BERT's _run_strip_accents does.
func stripAccents(s string) string {
	d := norm.NFD.String(s)
	var sb strings.Builder
	for _, r := range d {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		sb.WriteRune(r)
	}
	return sb.String()
}
