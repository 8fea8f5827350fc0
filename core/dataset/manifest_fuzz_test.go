package dataset

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// drain reads a fuzzed source to its end and checks what every source promises.
func drain(t *testing.T, s Source, name string, lines int) {
	t.Helper()
	prevLine := 0
	for i := 0; ; i++ {
		it, err := s.Next(context.Background())
		if err == io.EOF {
			break
		}
		if err != nil {
			// Only a source-level failure (a row past the limit in CSV) may end early,
			// and its message names the manifest.
			if !strings.HasPrefix(err.Error(), name) {
				t.Fatalf("source error %q does not name %s", err, name)
			}
			break
		}
		if i > lines {
			t.Fatalf("more items (%d) than lines (%d)", i, lines)
		}
		if it.ID == "" || it.Index != i || it.Line <= prevLine {
			t.Fatalf("item %d: id %q index %d line %d after line %d", i, it.ID, it.Index, it.Line, prevLine)
		}
		prevLine = it.Line
		if it.Err != nil {
			if want := name + ":" + strconv.Itoa(it.Line) + ": "; !strings.HasPrefix(it.Err.Error(), want) {
				t.Fatalf("error %q does not start with %q", it.Err, want)
			}
			continue
		}
		if len(it.Parts) == 0 || it.Modality == "" {
			t.Fatalf("good item %q without payload", it.ID)
		}
		if p := it.Part(Text); p != nil {
			if _, err := it.Text(); err != nil {
				t.Fatalf("inline text of %q: %v", it.ID, err)
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func FuzzJSONLManifest(f *testing.F) {
	for _, s := range []string{
		`{"id": "a", "text": "hi"}` + "\n" + `{"image": "x.png", "k": [1, 2.5, {"n": 3}]}`,
		`{"id": 1, "text": null, "audio": "a.wav"}` + "\r\n\r\n" + `not json`,
		"\xef\xbb\xbf{\"text\": \"bom\"}\n{\"id\": \"a\"}\n{\"id\": \"a\", \"text\": \"dup\"}",
		"[1]\n\"str\"\nnull\n{} {}\n{\"text\": \"\xff\"}",
		strings.Repeat("x", 5000) + "\n{\"text\": \"after a long line\"}",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		name := filepath.Join(dir, "m.jsonl")
		s := NewJSONL(bytes.NewReader(b), name, Options{MaxRowBytes: 4096})
		drain(t, s, name, bytes.Count(b, []byte("\n"))+1)
	})
}

func FuzzCSVManifest(f *testing.F) {
	for _, s := range []string{
		"id,text,image,extra\na,hello,,1\nb,,x.png,2\n",
		"text\n\"multi\nline\"\n\"unterminated\n",
		"\xef\xbb\xbfID,Text,Audio_Path\n1,x,\n,,a.wav\nshort\n",
		"id,label\n1,2\n",
		"id,text,text\n",
		"text,other\n\"a\"b,c\n" + strings.Repeat("y", 9000) + ",z\nok,1\n",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		name := filepath.Join(dir, "m.csv")
		s, err := NewCSV(bytes.NewReader(b), name, Options{MaxRowBytes: 4096})
		if err != nil {
			if !strings.HasPrefix(err.Error(), name) {
				t.Fatalf("open error %q does not name %s", err, name)
			}
			return
		}
		drain(t, s, name, bytes.Count(b, []byte("\n"))+1)
	})
}
