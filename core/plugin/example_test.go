package plugin_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/plexusml/plexus/core/plugin"
)

// The engine's view of a plugin: find it, load a model, send batches.
func ExampleHost() {
	h := plugin.NewHost(plugin.HostOptions{Dirs: []string{"bin"}, CallTimeout: 30 * time.Second})
	defer h.Close() // kills every plugin process

	ctx := context.Background()
	inst, err := h.Instance(ctx, "textstats", "textstats", map[string]any{"min_length": 3}, "cpu")
	if err != nil {
		fmt.Println(err) // plugin missing, unknown model, or config rejected by its schema
		return
	}
	for _, r := range inst.Process(ctx, "count", []plugin.Item{{ID: "a", Modality: "text",
		Fields: map[string]plugin.Value{"text": "a big old café"}}}) {
		switch {
		case errors.Is(r.Err, plugin.ErrBadItem), errors.Is(r.Err, plugin.ErrPoison):
			// dead-letter the item
		case r.Err != nil:
			// retry later
		default:
			fmt.Println(r.Fields["words"])
		}
	}
}
