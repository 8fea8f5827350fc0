package train

import (
	"math"
	"os"
	"strings"
	"testing"

	"github.com/plexusml/plexus/nlp/lstm"
)

// TestShippedModel scores a spread sixth of the held-out fortunes with
// models/fortunes-lstm in four streams: it must stay near the 2.18 bits per
// character that training measured over all of them (in 64 streams).
func TestShippedModel(t *testing.T) {
	const dir = "/usr/share/games/fortunes"
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("%s: %v (Debian's fortunes package holds the data)", dir, err)
	}
	m, err := lstm.Load("../../../models/fortunes-lstm.safetensors", "")
	if err != nil {
		t.Fatal(err)
	}
	files, err := dataFiles(DataConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	c, err := readFortunes(files, 10)
	if err != nil {
		t.Fatal(err)
	}
	// Every 6th held-out fortune, so that every file (plain prose, verse, ASCII art)
	// is represented: about a sixth of the held-out characters.
	var sample strings.Builder
	sample.WriteString(Separator)
	every := 6
	if raceEnabled {
		every = 48
	}
	for i, f := range strings.SplitAfter(c.heldOut, "\n"+Separator) {
		if i%every == 0 {
			sample.WriteString(f)
		}
	}
	ids, err := m.Tokenizer.Encode(sample.String())
	if err != nil {
		t.Fatal(err)
	}
	loss, n, err := m.StreamLoss(ids, 4, 512)
	if err != nil {
		t.Fatal(err)
	}
	bpc := loss / float64(n) / math.Ln2
	t.Logf("%.4f bits per character over %d held-out characters", bpc, n)
	if bpc > 2.3 {
		t.Errorf("held-out %.4f bits per character, want at most 2.3", bpc)
	}
}
