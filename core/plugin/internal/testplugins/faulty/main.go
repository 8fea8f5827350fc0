// Command faulty is a plugin that misbehaves on request, for the supervision tests.
// Each item's "action" field says what to do: "ok" echoes, "exit-once" exits the
// process the first time it is seen (a marker file in $FAULTY_STATE remembers),
// "hang-once" hangs the first time, "poison" exits every time, "bad" is a bad item.
package main

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/plexusml/plexus/plugins/sdk"
)

type faulty struct{}

func (faulty) Describe() sdk.Description {
	return sdk.Description{Name: "faulty", Version: "0.1.0", Models: []sdk.ModelInfo{{
		Name: "m",
		Tasks: []sdk.Task{{Name: "run", Input: sdk.Contract{Fields: []sdk.FieldSpec{
			{Name: "action", Kind: "string"},
		}}}},
		Config:   []sdk.ConfigField{{Name: "greeting", Type: "string", Default: "hi"}},
		MaxBatch: 64,
	}}}
}

func (faulty) Load(_ context.Context, req sdk.LoadRequest) (sdk.Instance, error) {
	return &inst{greeting: req.Config["greeting"].(string)}, nil
}

type inst struct{ greeting string }

func (m *inst) Process(ctx context.Context, _ string, items []sdk.Item) []sdk.Result {
	out := make([]sdk.Result, len(items))
	for i, it := range items {
		switch it.Fields["action"] {
		case "exit-once":
			if first(it.ID) {
				os.Exit(3)
			}
		case "hang-once":
			if first(it.ID) {
				<-ctx.Done()
				time.Sleep(time.Hour) // a real hang ignores cancellation
			}
		case "poison":
			sdk.Logger().Error("poisoned item", "id", it.ID)
			panic("poisoned item " + it.ID)
		case "bad":
			out[i] = sdk.Fail(sdk.BadItem("item %s cannot be processed", it.ID))
			continue
		}
		out[i] = sdk.OK(map[string]sdk.Value{"id": it.ID, "greeting": m.greeting, "pid": int64(os.Getpid()),
			"seed": int64(sdk.ItemSeed(ctx, it.ID))})
	}
	return out
}

// first reports whether this is the first time id was seen by any process.
func first(id string) bool {
	f, err := os.OpenFile(filepath.Join(os.Getenv("FAULTY_STATE"), id), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

func main() { sdk.Serve(faulty{}) }
