package ctc

import "context"

// Acoustic is a CTC acoustic model: waveforms in, per-frame label scores out.
type Acoustic interface {
	// Labels are the output classes; index 0 is the CTC blank. The word separator is
	// "|" (wav2vec2) or " " (the compact model); decoders accept either.
	Labels() []string
	// SampleRate is the rate the model expects its input at (16000 for both here).
	SampleRate() int
	// FrameSamples is the number of input samples per output frame (hop of the model's
	// output): 320 for wav2vec2, hop*subsampling (160*4=640) for the compact model.
	FrameSamples() int
	// Emissions runs one batch of mono waveforms (each at SampleRate, any lengths) and
	// returns, for each, frames×len(Labels()) raw scores, row-major (logits; decoders
	// apply log-softmax themselves). Frames = the model's own output length for that
	// waveform's length (no padding frames).
	Emissions(ctx context.Context, wavs [][]float32) ([][]float32, error)
}
