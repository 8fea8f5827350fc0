package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/plexusml/plexus/core/media"
	"github.com/plexusml/plexus/speech/wavenet"
	wntrain "github.com/plexusml/plexus/speech/wavenet/train"
)

// The speech kinds: `plexus train` kind speech.wavenet (the vocoder) and `plexus
// predict --model wavenet`.
func init() {
	registerTrainKind(wntrain.Kind, func(ctx context.Context, file string, data []byte, log io.Writer) error {
		cfg, err := wntrain.ParseConfig(file, data)
		if err != nil {
			return err
		}
		return wntrain.Run(ctx, cfg, log)
	})
	registerPredictModels(predictFamily{
		accepts: func(m string) bool { return m == "wavenet" },
		names:   []string{"wavenet"},
		open: func(_, w, c string) (predictor, error) {
			m, err := wavenet.Open(w, c)
			if err != nil {
				return nil, err
			}
			return &wavenetPredictor{m: m}, nil
		},
	})
}

// wavenetPredictor vocodes: a WAV input is resynthesised from its own log-mel frames
// (written beside it as NAME.wavenet.wav), a .npy input is log-mel frames (n_mels ×
// frames, or a batch of them). --raw prints the audio as "audio" (one input) or
// "audio.I" (input I).
type wavenetPredictor struct{ m *wavenet.Model }

func (p *wavenetPredictor) Close() error { return nil }

func (p *wavenetPredictor) Predict(ctx context.Context, in []predictInput, opt predictOptions) (*predictResult, error) {
	cfg := p.m.Config
	res := &predictResult{Raw: map[string]rawOutput{}}
	var reqs []wavenet.Request
	var idx []int
	var outPaths []string
	for _, x := range in {
		it := predictItem{Input: x.Path}
		var mels [][]float32
		var frames int
		switch {
		case x.Tensors != nil:
			for _, t := range x.Tensors {
				s := t.Shape()
				if (len(s) != 2 && len(s) != 3) || s[len(s)-2] != cfg.CinChannels {
					it.Err = fmt.Errorf("log-mel tensor of shape %v, the model takes [batch,] %d × frames", s, cfg.CinChannels)
					break
				}
				d := t.ToFloat32().Contiguous().Float32s()
				frames = s[len(s)-1]
				for b := 0; b < len(d)/(cfg.CinChannels*frames); b++ {
					mels = append(mels, d[b*cfg.CinChannels*frames:(b+1)*cfg.CinChannels*frames])
				}
			}
		default:
			a, err := media.DecodeWAV(bytes.NewReader(x.Data), opt.Limits)
			if err != nil {
				it.Err = fmt.Errorf("%s: %w", x.Path, err)
				break
			}
			f, err := cfg.LogMel(a.Mono(), a.Rate)
			if err != nil {
				it.Err = fmt.Errorf("%s: %w", x.Path, err)
				break
			}
			mels, frames = [][]float32{f.Data}, f.Frames
		}
		for b, mel := range mels {
			reqs = append(reqs, wavenet.Request{Mel: mel, Frames: frames, Seed: uint64(len(reqs) + 1)})
			idx = append(idx, len(res.Items))
			path := strings.TrimSuffix(x.Path, filepath.Ext(x.Path))
			if len(mels) > 1 {
				path = fmt.Sprintf("%s.%d", path, b)
			}
			outPaths = append(outPaths, path+".wavenet.wav")
		}
		res.Items = append(res.Items, it)
	}
	if len(reqs) == 0 {
		return res, nil
	}
	out, err := p.m.Generate(ctx, reqs, wavenet.Options{})
	if err != nil {
		return nil, err
	}
	for j, r := range out {
		key := "audio"
		if len(out) > 1 {
			key = fmt.Sprintf("audio.%d", j)
		}
		res.Raw[key] = rawOutput{Shape: []int{len(r.Audio)}, Data: r.Audio}
		it := &res.Items[idx[j]]
		var b bytes.Buffer
		if err := media.EncodeWAV(&b, r.Audio, cfg.Audio.SampleRate, 1, 16); err != nil {
			return nil, err
		}
		if err := os.WriteFile(outPaths[j], b.Bytes(), 0o644); err != nil {
			it.Err = err
			continue
		}
		if it.Text != "" {
			it.Text += "; "
		}
		it.Text += fmt.Sprintf("%d samples at %d Hz written to %s", len(r.Audio), cfg.Audio.SampleRate, outPaths[j])
	}
	return res, nil
}
