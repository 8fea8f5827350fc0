package builtins

import (
	"context"
	"fmt"
	"time"

	"github.com/plexusml/plexus/core/engine"
)

// noop passes items through: the engine's own overhead is what a pipeline of noops measures.
type noop struct{}

func newNoop(_ context.Context, s engine.Spec) (engine.Stage, error) {
	var c struct{}
	return noop{}, decodeConfig(s, &c)
}

func (noop) Process(context.Context, []engine.Item, []engine.Result) error { return nil }

// delay waits per item, to make a stage slow on purpose (resume and back-pressure
// tests); it outputs the item's id so results differ per item.
type delay struct{ per time.Duration }

func newDelay(_ context.Context, s engine.Spec) (engine.Stage, error) {
	var c struct {
		PerItem string `json:"per_item"`
	}
	c.PerItem = "1ms"
	if err := decodeConfig(s, &c); err != nil {
		return nil, err
	}
	d, err := time.ParseDuration(c.PerItem)
	if err != nil || d < 0 {
		return nil, fmt.Errorf("stage %q: debug.delay: per_item %q is not a duration like \"2ms\"", s.Stage.Name, c.PerItem)
	}
	return &delay{per: d}, nil
}

func (d *delay) Process(ctx context.Context, items []engine.Item, res []engine.Result) error {
	t := time.NewTimer(d.per * time.Duration(len(items)))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	for i := range items {
		res[i].Set("seen", items[i].Record.ID)
	}
	return nil
}

var (
	_ engine.Stage = noop{}
	_ engine.Stage = (*delay)(nil)
)
