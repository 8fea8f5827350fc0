// Package speech is plexus's audio front end: resampling (torchaudio's windowed-sinc
// polyphase filter), pre-emphasis, normalisation, mu-law companding, the STFT with its
// inverse, mel filterbanks (HTK and Slaney), log-mel, MFCC and Kaldi-compatible fbank
// features, and Griffin-Lim. Results match torchaudio (transforms.MelSpectrogram, MFCC,
// compliance.kaldi.fbank, functional.resample) within 1e-4 on the same parameters,
// checked against fixtures from tools/golden/speech.py.
//
// Feature matrices are float32 in torchaudio's layout (features × frames, row-major);
// the arithmetic inside is float64, so that a log of a small energy does not amplify
// float32 rounding.
package speech
