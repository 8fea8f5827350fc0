//go:build !race

package pipeline

import "testing"

// The engine matches every item against every stage's when:, so Match must not allocate.
func TestWhenMatchAllocs(t *testing.T) {
	e, err := ParseWhen(`(image or audio) and lang in ["en", "fr"] and score > 0.5 and not has(skip) and csv == 3`)
	if err != nil {
		t.Fatal(err)
	}
	env := &testEnv{"image", map[string]any{"lang": "fr", "score": 0.9, "csv": "3"}}
	if !e.Match(env) {
		t.Fatal("expression does not match the test item")
	}
	if n := testing.AllocsPerRun(100, func() { e.Match(env) }); n != 0 {
		t.Errorf("Match allocates %v times per call, want 0", n)
	}
}
