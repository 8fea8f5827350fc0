package ctc

import (
	"fmt"
	"math"
	"strings"
)

// Decoding methods of Options.Method.
const (
	Greedy = "greedy"
	Beam   = "beam"
)

// DefaultBeamWidth is the beam width when Options.BeamWidth is 0.
const DefaultBeamWidth = 16

// Options configure a Decoder.
type Options struct {
	// Method is Greedy (the default: the most likely label of every frame) or Beam
	// (prefix beam search, summing the paths of each transcript).
	Method string
	// BeamWidth is the number of prefixes kept per frame (default DefaultBeamWidth).
	BeamWidth int
	// LM is an optional character language model, used by Beam with weight LMWeight:
	// a transcript's score is log P_acoustic + LMWeight·log P_LM + WordBonus·words.
	LM        *CharLM
	LMWeight  float64
	WordBonus float64
	// TokenMinLogProb, when negative, skips per frame the labels whose log probability
	// is below it (the blank is always kept): faster, and no longer exact.
	TokenMinLogProb float64
	// FrameSeconds is the duration of one output frame (FrameSamples / SampleRate):
	// word times are frame indices times it.
	FrameSeconds float64
}

// Token is one emitted label on the alignment: frames [Start, End) carry it.
type Token struct {
	Label      int
	Start, End int
	// LogProb is the sum of the label's log probability over its frames.
	LogProb float64
}

// Word is one word of a transcript with its time span and confidence.
type Word struct {
	Word string `json:"word"`
	// Start and End are seconds from the start of the audio: the first frame of the
	// word's first label and the end of the last frame of its last label.
	Start float64 `json:"start"`
	End   float64 `json:"end"`
	// Confidence is the geometric mean of the aligned frames' label probabilities,
	// in (0, 1].
	Confidence float64 `json:"confidence"`
	// StartFrame and EndFrame are the same span in frames (End exclusive).
	StartFrame int `json:"-"`
	EndFrame   int `json:"-"`
}

// Result is a decoded transcript.
type Result struct {
	// Text is the words joined by single spaces.
	Text  string
	Words []Word
	// Tokens is the alignment of the transcript's labels, separators included.
	Tokens []Token
	// Score is the log score the decoder ranked the transcript by: the best path's log
	// probability for Greedy; for Beam the log of the summed path probabilities plus the
	// language model and word bonus terms.
	Score float64
}

// Decoder turns emissions of one label set into transcripts. It is safe for concurrent
// use: Decode keeps its working state per call.
type Decoder struct {
	labels []string
	text   []string // what each label writes: "" for the blank and <special> labels
	isSep  []bool
	sep    int // a separator label, -1 when the label set has none
	opt    Options
	lmSyms [][]rune // per label, the LM symbols it stands for (Beam with an LM)
}

// NewDecoder returns a decoder for labels (index 0 is the blank; "|" and " " are word
// separators; labels written <like-this> are special and produce no text).
func NewDecoder(labels []string, o Options) (*Decoder, error) {
	if len(labels) < 2 {
		return nil, fmt.Errorf("ctc: %d labels, want the blank and at least one more", len(labels))
	}
	switch o.Method {
	case "":
		o.Method = Greedy
	case Greedy, Beam:
	default:
		return nil, fmt.Errorf("ctc: decoder %q, want %s or %s", o.Method, Greedy, Beam)
	}
	if o.BeamWidth == 0 {
		o.BeamWidth = DefaultBeamWidth
	}
	if o.BeamWidth < 1 {
		return nil, fmt.Errorf("ctc: beam width %d, want at least 1", o.BeamWidth)
	}
	if o.TokenMinLogProb > 0 || math.IsNaN(o.TokenMinLogProb) {
		return nil, fmt.Errorf("ctc: token_min_logprob %g, want a negative log probability (0: off)", o.TokenMinLogProb)
	}
	for name, v := range map[string]float64{"lm weight": o.LMWeight, "word bonus": o.WordBonus, "frame seconds": o.FrameSeconds} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("ctc: %s %g is not a number", name, v)
		}
	}
	if o.FrameSeconds < 0 {
		return nil, fmt.Errorf("ctc: frame seconds %g is negative", o.FrameSeconds)
	}
	d := &Decoder{labels: labels, text: make([]string, len(labels)), isSep: make([]bool, len(labels)), sep: -1, opt: o}
	for i, l := range labels {
		switch {
		case i == 0 || isSpecial(l):
		case l == "|" || l == " ":
			d.isSep[i] = true
			if d.sep < 0 {
				d.sep = i
			}
		default:
			d.text[i] = l
		}
	}
	if o.LM != nil && o.Method == Beam {
		d.lmSyms = make([][]rune, len(labels))
		for i, l := range labels {
			if i > 0 && !d.isSep[i] {
				d.lmSyms[i] = o.LM.symbolsFor(l)
			}
		}
	}
	return d, nil
}

// isSpecial reports labels such as <pad> or <unk>, which stand for no text.
func isSpecial(l string) bool {
	return len(l) > 2 && l[0] == '<' && l[len(l)-1] == '>'
}

// Labels returns the decoder's label set.
func (d *Decoder) Labels() []string { return d.labels }

// Decode decodes one utterance's emissions: frames×len(Labels()) raw scores (logits),
// row-major, as Acoustic.Emissions returns them.
func (d *Decoder) Decode(emissions []float32, frames int) (Result, error) {
	c := len(d.labels)
	if frames < 0 || len(emissions) != frames*c {
		return Result{}, fmt.Errorf("ctc: %d scores for %d frames of %d labels", len(emissions), frames, c)
	}
	lp, err := LogSoftmax(emissions, c)
	if err != nil {
		return Result{}, err
	}
	return d.DecodeLogProbs(lp, frames)
}

// DecodeLogProbs is Decode on log probabilities (frames × labels, each row a
// log-softmax), for callers that already normalised them.
func (d *Decoder) DecodeLogProbs(lp []float64, frames int) (Result, error) {
	c := len(d.labels)
	if frames < 0 || len(lp) != frames*c {
		return Result{}, fmt.Errorf("ctc: %d log probabilities for %d frames of %d labels", len(lp), frames, c)
	}
	var r Result
	if d.opt.Method == Beam {
		r = d.beam(lp, frames)
	} else {
		r = d.greedy(lp, frames)
	}
	r.Words = d.words(r.Tokens)
	words := make([]string, len(r.Words))
	for i, w := range r.Words {
		words[i] = w.Word
	}
	r.Text = strings.Join(words, " ")
	return r, nil
}

// greedy takes the most likely label of every frame, collapses repeats and drops
// blanks: the best single path.
func (d *Decoder) greedy(lp []float64, frames int) Result {
	c := len(d.labels)
	var r Result
	prev := 0
	for t := 0; t < frames; t++ {
		row := lp[t*c : (t+1)*c]
		best := 0
		for j := 1; j < c; j++ {
			if row[j] > row[best] {
				best = j
			}
		}
		r.Score += row[best]
		switch {
		case best == 0:
		case best == prev:
			tk := &r.Tokens[len(r.Tokens)-1]
			tk.End = t + 1
			tk.LogProb += row[best]
		default:
			r.Tokens = append(r.Tokens, Token{Label: best, Start: t, End: t + 1, LogProb: row[best]})
		}
		prev = best
	}
	return r
}

// words groups tokens into words at separators; labels that write nothing (special
// ones) count towards neither text nor time.
func (d *Decoder) words(tokens []Token) []Word {
	var out []Word
	var cur strings.Builder
	var w Word
	var lp float64
	var n int
	flush := func() {
		if cur.Len() > 0 {
			w.Word = cur.String()
			w.Start = float64(w.StartFrame) * d.opt.FrameSeconds
			w.End = float64(w.EndFrame) * d.opt.FrameSeconds
			w.Confidence = math.Exp(lp / float64(n))
			out = append(out, w)
		}
		cur.Reset()
		w, lp, n = Word{}, 0, 0
	}
	for _, tk := range tokens {
		if d.isSep[tk.Label] {
			flush()
			continue
		}
		s := d.text[tk.Label]
		if s == "" {
			continue
		}
		if cur.Len() == 0 {
			w.StartFrame = tk.Start
		}
		cur.WriteString(s)
		w.EndFrame = tk.End
		lp += tk.LogProb
		n += tk.End - tk.Start
	}
	flush()
	return out
}

// labelText returns the text of a label sequence as Decode writes it.
func (d *Decoder) labelText(seq []int) string {
	var words []string
	var cur strings.Builder
	for _, l := range seq {
		if d.isSep[l] {
			if cur.Len() > 0 {
				words = append(words, cur.String())
			}
			cur.Reset()
			continue
		}
		cur.WriteString(d.text[l])
	}
	if cur.Len() > 0 {
		words = append(words, cur.String())
	}
	return strings.Join(words, " ")
}
