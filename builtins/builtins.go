// Package builtins holds the in-process stages that need no model: image resizing,
// audio resampling, text normalisation and a few for testing and benchmarking the
// engine. The CLI registers them in an engine.Environment; the engine never imports them.
package builtins

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/plexusml/plexus/core/engine"
)

// All lists every builtin.
func All() []engine.Builtin {
	return append([]engine.Builtin{
		{Name: "image.resize", Doc: "resize an image (size or width/height; fit: fill|fit|stretch; gray)", New: newResize},
		{Name: "audio.resample", Doc: "resample audio to a rate with a windowed-sinc filter (rate, mono)", New: newResample},
		{Name: "text.normalize", Doc: "lower-case, trim and collapse whitespace in text (lower, collapse)", New: newNormalize},
		{Name: "debug.noop", Doc: "pass items through unchanged (for benchmarking the engine)", New: newNoop},
		{Name: "debug.delay", Doc: "wait a fixed time per item, then pass it on (for testing)", New: newDelay},
	}, AudioFeatures()...)
}

// Register adds every builtin to env.
func Register(env *engine.Environment) error {
	for _, b := range All() {
		if err := env.RegisterBuiltin(b); err != nil {
			return err
		}
	}
	return nil
}

// decodeConfig reads a stage's config: into dst strictly, so a misspelt key is an
// error that names the stage rather than a silently ignored setting.
func decodeConfig(s engine.Spec, dst any) error {
	if len(s.Stage.Config) == 0 {
		return nil
	}
	b, err := json.Marshal(s.Stage.Config)
	if err != nil {
		return fmt.Errorf("stage %q: config: %w", s.Stage.Name, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return fmt.Errorf("stage %q (builtin %s): config: %w", s.Stage.Name, s.Stage.Builtin, err)
	}
	return nil
}
