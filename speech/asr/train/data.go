package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/plexusml/plexus/core/media"
	"github.com/plexusml/plexus/speech"
	"github.com/plexusml/plexus/speech/asr"
)

// utterance is one corpus item ready for training: normalised log-mel features
// (frames × NMels) and the transcript as label ids.
type utterance struct {
	id     string
	set    string // "digits" or "sentences"
	text   string // normalised transcript
	labels []int
	feats  []float32
	frames int
}

// manifestLine is a line of the manifests tools/speechcorpus writes.
type manifestLine struct {
	ID   string `json:"id"`
	Path string `json:"path"`
	Text string `json:"text"`
	Set  string `json:"set"`
}

// Normalize lowercases text, keeps the characters the labels spell (the separator
// " " between words) and drops the rest: punctuation is not transcribed.
func Normalize(text string, labels []string) string {
	ok := map[rune]bool{}
	for _, l := range labels[1:] {
		if r := []rune(l); len(r) == 1 {
			ok[r[0]] = true
		}
	}
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case r == ' ' || r == '\t' || r == '-':
			b.WriteRune(' ')
		case ok[r]:
			b.WriteRune(r)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// encode maps a normalised transcript to label ids.
func encode(text string, labels []string) []int {
	idx := map[string]int{}
	for i, l := range labels {
		idx[l] = i
	}
	var out []int
	for _, r := range text {
		if i, ok := idx[string(r)]; ok && i != 0 {
			out = append(out, i)
		}
	}
	return out
}

// loadCorpus reads a JSONL manifest (paths relative to it) and prepares every item
// with the model's front end.
func loadCorpus(path string, cfg asr.Config) ([]*utterance, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("corpus: %w", err)
	}
	defer f.Close()
	var out []*utterance
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var m manifestLine
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		b, err := os.ReadFile(filepath.Join(filepath.Dir(path), m.Path))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		a, err := media.DecodeWAV(bytes.NewReader(b), media.DefaultLimits())
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %s: %w", path, line, m.Path, err)
		}
		x := a.Mono()
		if a.Rate != cfg.SampleRate {
			if x, err = speech.Resample(x, a.Rate, cfg.SampleRate); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, line, err)
			}
		}
		feats, frames, err := cfg.Features(x)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		text := Normalize(m.Text, cfg.Labels)
		u := &utterance{id: m.ID, set: m.Set, text: text, labels: encode(text, cfg.Labels), feats: feats, frames: frames}
		if u.set == "" {
			u.set = "sentences"
		}
		out = append(out, u)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no utterances", path)
	}
	return out, nil
}

// bucket is one batch shape: utterances of at most cap frames, batch items each.
type bucket struct {
	cap, batch int
	items      []*utterance
	cum        []float64 // cumulative sampling weights
	net        *net
}

// sampler draws batches: an utterance by weight (digit strings and sentences in the
// configured proportion), then the rest of the batch from its length bucket.
type sampler struct {
	buckets []*bucket
	cum     []float64 // cumulative total weight per bucket
}

func newSampler(corpus []*utterance, caps []int, batchFrames int, digitFrac float64) (*sampler, int, error) {
	sort.Ints(caps)
	var nd, ns int
	for _, u := range corpus {
		if u.set == "digits" {
			nd++
		} else {
			ns++
		}
	}
	// Per-utterance weights that give digit strings digitFrac of the draws.
	wd, ws := 1.0, 1.0
	if nd > 0 && ns > 0 {
		wd, ws = digitFrac/float64(nd), (1-digitFrac)/float64(ns)
	}
	s := &sampler{}
	for _, c := range caps {
		s.buckets = append(s.buckets, &bucket{cap: c, batch: max(1, batchFrames/c)})
	}
	dropped := 0
	for _, u := range corpus {
		i := sort.Search(len(caps), func(i int) bool { return caps[i] >= u.frames })
		if i == len(caps) || len(u.labels) == 0 {
			dropped++
			continue
		}
		b := s.buckets[i]
		w := ws
		if u.set == "digits" {
			w = wd
		}
		prev := 0.0
		if len(b.cum) > 0 {
			prev = b.cum[len(b.cum)-1]
		}
		b.items = append(b.items, u)
		b.cum = append(b.cum, prev+w)
	}
	var keep []*bucket
	total := 0.0
	for _, b := range s.buckets {
		if len(b.items) == 0 {
			continue
		}
		keep = append(keep, b)
		total += b.cum[len(b.cum)-1]
		s.cum = append(s.cum, total)
	}
	s.buckets = keep
	if len(keep) == 0 {
		return nil, dropped, fmt.Errorf("no utterance fits the largest bucket (%d frames)", caps[len(caps)-1])
	}
	return s, dropped, nil
}

func draw(cum []float64, rng *rand.Rand) int {
	x := rng.Float64() * cum[len(cum)-1]
	return min(sort.SearchFloat64s(cum, x), len(cum)-1)
}

// next picks a bucket and its batch.
func (s *sampler) next(rng *rand.Rand) (*bucket, []*utterance) {
	b := s.buckets[draw(s.cum, rng)]
	us := make([]*utterance, b.batch)
	for i := range us {
		us[i] = b.items[draw(b.cum, rng)]
	}
	return b, us
}

// SpecAugment are the masks applied to each training utterance's features (Park et
// al. 2019, without time warping): FreqMasks bands of up to FreqWidth mel bins and
// TimeMasks spans of up to min(TimeWidth, TimeRatio·frames) frames, set to zero (the
// normalised mean). Before them, Warp stretches the mel axis by a factor drawn from
// [1−Warp, 1+Warp] (vocal tract length perturbation, Jaitly and Hinton 2013): formants
// move as between speakers, which unseen voices need.
type SpecAugment struct {
	Warp      float64 `json:"warp" yaml:"warp"`
	FreqMasks int     `json:"freq_masks" yaml:"freq_masks"`
	FreqWidth int     `json:"freq_width" yaml:"freq_width"`
	TimeMasks int     `json:"time_masks" yaml:"time_masks"`
	TimeWidth int     `json:"time_width" yaml:"time_width"`
	TimeRatio float64 `json:"time_ratio" yaml:"time_ratio"`
}

// augment returns a masked copy of the features in buf.
func (a SpecAugment) augment(buf, feats []float32, frames, mels int, rng *rand.Rand) []float32 {
	x := append(buf[:0], feats...)
	if a.Warp > 0 {
		alpha := 1 + (2*rng.Float64()-1)*a.Warp
		row := make([]float32, mels)
		for t := 0; t < frames; t++ {
			src := feats[t*mels : (t+1)*mels]
			for m := range row {
				p := min(float64(m)*alpha, float64(mels-1))
				i := int(p)
				f := float32(p - float64(i))
				if i+1 < mels {
					row[m] = src[i]*(1-f) + src[i+1]*f
				} else {
					row[m] = src[i]
				}
			}
			copy(x[t*mels:], row)
		}
	}
	for i := 0; i < a.FreqMasks && a.FreqWidth > 0; i++ {
		w := rng.IntN(a.FreqWidth + 1)
		f0 := rng.IntN(max(1, mels-w+1))
		for t := 0; t < frames; t++ {
			clear(x[t*mels+f0 : t*mels+min(mels, f0+w)])
		}
	}
	tw := min(a.TimeWidth, int(a.TimeRatio*float64(frames)))
	for i := 0; i < a.TimeMasks && tw > 0; i++ {
		w := rng.IntN(tw + 1)
		t0 := rng.IntN(max(1, frames-w+1))
		clear(x[t0*mels : min(frames, t0+w)*mels])
	}
	return x
}

// fill writes a batch into the net's buffers: the first convolution's columns (from
// augmented features when aug is not nil), the frame masks, lengths and targets.
func (nt *net) fill(us []*utterance, aug *SpecAugment, rng *rand.Rand, scratch *[]float32) {
	cfg := nt.ps.cfg
	M := cfg.NMels
	clear(nt.cols1)
	for b, u := range us {
		feats := u.feats
		if aug != nil {
			*scratch = aug.augment(*scratch, u.feats, u.frames, M, rng)
			feats = *scratch
		}
		l1 := asr.ConvLen(u.frames, 2)
		for t := 0; t < nt.T1; t++ {
			nt.keep1[b*nt.T1+t] = t < l1
			dst := nt.cols1[(b*nt.T1+t)*3*M : (b*nt.T1+t+1)*3*M]
			for k := 0; k < 3; k++ {
				f := 2*t + k - 1
				if f < 0 || f >= u.frames {
					continue
				}
				copy(dst[k*M:(k+1)*M], feats[f*M:(f+1)*M])
			}
		}
		nt.lens[b] = cfg.OutFrames(u.frames)
		nt.ctc.targets[b] = u.labels
	}
}
