// Command plexus-plugin-speech serves plexus's speech models as a model plugin: the
// WaveNet vocoder (vocode log-mel frames or a recording into audio, generate audio
// unconditionally or for a speaker) and the CTC recognisers asr-ctc and wav2vec2
// (transcribe audio into text with word timestamps). It is a thin main over
// speech/wavenet, speech/asr, speech/wav2vec2 and speech/ctc, dispatched by a model table.
package main

import "github.com/plexusml/plexus/plugins/sdk"

func main() { sdk.Serve(Speech{}) }
