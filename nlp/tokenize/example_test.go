package tokenize_test

import (
	"fmt"
	"strings"

	"github.com/plexusml/plexus/nlp/tokenize"
)

func ExampleWordPiece() {
	vocab := "[PAD]\n[UNK]\n[CLS]\n[SEP]\nun\n##aff\n##able\n,\nhello\n"
	w, err := tokenize.ParseVocab(strings.NewReader(vocab), true)
	if err != nil {
		panic(err)
	}
	toks, _ := w.Tokenize("Héllo, UNAFFABLE world")
	ids, _, _ := w.EncodeForModel("hello", 0)
	fmt.Println(toks, ids)
	// Output: [hello , un ##aff ##able [UNK]] [2 8 3]
}

func ExampleChar() {
	c, _ := tokenize.NewChar("a cat sat")
	ids, _ := c.Encode("tac!")
	s, _ := c.Decode(ids)
	fmt.Println(c.VocabSize(), ids, s)
	// Output: 6 [5 2 3 0] tac�
}
