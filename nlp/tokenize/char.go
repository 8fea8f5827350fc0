package tokenize

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"unicode/utf8"
)

// Unknown is the token a character vocabulary uses, at id 0, for characters it has
// not seen; it is never produced by decoding text.
const Unknown = "<unk>"

// Char is a character-level tokenizer: one token per Unicode code point, with a
// vocabulary built from a training text and saved beside the model.
type Char struct {
	tokens []string // id → text; tokens[0] is Unknown
	index  map[rune]int
}

// NewChar builds a vocabulary from the code points of texts, sorted so that the same
// texts always give the same ids.
func NewChar(texts ...string) (*Char, error) {
	seen := map[rune]bool{}
	for i, t := range texts {
		if !utf8.ValidString(t) {
			return nil, fmt.Errorf("text %d: %w", i, invalidAt(t))
		}
		for _, r := range t {
			seen[r] = true
		}
	}
	runes := make([]rune, 0, len(seen))
	for r := range seen {
		runes = append(runes, r)
	}
	slices.Sort(runes)
	tokens := []string{Unknown}
	for _, r := range runes {
		tokens = append(tokens, string(r))
	}
	return CharFromTokens(tokens)
}

// CharFromTokens restores a vocabulary from its token list (as Tokens returns it):
// Unknown first, then one code point per token.
func CharFromTokens(tokens []string) (*Char, error) {
	if len(tokens) == 0 || tokens[0] != Unknown {
		return nil, fmt.Errorf("char vocabulary: token 0 must be %q", Unknown)
	}
	c := &Char{tokens: slices.Clone(tokens), index: make(map[rune]int, len(tokens))}
	for i, t := range tokens[1:] {
		r, n := utf8.DecodeRuneInString(t)
		if n == 0 || n != len(t) || r == utf8.RuneError {
			return nil, fmt.Errorf("char vocabulary: token %d (%q) is not one character", i+1, t)
		}
		if _, dup := c.index[r]; dup {
			return nil, fmt.Errorf("char vocabulary: token %d (%q) appears twice", i+1, t)
		}
		c.index[r] = i + 1
	}
	return c, nil
}

// Tokens returns the vocabulary, id order.
func (c *Char) Tokens() []string { return slices.Clone(c.tokens) }

// VocabSize is the number of ids, Unknown included.
func (c *Char) VocabSize() int { return len(c.tokens) }

// Encode maps each code point of text to its id (Unknown's id 0 when unseen). Invalid
// UTF-8 is an error giving its byte offset.
func (c *Char) Encode(text string) ([]int, error) {
	if !utf8.ValidString(text) {
		return nil, invalidAt(text)
	}
	ids := make([]int, 0, len(text))
	for _, r := range text {
		ids = append(ids, c.index[r])
	}
	return ids, nil
}

// Decode joins the tokens of ids; Unknown decodes to U+FFFD, so that the result is
// text. An id outside the vocabulary is an error.
func (c *Char) Decode(ids []int) (string, error) {
	var sb strings.Builder
	for i, id := range ids {
		if id < 0 || id >= len(c.tokens) {
			return "", fmt.Errorf("id %d at position %d outside the vocabulary of %d", id, i, len(c.tokens))
		}
		if id == 0 {
			sb.WriteRune(utf8.RuneError)
			continue
		}
		sb.WriteString(c.tokens[id])
	}
	return sb.String(), nil
}

// Spec is a tokenizer as a model's config.json records it.
type Spec struct {
	Type   string   `json:"type"`             // "char", "byte" or "wordpiece"
	Tokens []string `json:"tokens,omitempty"` // a char vocabulary
}

// Spec returns c as a config.json records it.
func (c *Char) Spec() Spec { return Spec{Type: "char", Tokens: c.Tokens()} }

// SaveChar writes c's vocabulary as JSON to path.
func SaveChar(path string, c *Char) error {
	data, err := json.MarshalIndent(c.Spec(), "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

func invalidAt(s string) error {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 {
			return fmt.Errorf("%w at byte %d", ErrInvalidUTF8, i)
		}
		i += n
	}
	return ErrInvalidUTF8
}
