package dataset_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/plexusml/plexus/core/dataset"
)

func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "manifest.jsonl"), []byte(
		`{"id": "a", "text": "hello", "lang": "en"}`+"\n"+
			`{"id": "b", "image": "missing.png"}`+"\n"), 0o644)

	src, err := dataset.Open(filepath.Join(dir, "manifest.jsonl"), dataset.Options{})
	if err != nil {
		panic(err)
	}
	defer src.Close()
	for {
		it, err := src.Next(context.Background())
		if err == io.EOF {
			break
		}
		if err != nil {
			panic(err)
		}
		if it.Err != nil {
			// Per-item problems name the manifest and line; the walk goes on.
			fmt.Println(it.ID, "failed on line", it.Line)
			continue
		}
		text, _ := it.Text()
		fmt.Println(it.ID, it.Modality, text, it.Fields["lang"])
	}
	// Output:
	// a text hello en
	// b failed on line 2
}
