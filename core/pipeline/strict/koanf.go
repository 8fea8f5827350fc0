package strict

import (
	"fmt"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/v2"
)

// Unmarshal loads the map Decode produced into koanf and decodes it into out with
// ErrorUnused and no weak typing. Decode has already checked every key and type with
// positions, so an error here means the schema and the decoder disagree: a bug, which is
// why it is returned plainly instead of as a diagnostic.
func Unmarshal(m map[string]any, out any) error {
	// The delimiter is never split on: confmap with "" keeps the nested map as it is, so
	// free-form config keys containing dots survive.
	k := koanf.New(".")
	if err := k.Load(confmap.Provider(m, ""), nil); err != nil {
		return fmt.Errorf("load decoded config: %w", err)
	}
	err := k.UnmarshalWithConf("", out, koanf.UnmarshalConf{
		Tag: "koanf",
		DecoderConfig: &mapstructure.DecoderConfig{
			DecodeHook: mapstructure.ComposeDecodeHookFunc(
				mapstructure.TextUnmarshallerHookFunc(),
				mapstructure.StringToTimeDurationHookFunc(),
			),
			ErrorUnused:      true,
			WeaklyTypedInput: false,
			TagName:          "koanf",
		},
	})
	if err != nil {
		return fmt.Errorf("decode config: %w", err)
	}
	return nil
}
