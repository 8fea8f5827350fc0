package builtins

import (
	"context"
	"fmt"

	"github.com/plexusml/plexus/core/engine"
	"github.com/plexusml/plexus/core/media"
	"github.com/plexusml/plexus/core/tensor"
	"github.com/plexusml/plexus/speech"
)

// AudioFeatures lists the speech feature builtins (audio.logmel, audio.mfcc), for All
// to append to its list.
func AudioFeatures() []engine.Builtin {
	return []engine.Builtin{
		{Name: "audio.logmel", Doc: "log-mel spectrogram as torchaudio's MelSpectrogram then ln(x+offset) or dB (rate, n_fft, hop_length, win_length, n_mels, f_min, f_max, mel_scale, norm, log, offset, top_db)", New: newLogMel},
		{Name: "audio.mfcc", Doc: "MFCCs as torchaudio's MFCC (rate, n_mfcc, n_fft, hop_length, win_length, n_mels, f_min, f_max, log_mels)", New: newMFCC},
	}
}

// featureConfig is the config shared by the feature builtins; zero values take
// torchaudio's defaults except the rate (16 kHz) and hop (10 ms at 16 kHz).
type featureConfig struct {
	Rate      int     `json:"rate"`
	NFFT      int     `json:"n_fft"`
	Hop       int     `json:"hop_length"`
	WinLength int     `json:"win_length"`
	NMels     int     `json:"n_mels"`
	FMin      float64 `json:"f_min"`
	FMax      float64 `json:"f_max"`
	MelScale  string  `json:"mel_scale"`
	Norm      string  `json:"norm"`
	// audio.logmel only.
	Log    string  `json:"log"`    // "ln" (default) or "db"
	Offset float64 `json:"offset"` // ln(x + offset); zero means 1e-6
	TopDB  float64 `json:"top_db"` // db only; zero means none
	// audio.mfcc only.
	NMFCC   int  `json:"n_mfcc"`
	LogMels bool `json:"log_mels"`
}

func (c *featureConfig) melSpec() speech.MelSpecConfig {
	return speech.MelSpecConfig{
		STFT: speech.STFTConfig{NFFT: c.NFFT, Hop: c.Hop, WinLength: c.WinLength},
		Mel:  speech.MelConfig{SampleRate: c.Rate, NMels: c.NMels, FMin: c.FMin, FMax: c.FMax, Scale: c.MelScale, Norm: c.Norm},
	}
}

func decodeFeatureConfig(s engine.Spec, nMels int) (featureConfig, error) {
	c := featureConfig{Rate: 16000, NFFT: 400, Hop: 160, NMels: nMels}
	if err := decodeConfig(s, &c); err != nil {
		return c, err
	}
	if c.Rate < 1000 || c.Rate > 384000 {
		return c, fmt.Errorf("stage %q: rate %d is outside 1000..384000 Hz", s.Stage.Name, c.Rate)
	}
	// Build the filterbank once now, so that a bad scale or range is a config error
	// rather than one error per item.
	if _, err := speech.MelFilterbank(c.NFFT/2+1, c.melSpec().Mel); err != nil {
		return c, fmt.Errorf("stage %q: %w", s.Stage.Name, err)
	}
	if c.NFFT < 2 || c.Hop < 1 || c.WinLength > c.NFFT || c.WinLength < 0 {
		return c, fmt.Errorf("stage %q: n_fft %d, hop_length %d, win_length %d", s.Stage.Name, c.NFFT, c.Hop, c.WinLength)
	}
	return c, nil
}

// featureStage computes one feature matrix per item, from mono audio at the
// configured rate (resampled when the input differs).
type featureStage struct {
	cfg     featureConfig
	lim     media.Limits
	name    string // the output field
	compute func(x []float32) (*speech.Features, error)
}

func newLogMel(_ context.Context, s engine.Spec) (engine.Stage, error) {
	c, err := decodeFeatureConfig(s, 80)
	if err != nil {
		return nil, err
	}
	lc := speech.LogMelConfig{MelSpecConfig: c.melSpec(), Offset: c.Offset}
	switch c.Log {
	case "", "ln":
	case "db":
		lc.DB = &speech.DBConfig{TopDB: c.TopDB}
	default:
		return nil, fmt.Errorf("stage %q: audio.logmel: log %q (ln or db)", s.Stage.Name, c.Log)
	}
	return &featureStage{cfg: c, lim: limits(s), name: "logmel",
		compute: func(x []float32) (*speech.Features, error) { return speech.LogMel(x, lc) }}, nil
}

func newMFCC(_ context.Context, s engine.Spec) (engine.Stage, error) {
	c, err := decodeFeatureConfig(s, 128)
	if err != nil {
		return nil, err
	}
	if c.NMFCC == 0 {
		c.NMFCC = 40
	}
	if c.NMFCC > c.NMels || c.NMFCC < 1 {
		return nil, fmt.Errorf("stage %q: audio.mfcc: n_mfcc %d from %d mels", s.Stage.Name, c.NMFCC, c.NMels)
	}
	mc := speech.MFCCConfig{MelSpec: c.melSpec(), NMFCC: c.NMFCC, LogMels: c.LogMels}
	return &featureStage{cfg: c, lim: limits(s), name: "mfcc",
		compute: func(x []float32) (*speech.Features, error) { return speech.MFCC(x, mc) }}, nil
}

// Process outputs, per item: NAME (a float32 tensor, rows × frames), frames and
// sample_rate.
func (f *featureStage) Process(ctx context.Context, items []engine.Item, res []engine.Result) error {
	for i := range items {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		a, err := items[i].Audio(f.lim)
		if err != nil {
			res[i].Err = err
			continue
		}
		x := a.Mono()
		if a.Rate != f.cfg.Rate {
			if x, err = speech.Resample(x, a.Rate, f.cfg.Rate); err != nil {
				res[i].Err = engine.Permanent(fmt.Errorf("item %s: %w", items[i].Record.ID, err))
				continue
			}
		}
		feats, err := f.compute(x)
		if err != nil {
			res[i].Err = engine.Permanent(fmt.Errorf("item %s: %w", items[i].Record.ID, err))
			continue
		}
		res[i].Set(f.name, tensor.FromFloat32(feats.Data, feats.Rows, feats.Frames))
		res[i].Set("frames", feats.Frames)
		res[i].Set("sample_rate", f.cfg.Rate)
	}
	return nil
}

var _ engine.Stage = (*featureStage)(nil)
