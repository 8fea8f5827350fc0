package tokenize

import "fmt"

// Byte is the byte-level tokenizer: ids are the 256 byte values, so any text (even
// binary) encodes, and no vocabulary file is needed.
type Byte struct{}

// VocabSize is 256.
func (Byte) VocabSize() int { return 256 }

// Encode returns text's bytes as ids.
func (Byte) Encode(text string) ([]int, error) {
	ids := make([]int, len(text))
	for i := 0; i < len(text); i++ {
		ids[i] = int(text[i])
	}
	return ids, nil
}

// Decode returns the bytes of ids as a string; it may be invalid UTF-8 when a sampler
// stopped inside a multi-byte character.
func (Byte) Decode(ids []int) (string, error) {
	b := make([]byte, len(ids))
	for i, id := range ids {
		if id < 0 || id > 255 {
			return "", fmt.Errorf("id %d at position %d is not a byte", id, i)
		}
		b[i] = byte(id)
	}
	return string(b), nil
}

// Spec returns the byte tokenizer as a config.json records it.
func (Byte) Spec() Spec { return Spec{Type: "byte"} }
