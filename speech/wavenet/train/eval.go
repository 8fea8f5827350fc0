package train

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/plexusml/plexus/core/media"
	"github.com/plexusml/plexus/speech"
	"github.com/plexusml/plexus/speech/wavenet"
)

// Report is the held-out evaluation: per utterance and on average, the L1 distance
// between the log-mel features of the resynthesised audio and the original's, for the
// WaveNet and for Griffin-Lim from the same features.
type Report struct {
	Utterances     []UttReport `json:"utterances"`
	WaveNetL1      float64     `json:"wavenet_logmel_l1"`
	GriffinLimL1   float64     `json:"griffin_lim_logmel_l1"`
	GenerateSecs   float64     `json:"wavenet_seconds"`
	SamplesPerSec  float64     `json:"wavenet_samples_per_second"`
	Temperature    float32     `json:"temperature"`
	GriffinLimIter int         `json:"griffin_lim_iters"`
}

// UttReport is one utterance's figures.
type UttReport struct {
	ID           string  `json:"id"`
	Seconds      float64 `json:"seconds"`
	WaveNetL1    float64 `json:"wavenet_logmel_l1"`
	GriffinLimL1 float64 `json:"griffin_lim_logmel_l1"`
}

// Evaluate vocodes the first held-out utterances from their own log-mel features and
// measures how far each result's features are from the originals; Griffin-Lim (an
// inverse mel filterbank then phase retrieval) from the same features is the baseline.
// With ec.Samples set it writes ID.orig.wav, ID.wavenet.wav and ID.griffinlim.wav there
// for the first three.
func Evaluate(ctx context.Context, m *wavenet.Model, manifest string, ec EvalConfig, log io.Writer) (*Report, error) {
	c := m.Config
	utts, err := loadCorpus(manifest, c, ec.Utterances)
	if err != nil {
		return nil, err
	}
	rate := c.Audio.SampleRate
	fe := c.FrontEnd()
	rep := &Report{Temperature: ec.Temperature, GriffinLimIter: ec.GriffinLim}
	var reqs []wavenet.Request
	var origs [][]float32
	var mels []*speech.Features
	for i, u := range utts {
		x := u.audio
		if n := int(ec.Seconds * float64(rate)); ec.Seconds > 0 && len(x) > n {
			x = x[:n]
		}
		f, err := speech.LogMel(x, fe)
		if err != nil {
			return nil, err
		}
		origs, mels = append(origs, x), append(mels, f)
		reqs = append(reqs, wavenet.Request{Mel: f.Data, Frames: f.Frames, Length: len(x), Seed: uint64(i + 1)})
	}
	t0 := time.Now()
	res, err := m.Generate(ctx, reqs, wavenet.Options{Temperature: ec.Temperature})
	if err != nil {
		return nil, err
	}
	rep.GenerateSecs = time.Since(t0).Seconds()
	var total int
	for i, u := range utts {
		x, ref := origs[i], mels[i]
		total += len(x)
		wn := res[i].Audio
		gl, err := griffinLim(ref, c, len(x), ec.GriffinLim)
		if err != nil {
			return nil, err
		}
		r := UttReport{ID: u.id, Seconds: float64(len(x)) / float64(rate)}
		if r.WaveNetL1, err = logMelL1(wn, ref, fe); err != nil {
			return nil, err
		}
		if r.GriffinLimL1, err = logMelL1(gl, ref, fe); err != nil {
			return nil, err
		}
		rep.Utterances = append(rep.Utterances, r)
		rep.WaveNetL1 += r.WaveNetL1 / float64(len(utts))
		rep.GriffinLimL1 += r.GriffinLimL1 / float64(len(utts))
		fmt.Fprintf(log, "eval %s (%.2f s): log-mel L1 wavenet %.3f, griffin-lim %.3f\n", u.id, r.Seconds, r.WaveNetL1, r.GriffinLimL1)
		if ec.Samples != "" && i < 3 {
			for _, w := range []struct {
				tag string
				x   []float32
			}{{"orig", x}, {"wavenet", wn}, {"griffinlim", gl}} {
				if err := writeWAV(filepath.Join(ec.Samples, fmt.Sprintf("%s.%s.wav", u.id, w.tag)), w.x, rate); err != nil {
					return nil, err
				}
			}
		}
	}
	rep.SamplesPerSec = float64(total) / rep.GenerateSecs
	fmt.Fprintf(log, "eval mean log-mel L1 over %d held-out utterances: wavenet %.3f, griffin-lim %.3f; generation %.0f samples/s\n",
		len(utts), rep.WaveNetL1, rep.GriffinLimL1, rep.SamplesPerSec)
	return rep, nil
}

// logMelL1 is the mean absolute difference between x's log-mel features and ref.
func logMelL1(x []float32, ref *speech.Features, fe speech.LogMelConfig) (float64, error) {
	f, err := speech.LogMel(x, fe)
	if err != nil {
		return 0, err
	}
	if f.Frames != ref.Frames || f.Rows != ref.Rows {
		return 0, fmt.Errorf("log-mel %d×%d against %d×%d", f.Rows, f.Frames, ref.Rows, ref.Frames)
	}
	var s float64
	for i, v := range f.Data {
		s += math.Abs(float64(v - ref.Data[i]))
	}
	return s / float64(len(f.Data)), nil
}

// griffinLim resynthesises audio from log-mel features alone: undo the log, invert
// the filterbank, take the square root of the power and retrieve the phase.
func griffinLim(f *speech.Features, c wavenet.Config, n, iters int) ([]float32, error) {
	fe := c.FrontEnd()
	mel := make([]float64, len(f.Data))
	off := fe.Offset
	if off == 0 {
		off = 1e-6
	}
	for i, v := range f.Data {
		mel[i] = math.Max(0, math.Exp(float64(v))-off)
	}
	bins := fe.STFT.NFFT/2 + 1
	power, err := speech.InverseMel(mel, f.Frames, bins, fe.Mel, 50)
	if err != nil {
		return nil, err
	}
	for i, v := range power {
		power[i] = math.Sqrt(v)
	}
	return speech.GriffinLim(power, f.Frames, fe.STFT, iters, n, 1)
}

func writeWAV(path string, x []float32, rate int) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	var b bytes.Buffer
	if err := media.EncodeWAV(&b, x, rate, 1, 16); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}
