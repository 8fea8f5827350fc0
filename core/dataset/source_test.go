package dataset_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plexusml/plexus/core/dataset"
	"github.com/plexusml/plexus/core/dataset/datasettest"
)

func readAll(t testing.TB, s dataset.Source) []*dataset.Item {
	t.Helper()
	var items []*dataset.Item
	for {
		it, err := s.Next(context.Background())
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, it)
	}
	if n, ok := s.Len(); !ok || n < len(items) {
		t.Errorf("Len() = %d, %v after EOF with %d items", n, ok, len(items))
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
	return items
}

func checkAll(t *testing.T, items []*dataset.Item, want []datasettest.Expect) {
	t.Helper()
	if len(items) != len(want) {
		for _, it := range items {
			t.Logf("got %s (%s) err=%v", it.ID, it.Modality, it.Err)
		}
		t.Fatalf("%d items, want %d", len(items), len(want))
	}
	for i := range want {
		if err := want[i].Check(items[i]); err != nil {
			t.Errorf("item %d: %v", i, err)
		} else if want[i].Err != "" {
			// Show the messages a user would read, for review.
			t.Logf("%-28s %v", want[i].ID, errText(items[i]))
		}
		if items[i].Index != i {
			t.Errorf("item %s has Index %d, want %d", items[i].ID, items[i].Index, i)
		}
	}
}

func errText(it *dataset.Item) error {
	if it.Err != nil {
		return it.Err
	}
	for _, p := range it.Parts {
		var err error
		switch p.Modality {
		case dataset.Text:
			_, err = it.Text()
		case dataset.Image:
			_, _, err = it.Image()
		case dataset.Audio:
			_, err = it.Audio()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func generate(t *testing.T) *datasettest.Manifest {
	t.Helper()
	m, err := datasettest.Generate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMixedDatasetWalk(t *testing.T) {
	m := generate(t)
	s, err := dataset.Open(m.Root, dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkAll(t, readAll(t, s), m.Files)
}

func TestMixedDatasetJSONL(t *testing.T) {
	m := generate(t)
	s, err := dataset.Open(m.JSONL, dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkAll(t, readAll(t, s), m.JSONLRows)
}

func TestMixedDatasetCSV(t *testing.T) {
	m := generate(t)
	s, err := dataset.Open(m.CSV, dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkAll(t, readAll(t, s), m.CSVRows)
}

// TestWalkIsStable checks that two walks give the same ids in the same order, and
// that Skip passes items over without changing the others' indices.
func TestWalkIsStable(t *testing.T) {
	m := generate(t)
	open := func(o dataset.Options) []*dataset.Item {
		s, err := dataset.Open(m.Root, o)
		if err != nil {
			t.Fatal(err)
		}
		return readAll(t, s)
	}
	a, b := open(dataset.Options{}), open(dataset.Options{})
	for i := range a {
		if a[i].ID != b[i].ID || a[i].Index != b[i].Index {
			t.Fatalf("walks differ at %d: %s vs %s", i, a[i].ID, b[i].ID)
		}
	}
	skipped := open(dataset.Options{Skip: func(id string) bool { return filepath.Dir(id) == "images" }})
	for _, it := range skipped {
		if filepath.Dir(it.ID) == "images" {
			t.Errorf("skipped id %s returned", it.ID)
		}
		if want := indexOf(a, it.ID); it.Index != want {
			t.Errorf("%s: Index %d after skipping, want %d", it.ID, it.Index, want)
		}
	}
}

func indexOf(items []*dataset.Item, id string) int {
	for _, it := range items {
		if it.ID == id {
			return it.Index
		}
	}
	return -1
}

func TestWalkOptions(t *testing.T) {
	dir := t.TempDir()
	write := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.txt", "a")
	write(".hidden.txt", "h")
	write(".git/config", "x")
	write("sub/b.txt", "b")
	write("sub/deeper/c.txt", "c")
	if err := os.Symlink(filepath.Join(dir, "sub"), filepath.Join(dir, "loop")); err != nil {
		t.Skip("no symlinks here:", err)
	}
	if err := os.Symlink(filepath.Join(dir, "a.txt"), filepath.Join(dir, "z-link.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "gone"), filepath.Join(dir, "z-broken.txt")); err != nil {
		t.Fatal(err)
	}
	ids := func(o dataset.Options) []string {
		s, err := dataset.Open(dir, o)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, it := range readAll(t, s) {
			out = append(out, it.ID)
		}
		return out
	}
	eq := func(got []string, want ...string) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("ids %q, want %q", got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("ids %q, want %q", got, want)
			}
		}
	}
	eq(ids(dataset.Options{}), "a.txt", "sub/b.txt", "sub/deeper/c.txt", "z-broken.txt", "z-link.txt")
	eq(ids(dataset.Options{Flat: true}), "a.txt", "z-broken.txt", "z-link.txt")
	eq(ids(dataset.Options{Hidden: true}), ".git/config", ".hidden.txt", "a.txt", "sub/b.txt", "sub/deeper/c.txt", "z-broken.txt", "z-link.txt")
}

func TestWalkLimits(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "big.txt"), []byte("0123456789012345678901234567890123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, _ := dataset.Open(dir, dataset.Options{MaxTextBytes: 10})
	items := readAll(t, s)
	if len(items) != 1 || items[0].Err == nil {
		t.Fatalf("want one item with a limit error, got %+v", items)
	}
	if got := items[0].Err.Error(); got != filepath.Join(dir, "big.txt")+": text file is 40 bytes, over the limit of 10 (raise the text size limit to accept it)" {
		t.Errorf("message %q", got)
	}
	if _, err := dataset.Open(filepath.Join(dir, "nope"), dataset.Options{}); err == nil {
		t.Error("opening a missing path succeeded")
	}
	if _, err := dataset.Open(filepath.Join(dir, "big.txt"), dataset.Options{}); err == nil {
		t.Error("opening a .txt as a source succeeded")
	}
}

func TestLazyRead(t *testing.T) {
	// A file larger than the sniffed head is read in full only when asked, and a
	// file that changes in between is reported, not silently mixed.
	dir := t.TempDir()
	big := make([]byte, 100<<10)
	for i := range big {
		big[i] = 'a' + byte(i%26)
	}
	p := filepath.Join(dir, "big.txt")
	if err := os.WriteFile(p, big, 0o644); err != nil {
		t.Fatal(err)
	}
	s, _ := dataset.Open(dir, dataset.Options{})
	it, err := s.Next(context.Background())
	if err != nil || it.Err != nil {
		t.Fatal(err, it.Err)
	}
	txt, err := it.Text()
	if err != nil || txt != string(big) {
		t.Fatalf("text of %d bytes, err %v", len(txt), err)
	}
	it.Release()
	if err := os.WriteFile(p, big[:50<<10], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := it.Text(); err == nil {
		t.Error("reading a file that shrank succeeded")
	}
	if _, err := it.Bytes(dataset.Image); !errors.Is(err, dataset.ErrNoPart) {
		t.Errorf("asking for a missing part: %v", err)
	}
}

func TestNextHonoursContext(t *testing.T) {
	m := generate(t)
	s, _ := dataset.Open(m.Root, dataset.Options{})
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Next on a cancelled context: %v", err)
	}
}

// TestParallelWalkMatchesSerial checks that listing files on several workers gives
// exactly the serial walk's items, and that closing mid-walk stops cleanly.
func TestParallelWalkMatchesSerial(t *testing.T) {
	m := generate(t)
	open := func(workers int) dataset.Source {
		s, err := dataset.Open(m.Root, dataset.Options{Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	serial, parallel := readAll(t, open(1)), readAll(t, open(4))
	if len(serial) != len(parallel) {
		t.Fatalf("%d serial items, %d parallel", len(serial), len(parallel))
	}
	for i := range serial {
		a, b := serial[i], parallel[i]
		if a.ID != b.ID || a.Index != b.Index || a.Modality != b.Modality || (a.Err == nil) != (b.Err == nil) {
			t.Errorf("item %d: serial %s/%s/%v, parallel %s/%s/%v", i, a.ID, a.Modality, a.Err, b.ID, b.Modality, b.Err)
		}
	}
	checkAll(t, parallel, m.Files)
	s := open(3)
	if _, err := s.Next(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Next(context.Background()); err == nil {
		t.Error("Next after Close succeeded")
	}
}

func TestItemsBuiltInCode(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.txt")
	if err := os.WriteFile(p, []byte("from a file"), 0o644); err != nil {
		t.Fatal(err)
	}
	fp, err := dataset.FilePart(dataset.Text, p)
	if err != nil {
		t.Fatal(err)
	}
	it := &dataset.Item{ID: "x", Modality: dataset.Text, Parts: []dataset.Part{fp}}
	if s, err := it.Text(); err != nil || s != "from a file" {
		t.Errorf("file part: %q %v", s, err)
	}
	it = &dataset.Item{ID: "y", Modality: dataset.Text, Parts: []dataset.Part{dataset.InlinePart(dataset.Text, []byte("inline"))}}
	it.Release() // inline payloads survive Release
	if s, err := it.Text(); err != nil || s != "inline" {
		t.Errorf("inline part: %q %v", s, err)
	}
	if _, err := dataset.FilePart(dataset.Image, filepath.Dir(p)); err == nil {
		t.Error("a directory made a file part")
	}
}

func TestUnreadableDirectoryIsOneBadItem(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"a/x.txt", "b/y.txt", "c/z.txt"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), []byte("t"), 0o644)
	}
	// A directory that vanishes after its parent was listed cannot be read, even by
	// root, which a permission test would need.
	s, err := dataset.Open(dir, dataset.Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "b")); err != nil {
		t.Fatal(err)
	}
	items := readAll(t, s)
	if len(items) != 3 || items[1].ID != "b" || items[1].Err == nil || items[2].ID != "c/z.txt" {
		t.Fatalf("got %d items: %v", len(items), items)
	}
	if msg := items[1].Err.Error(); !strings.Contains(msg, "cannot read directory") || !strings.HasPrefix(msg, filepath.Join(dir, "b")) {
		t.Errorf("message %q", msg)
	}
}
