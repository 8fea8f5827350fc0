package wavenet

import "github.com/plexusml/plexus/speech"

// FrontEnd is the log-mel configuration a model's conditioning is computed with:
// training, vocoding a recording and the evaluation all call it.
func (c Config) FrontEnd() speech.LogMelConfig {
	a := c.Audio
	return speech.LogMelConfig{
		MelSpecConfig: speech.MelSpecConfig{
			STFT: speech.STFTConfig{NFFT: a.NFFT, Hop: a.HopLength, WinLength: a.WinLength},
			Mel:  speech.MelConfig{SampleRate: a.SampleRate, NMels: a.NMels, FMin: a.FMin, FMax: a.FMax},
		},
		Offset: a.LogOffset,
	}
}

// LogMel computes the conditioning (NMels × frames) of audio at any rate, resampling
// to the model's rate first when it differs.
func (c Config) LogMel(x []float32, rate int) (*speech.Features, error) {
	if rate != c.Audio.SampleRate {
		var err error
		if x, err = speech.Resample(x, rate, c.Audio.SampleRate); err != nil {
			return nil, err
		}
	}
	return speech.LogMel(x, c.FrontEnd())
}
