package sdk

import "context"

// Echo is a plugin whose "echo" model returns every item's fields unchanged. Hosts use
// it to test and benchmark the transport: an echoed tensor that arrived through shared
// memory goes back as the same offset, with no copy in the plugin.
type Echo struct{}

// Describe implements Plugin.
func (Echo) Describe() Description {
	return Description{
		Name:    "echo",
		Version: "1.0.0",
		Models: []ModelInfo{{
			Name:        "echo",
			Description: "returns its input fields",
			Tasks: []Task{{
				Name:        "echo",
				Description: "copy every input field to the output",
				Input:       Contract{},
				Output:      Contract{},
			}},
			Resources: Resources{Devices: []string{"cpu"}},
		}},
	}
}

// Load implements Plugin.
func (Echo) Load(context.Context, LoadRequest) (Instance, error) { return echoInstance{}, nil }

type echoInstance struct{}

func (echoInstance) Process(_ context.Context, _ string, items []Item) []Result {
	out := make([]Result, len(items))
	for i, it := range items {
		out[i] = Result{Fields: it.Fields}
	}
	return out
}

var _ Plugin = Echo{}
