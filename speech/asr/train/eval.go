package train

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/plexusml/plexus/speech/asr"
)

// Greedy is best-path CTC decoding: the best label per frame, repeats merged, blanks
// (label 0) dropped. em is frames × len(labels).
func Greedy(em []float32, labels []string) string {
	C := len(labels)
	var b strings.Builder
	prev := -1
	for t := 0; t+C <= len(em); t += C {
		row := em[t : t+C]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		if best != prev && best != 0 {
			b.WriteString(labels[best])
		}
		prev = best
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// EditDistance is the Levenshtein distance between two token sequences.
func EditDistance(a, b []string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// SetScore is the error rates of one part of the test split.
type SetScore struct {
	Utterances int     `json:"utterances"`
	Words      int     `json:"words"`
	WER        float64 `json:"wer"`
	CER        float64 `json:"cer"`
	Exact      float64 `json:"sentence_accuracy"`
}

// Report is eval.json: scores per set ("digits", "sentences") and a few examples.
type Report struct {
	Step     int                 `json:"step"`
	Sets     map[string]SetScore `json:"sets"`
	Examples []Example           `json:"examples"`
}

// Example is one decoded test utterance.
type Example struct {
	ID, Ref, Hyp string
}

// Evaluate decodes every utterance greedily with the inference model (features
// computed from the waveform by the model's own front end) and scores it.
func Evaluate(m *asr.Model, test []*utterance, batch int, examples int) (*Report, error) {
	type acc struct{ n, words, werr, chars, cerr, exact int }
	sets := map[string]*acc{}
	rep := &Report{Sets: map[string]SetScore{}}
	byLen := append([]*utterance(nil), test...)
	sort.SliceStable(byLen, func(i, j int) bool { return byLen[i].frames < byLen[j].frames })
	hyps := map[*utterance]string{}
	for i := 0; i < len(byLen); i += batch {
		part := byLen[i:min(i+batch, len(byLen))]
		feats := make([][]float32, len(part))
		frames := make([]int, len(part))
		for j, u := range part {
			feats[j], frames[j] = u.feats, u.frames
		}
		em := m.EmissionsFromFeatures(feats, frames)
		for j, u := range part {
			hyps[u] = Greedy(em[j], m.Config.Labels)
		}
	}
	for _, u := range test {
		h := hyps[u]
		a := sets[u.set]
		if a == nil {
			a = &acc{}
			sets[u.set] = a
		}
		rw, hw := strings.Fields(u.text), strings.Fields(h)
		a.n++
		a.words += len(rw)
		a.werr += EditDistance(rw, hw)
		a.chars += len(u.text)
		a.cerr += EditDistance(strings.Split(u.text, ""), strings.Split(h, ""))
		if h == u.text {
			a.exact++
		}
		if len(rep.Examples) < examples {
			rep.Examples = append(rep.Examples, Example{ID: u.id, Ref: u.text, Hyp: h})
		}
	}
	for name, a := range sets {
		rep.Sets[name] = SetScore{Utterances: a.n, Words: a.words, WER: float64(a.werr) / float64(max(a.words, 1)),
			CER: float64(a.cerr) / float64(max(a.chars, 1)), Exact: float64(a.exact) / float64(a.n)}
	}
	return rep, nil
}

func (r *Report) print(w io.Writer) {
	names := make([]string, 0, len(r.Sets))
	for n := range r.Sets {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := r.Sets[n]
		fmt.Fprintf(w, "eval step %d %s: %d utterances, WER %.2f%% CER %.2f%% exact %.1f%%\n", r.Step, n, s.Utterances, 100*s.WER, 100*s.CER, 100*s.Exact)
	}
}

// EvaluateManifest scores a model on a corpus manifest (tools/speechcorpus), with up to
// examples decoded utterances in the report (negative: all).
func EvaluateManifest(m *asr.Model, manifest string, batch, examples int) (*Report, error) {
	test, err := loadCorpus(manifest, m.Config)
	if err != nil {
		return nil, err
	}
	if examples < 0 {
		examples = len(test)
	}
	return Evaluate(m, test, batch, examples)
}
