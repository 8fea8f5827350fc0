package pipeline

import (
	"strings"
	"testing"
)

// TestReferenceCoversEveryKey: every key the loader accepts has a documented row, so a
// new key cannot land undocumented.
func TestReferenceCoversEveryKey(t *testing.T) {
	keys, err := Reference()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, k := range keys {
		have[k.Key] = true
	}
	for _, k := range []string{"version", "source.path", "source.limits.pixels", "stages", "stages[].batch.max",
		"stages[].resources.instances", "stages[].errors", "sinks[].jsonl", "errors.policy", "seed"} {
		if !have[k] {
			t.Errorf("no reference row for %s", k)
		}
	}
	var b strings.Builder
	if err := WriteReference(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "| `batch.max` | integer |") {
		t.Errorf("stage table lacks batch.max:\n%s", b.String())
	}
}
