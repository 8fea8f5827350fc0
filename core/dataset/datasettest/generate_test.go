package datasettest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestGenerateIsDeterministic checks that two datasets are byte-identical, so the
// engine's tests can rely on exact ids and contents.
func TestGenerateIsDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	ma, err := Generate(a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(b); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, e := range ma.Files {
		if ids[e.ID] {
			t.Errorf("id %s twice", e.ID)
		}
		ids[e.ID] = true
		x, err := os.ReadFile(filepath.Join(a, "files", e.ID))
		if err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(filepath.Join(b, "files", e.ID))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between runs", e.ID)
		}
	}
	if len(ma.Files) < 25 || len(ma.JSONLRows) < 10 || len(ma.CSVRows) < 8 {
		t.Errorf("%d files, %d JSONL rows, %d CSV rows: fewer than generated", len(ma.Files), len(ma.JSONLRows), len(ma.CSVRows))
	}
}
