package main

import (
	"context"
	"io"

	asrtrain "github.com/plexusml/plexus/speech/asr/train"
)

// The recogniser's training kind: `plexus train` kind speech.ctc (speech/asr/train).
func init() {
	registerTrainKind(asrtrain.Kind, func(ctx context.Context, file string, data []byte, log io.Writer) error {
		cfg, err := asrtrain.ParseConfig(file, data)
		if err != nil {
			return err
		}
		return asrtrain.Run(ctx, cfg, log)
	})
}
