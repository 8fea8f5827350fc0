package ctc_test

import (
	"fmt"
	"strings"

	"github.com/plexusml/plexus/speech/ctc"
)

// A beam search with a character language model over emissions that are unsure
// whether the second letter is an a or a b: the LM, trained on "ab", settles it.
func Example() {
	labels := []string{"-", "|", "a", "b"}
	lm, err := ctc.TrainCharLM(strings.NewReader("ab ab\nab\n"), 3, ctc.CharLMOptions{})
	if err != nil {
		panic(err)
	}
	d, err := ctc.NewDecoder(labels, ctc.Options{Method: ctc.Beam, LM: lm, LMWeight: 1, FrameSeconds: 0.02})
	if err != nil {
		panic(err)
	}
	// Logits, one row a frame: a, a-or-b, blank, separator, a, b.
	emissions := []float32{
		0, 0, 5, 0,
		0, 0, 3, 3,
		5, 0, 0, 0,
		0, 5, 0, 0,
		0, 0, 5, 0,
		0, 0, 0, 5,
	}
	r, err := d.Decode(emissions, 6)
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Text)
	for _, w := range r.Words {
		fmt.Printf("%s %.2f-%.2f s\n", w.Word, w.Start, w.End)
	}
	// Output:
	// ab ab
	// ab 0.00-0.04 s
	// ab 0.08-0.12 s
}

func ExampleWER() {
	fmt.Printf("%.2f\n", ctc.WER([]string{"one two three four"}, []string{"one too three"}))
	// Output: 0.50
}
