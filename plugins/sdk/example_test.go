package sdk_test

import (
	"context"
	"strings"

	"github.com/plexusml/plexus/plugins/sdk"
)

// Upper is a complete plugin: one model with one task that upper-cases text.
type Upper struct{}

func (Upper) Describe() sdk.Description {
	return sdk.Description{Name: "upper", Version: "1.0.0", Models: []sdk.ModelInfo{{
		Name: "upper",
		Tasks: []sdk.Task{{
			Name:   "upper",
			Input:  sdk.Contract{Modalities: []string{"text"}, Fields: []sdk.FieldSpec{{Name: "text", Kind: "string"}}},
			Output: sdk.Contract{Fields: []sdk.FieldSpec{{Name: "text", Kind: "string"}}},
		}},
	}}}
}

func (Upper) Load(context.Context, sdk.LoadRequest) (sdk.Instance, error) { return upper{}, nil }

type upper struct{}

func (upper) Process(_ context.Context, _ string, items []sdk.Item) []sdk.Result {
	out := make([]sdk.Result, len(items))
	for i, it := range items {
		out[i] = sdk.OK(map[string]sdk.Value{"text": strings.ToUpper(it.Fields["text"].(string))})
	}
	return out
}

// A plugin's main only serves it; plexus starts the binary and talks to it.
func ExampleServe() {
	// In package main:
	//	func main() { sdk.Serve(Upper{}) }
	_ = sdk.Plugin(Upper{})
}
