package train

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
)

// Separator ends every text in the training stream: the fortune files' own "%" line,
// so a model learns where a fortune ends and generation can stop there.
const Separator = "%\n"

// corpus is the text split into training and held-out streams.
type corpus struct {
	train, heldOut string
	nTrain, nHeld  int // texts
}

// readFortunes reads fortune files: texts separated by lines holding only "%". Text
// number i (from 1, over all files in order) is held out when i%every == 0.
func readFortunes(files []string, every int) (*corpus, error) {
	var tr, ho strings.Builder
	c := &corpus{}
	i := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if !utf8.Valid(data) {
			// Files that are not UTF-8 are Latin-1 in the fortunes package.
			r := make([]rune, len(data))
			for j, b := range data {
				r[j] = rune(b)
			}
			data = []byte(string(r))
		}
		text := strings.ReplaceAll(string(data), "\r\n", "\n")
		for _, t := range strings.Split(text, "\n%\n") {
			t = strings.TrimPrefix(t, "%\n")
			t = strings.TrimRight(t, "\n%")
			if strings.TrimSpace(t) == "" {
				continue
			}
			i++
			if i%every == 0 {
				ho.WriteString(t + "\n" + Separator)
				c.nHeld++
			} else {
				tr.WriteString(t + "\n" + Separator)
				c.nTrain++
			}
		}
	}
	c.train, c.heldOut = tr.String(), ho.String()
	if c.nTrain == 0 || c.nHeld == 0 {
		return nil, fmt.Errorf("%d training and %d held-out texts in %d files: need both", c.nTrain, c.nHeld, len(files))
	}
	return c, nil
}

// dataFiles lists the config's files: Files, or the extension-less regular files of
// Dir (the fortunes package's text files, not its .dat indexes or .u8 copies).
func dataFiles(d DataConfig) ([]string, error) {
	if len(d.Files) > 0 {
		return d.Files, nil
	}
	ents, err := os.ReadDir(d.Dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range ents {
		if !e.Type().IsRegular() || filepath.Ext(e.Name()) != "" {
			continue
		}
		files = append(files, filepath.Join(d.Dir, e.Name()))
	}
	slices.Sort(files)
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no text files (names without an extension)", d.Dir)
	}
	return files, nil
}

// streams lays ids out as batch contiguous streams of equal length, starting at
// offset, as truncated BPTT reads them: window w of stream b is
// ids[start(b)+w·bptt : …+bptt+1] (inputs and the next-token targets).
type streams struct {
	ids          []int
	batch, bptt  int
	length       int // tokens per stream
	offset       int
	windowsPerEp int
}

func newStreams(ids []int, batch, bptt, offset int) *streams {
	n := len(ids) - offset
	length := n / batch
	return &streams{ids: ids, batch: batch, bptt: bptt, length: length, offset: offset,
		windowsPerEp: (length - 1) / bptt}
}

// fill writes window w's inputs and targets time-major (t·batch+b).
func (s *streams) fill(w int, ids, targets []int) {
	for b := 0; b < s.batch; b++ {
		base := s.offset + b*s.length + w*s.bptt
		for t := 0; t < s.bptt; t++ {
			ids[t*s.batch+b] = s.ids[base+t]
			targets[t*s.batch+b] = s.ids[base+t+1]
		}
	}
}
