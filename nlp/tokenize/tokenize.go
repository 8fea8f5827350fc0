// Package tokenize turns text into model ids and back: byte-level and character-level
// tokenizers for language models, and BERT's WordPiece over a vocab.txt. Invalid UTF-8
// is an error naming where it is, never a panic, since text comes from user data.
package tokenize

import (
	"errors"
	"fmt"
)

// ErrInvalidUTF8 is returned (wrapped, with the byte offset) for text that is not UTF-8.
var ErrInvalidUTF8 = errors.New("invalid UTF-8")

// Tokenizer is what a language model needs from its tokenizer.
type Tokenizer interface {
	Encode(text string) ([]int, error)
	Decode(ids []int) (string, error)
	VocabSize() int
}

// FromSpec builds the tokenizer a model's config.json describes.
func FromSpec(s Spec) (Tokenizer, error) {
	switch s.Type {
	case "char":
		return CharFromTokens(s.Tokens)
	case "byte":
		return Byte{}, nil
	default:
		return nil, fmt.Errorf("tokenizer type %q is not char or byte", s.Type)
	}
}

var (
	_ Tokenizer = (*Char)(nil)
	_ Tokenizer = Byte{}
)
