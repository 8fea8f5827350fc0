// Command plexus-plugin-speech serves plexus's speech models as a model plugin: the
// WaveNet vocoder (vocode log-mel frames or a recording into audio, generate audio
// unconditionally or for a speaker). It is a thin main over speech/wavenet; its model
// table takes further models (the recogniser) without touching the dispatch.
package main

import "github.com/plexusml/plexus/plugins/sdk"

func main() { sdk.Serve(Speech{}) }
