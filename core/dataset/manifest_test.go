package dataset_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plexusml/plexus/core/dataset"
)

func TestJSONLLongRowIsOneBadItem(t *testing.T) {
	in := `{"id": "a", "text": "` + strings.Repeat("x", 200<<10) + `"}` + "\n" + `{"id": "b", "text": "fine"}` + "\n"
	s := dataset.NewJSONL(strings.NewReader(in), "m.jsonl", dataset.Options{MaxRowBytes: 100 << 10})
	items := readAll(t, s)
	if len(items) != 2 || items[0].Err == nil || items[0].ID != "1" || items[1].ID != "b" || items[1].Err != nil {
		t.Fatalf("got %v", items)
	}
	if msg := items[0].Err.Error(); msg != "m.jsonl:1: row is longer than the limit of 102400 bytes" {
		t.Errorf("message %q", msg)
	}
}

func TestJSONLFieldsAndIDs(t *testing.T) {
	in := "\ufeff" + `{"id": 12345678901234567890, "text": "big id", "tags": ["a", 1, 2.5], "meta": {"n": 7}}` + "\r\n" +
		`{"id": "", "text": "empty id"}` + "\n" +
		`{"id": true, "text": "bool id"}` + "\n" +
		`{"text": 5}` + "\n" +
		`{"image": "a.png", "image_path": "b.png"}` + "\n" +
		`{"text": "x"} {"text": "y"}`
	items := readAll(t, dataset.NewJSONL(strings.NewReader(in), "m.jsonl", dataset.Options{}))
	want := []struct{ id, err string }{
		{"12345678901234567890", ""},
		{"2", `"id" is empty`},
		{"3", `"id" must be a string or a number, not a boolean`},
		{"4", `"text" must be a string, not a number`},
		{"5", "repeats a path"},
		{"6", "more than one value"},
	}
	if len(items) != len(want) {
		t.Fatalf("%d items", len(items))
	}
	for i, w := range want {
		it := items[i]
		if it.ID != w.id || (w.err == "") != (it.Err == nil) || it.Err != nil && !strings.Contains(it.Err.Error(), w.err) {
			t.Errorf("row %d: id %q err %v; want %q, %q", i+1, it.ID, it.Err, w.id, w.err)
		}
	}
	f := items[0].Fields
	if tags := f["tags"].([]any); tags[1] != int64(1) || tags[2] != 2.5 || f["meta"].(map[string]any)["n"] != int64(7) {
		t.Errorf("fields %#v", f)
	}
}

func TestCSVHeaderErrors(t *testing.T) {
	for in, want := range map[string]string{
		"":                      "empty manifest",
		"id,label\n1,x\n":       "header has none of the columns text, image, audio, tensor",
		"id,text,Text\n":        `names column "text" twice`,
		"id,,text\n":            "header column 2 has no name",
		"\"unterminated,text\n": "header",
	} {
		_, err := dataset.NewCSV(strings.NewReader(in), "m.csv", dataset.Options{})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "m.csv") {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

func TestCSVRowTooLongEndsTheSource(t *testing.T) {
	in := "id,text\na,short\nb,\"" + strings.Repeat("x", 300<<10) + "\"\nc,after\n"
	s, err := dataset.NewCSV(strings.NewReader(in), "m.csv", dataset.Options{MaxRowBytes: 100 << 10})
	if err != nil {
		t.Fatal(err)
	}
	it, err := s.Next(context.Background())
	if err != nil || it.ID != "a" {
		t.Fatal(it, err)
	}
	_, err = s.Next(context.Background())
	if err == nil || err == io.EOF || !strings.Contains(err.Error(), "m.csv:3: the row starting here is longer than the limit") {
		t.Errorf("got %v", err)
	}
}

func TestTSVAndBaseDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "img.png"), []byte("not really"), 0o644); err != nil {
		t.Fatal(err)
	}
	in := "id\timage\tnote\nx\timg.png\thas, comma\n"
	items := readAll(t, mustCSV(t, in, "elsewhere/m.tsv", dataset.Options{BaseDir: dir}))
	if len(items) != 1 || items[0].Err != nil || items[0].Fields["note"] != "has, comma" {
		t.Fatalf("got %+v", items)
	}
	// The file exists but is no image: the error comes when decoding, naming it.
	if _, _, err := items[0].Image(); err == nil || !strings.Contains(err.Error(), "elsewhere/m.tsv:2: image img.png: not a JPEG, PNG") {
		t.Errorf("got %v", err)
	}
}

func mustCSV(t *testing.T, in, name string, o dataset.Options) dataset.Source {
	t.Helper()
	s, err := dataset.NewCSV(strings.NewReader(in), name, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
