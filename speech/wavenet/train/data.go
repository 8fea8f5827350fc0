package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/plexusml/plexus/core/media"
	"github.com/plexusml/plexus/speech"
	"github.com/plexusml/plexus/speech/wavenet"
)

// utterance is one corpus item ready for training: its mu-law classes and log-mel
// frames (cin × frames).
type utterance struct {
	id      string
	audio   []float32
	classes []int32
	mel     []float32
	frames  int
}

// manifestLine is a line of the corpus manifests tools/speechcorpus writes.
type manifestLine struct {
	ID   string `json:"id"`
	Path string `json:"path"`
}

// loadCorpus reads a JSONL manifest (paths relative to it) and prepares every item
// with the model's front end.
func loadCorpus(path string, cfg wavenet.Config, limit int) ([]*utterance, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("corpus: %w", err)
	}
	defer f.Close()
	var out []*utterance
	sc := bufio.NewScanner(f)
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
		if a.Rate != cfg.Audio.SampleRate {
			if x, err = speech.Resample(x, a.Rate, cfg.Audio.SampleRate); err != nil {
				return nil, err
			}
		}
		u, err := prepare(m.ID, x, cfg)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		out = append(out, u)
		if limit > 0 && len(out) == limit {
			break
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no utterances", path)
	}
	return out, nil
}

func prepare(id string, x []float32, cfg wavenet.Config) (*utterance, error) {
	feats, err := speech.LogMel(x, cfg.FrontEnd())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	u := &utterance{id: id, audio: x, mel: feats.Data, frames: feats.Frames, classes: make([]int32, len(x))}
	for i, v := range x {
		u.classes[i] = int32(speech.MuLawEncode(v, cfg.OutChannels))
	}
	return u, nil
}

// fillBatch draws B random crops of T = frames·hop samples into the net's batch
// buffers: input classes (the previous sample), targets and upsampled conditioning.
func fillBatch(nt *net, corpus []*utterance, up *wavenet.Model, rng *rand.Rand) {
	c := nt.cfg
	hop := c.Hop()
	F := nt.T / hop
	cin := c.CinChannels
	init := int32(speech.MuLawEncode(0, c.OutChannels))
	for b := 0; b < nt.B; b++ {
		var u *utterance
		for u == nil || u.frames < F+2 || len(u.classes) < (F+1)*hop {
			u = corpus[rng.IntN(len(corpus))]
		}
		f0 := 1 + rng.IntN(u.frames-F-1)
		s0 := f0 * hop
		for t := 0; t < nt.T; t++ {
			n := b*nt.T + t
			i := s0 + t
			nt.targets[n] = init
			if i < len(u.classes) {
				nt.targets[n] = u.classes[i]
			}
			nt.ids[n] = init
			if i-1 < len(u.classes) {
				nt.ids[n] = u.classes[i-1]
			}
		}
		// Upsample one frame of context on each side, so the smoothing at the crop's
		// edges sees real neighbours, then keep the crop's own samples.
		lo, hi := f0-1, min(f0+F+1, u.frames)
		nf := hi - lo
		sub := make([]float32, cin*nf)
		for ch := 0; ch < cin; ch++ {
			copy(sub[ch*nf:(ch+1)*nf], u.mel[ch*u.frames+lo:ch*u.frames+hi])
		}
		x := up.Upsample(sub, 1, nf)
		L := nf * hop
		for t := 0; t < nt.T; t++ {
			row := nt.cond[(b*nt.T+t)*cin : (b*nt.T+t+1)*cin]
			for ch := range row {
				row[ch] = x[ch*L+hop+t]
			}
		}
	}
}
