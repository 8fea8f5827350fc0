package builtins

import (
	"context"
	"strings"
	"unicode"

	"github.com/plexusml/plexus/core/engine"
)

// normalize cleans text: trims it, collapses runs of white space to one space and
// (by default) lower-cases it. Output: text. Invalid UTF-8 fails the item.
type normalize struct {
	lower, collapse bool
}

type normalizeConfig struct {
	Lower    *bool `json:"lower"`
	Collapse *bool `json:"collapse"`
}

func newNormalize(_ context.Context, s engine.Spec) (engine.Stage, error) {
	var c normalizeConfig
	if err := decodeConfig(s, &c); err != nil {
		return nil, err
	}
	n := &normalize{lower: true, collapse: true}
	if c.Lower != nil {
		n.lower = *c.Lower
	}
	if c.Collapse != nil {
		n.collapse = *c.Collapse
	}
	return n, nil
}

func (n *normalize) Process(ctx context.Context, items []engine.Item, res []engine.Result) error {
	var b strings.Builder
	for i := range items {
		s, err := items[i].Text()
		if err != nil {
			res[i].Err = err
			continue
		}
		res[i].Set("text", Normalize(&b, s, n.lower, n.collapse))
		res[i].Set("chars", len([]rune(s)))
	}
	return nil
}

// Normalize trims s, optionally collapses white space and lower-cases it; b is scratch.
func Normalize(b *strings.Builder, s string, lower, collapse bool) string {
	s = strings.TrimSpace(s)
	b.Reset()
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if collapse && unicode.IsSpace(r) {
			space = true
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		if lower {
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

var _ engine.Stage = (*normalize)(nil)
