package builtins

import (
	"context"
	"fmt"

	"github.com/plexusml/plexus/core/engine"
	"github.com/plexusml/plexus/core/media"
	"github.com/plexusml/plexus/speech"
)

// resample converts audio to one sample rate. Outputs: audio (*media.Audio), rate,
// channels, duration_s.
type resample struct {
	rate int
	mono bool
	lim  media.Limits
}

type resampleConfig struct {
	Rate int  `json:"rate"`
	Mono bool `json:"mono"`
}

func newResample(_ context.Context, s engine.Spec) (engine.Stage, error) {
	c := resampleConfig{Rate: 16000}
	if err := decodeConfig(s, &c); err != nil {
		return nil, err
	}
	if c.Rate < 1000 || c.Rate > 384000 {
		return nil, fmt.Errorf("stage %q: audio.resample: rate %d is outside 1000..384000 Hz", s.Stage.Name, c.Rate)
	}
	return &resample{rate: c.Rate, mono: c.Mono, lim: limits(s)}, nil
}

func (r *resample) Process(ctx context.Context, items []engine.Item, res []engine.Result) error {
	for i := range items {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		a, err := items[i].Audio(r.lim)
		if err != nil {
			res[i].Err = err
			continue
		}
		out, err := resampleAudio(a, r.rate, r.mono)
		if err != nil {
			res[i].Err = engine.Permanent(fmt.Errorf("item %s: %w", items[i].Record.ID, err))
			continue
		}
		res[i].Set("audio", out)
		res[i].Set("rate", out.Rate)
		res[i].Set("channels", out.Channels)
		res[i].Set("duration_s", out.Duration().Seconds())
	}
	return nil
}

// resampleAudio converts every channel (or the down-mix, when mono) to rate with
// speech's windowed-sinc polyphase resampler, which matches torchaudio's default.
func resampleAudio(a *media.Audio, rate int, mono bool) (*media.Audio, error) {
	out := &media.Audio{Rate: rate, Channels: a.Channels}
	if mono && a.Channels > 1 {
		out.Channels = 1
		y, err := speech.Resample(a.Mono(), a.Rate, rate)
		out.Samples = y
		return out, err
	}
	for c := 0; c < a.Channels; c++ {
		y, err := speech.Resample(a.Channel(c), a.Rate, rate)
		if err != nil {
			return nil, err
		}
		out.Samples = append(out.Samples, y...)
	}
	return out, nil
}
