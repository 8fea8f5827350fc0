package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestCLIReferenceIsCurrent fails when docs/cli.md no longer matches the commands, so
// the reference is regenerated with the change that alters them.
func TestCLIReferenceIsCurrent(t *testing.T) {
	var got bytes.Buffer
	if err := writeCLIReference(&got, rootCmd); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"## plexus run", "## plexus validate", "## plexus bench", "## plexus plugins list", "--restart"} {
		if !strings.Contains(got.String(), c) {
			t.Errorf("the reference lacks %q", c)
		}
	}
	want, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatal("docs/cli.md is stale: run `go run ./cmd/plexus docs cli > docs/cli.md`")
	}
}

// TestPipelineReferenceIsCurrent fails when the key tables in docs/pipeline.md no longer
// match the schema's struct tags.
func TestPipelineReferenceIsCurrent(t *testing.T) {
	want, err := os.ReadFile("../../docs/pipeline.md")
	if err != nil {
		t.Fatal(err)
	}
	got, err := splicePipelineReference(string(want))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "| `batch.max` | integer |") {
		t.Fatal("the generated reference lacks batch.max")
	}
	if got != string(want) {
		t.Fatal("docs/pipeline.md is stale: run `go run ./cmd/plexus docs pipeline docs/pipeline.md`")
	}
}
