package dataset

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func openLedger(t *testing.T, path, hash string, restart bool) *Ledger {
	t.Helper()
	l, err := OpenLedger(path, LedgerOptions{Hash: hash, Restart: restart})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLedgerCommitAndReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out", LedgerName)
	l := openLedger(t, path, "h1", false)
	if err := l.Commit([]string{"a", "b"}, map[string]int64{"jsonl:x": 100}); err != nil {
		t.Fatal(err)
	}
	if err := l.Commit([]string{"c"}, map[string]int64{"jsonl:x": 150, "dead-letter:y": 7}); err != nil {
		t.Fatal(err)
	}
	l.Close()

	l = openLedger(t, path, "h1", false)
	defer l.Close()
	for _, id := range []string{"a", "b", "c"} {
		if !l.Done(id) {
			t.Errorf("%s not done after reopening", id)
		}
	}
	if l.Done("d") || l.Len() != 3 || l.Commits() != 2 {
		t.Fatalf("len %d commits %d", l.Len(), l.Commits())
	}
	if l.Offset("jsonl:x") != 150 || l.Offset("dead-letter:y") != 7 {
		t.Fatalf("offsets %d %d", l.Offset("jsonl:x"), l.Offset("dead-letter:y"))
	}
}

// TestLedgerTornTail cuts the file at every byte of its last frame, as a crash during
// the write would, and checks that reopening keeps exactly the earlier commits and
// that the next commit lands after them.
func TestLedgerTornTail(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, LedgerName)
	l := openLedger(t, path, "h", false)
	l.Commit([]string{"a"}, map[string]int64{"s": 10})
	st, _ := os.Stat(path)
	good := st.Size()
	l.Commit([]string{"b", "c"}, map[string]int64{"s": 30})
	l.Close()
	full, _ := os.ReadFile(path)
	for cut := good; cut < int64(len(full)); cut++ {
		if err := os.WriteFile(path, full[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		l := openLedger(t, path, "h", false)
		if !l.Done("a") || l.Done("b") || l.Offset("s") != 10 {
			t.Fatalf("cut at %d: done a=%v b=%v offset %d", cut, l.Done("a"), l.Done("b"), l.Offset("s"))
		}
		if err := l.Commit([]string{"d"}, map[string]int64{"s": 20}); err != nil {
			t.Fatal(err)
		}
		l.Close()
		l = openLedger(t, path, "h", false)
		if !l.Done("d") || l.Offset("s") != 20 || l.Len() != 2 {
			t.Fatalf("cut at %d: the commit after the torn frame was lost", cut)
		}
		l.Close()
	}
	// A flipped bit in the last frame is a torn frame too.
	bad := bytes.Clone(full)
	bad[len(bad)-1] ^= 1
	os.WriteFile(path, bad, 0o644)
	l = openLedger(t, path, "h", false)
	if l.Done("b") || !l.Done("a") {
		t.Fatal("a corrupt last frame was believed")
	}
	l.Close()
}

func TestLedgerChangedHash(t *testing.T) {
	path := filepath.Join(t.TempDir(), LedgerName)
	l := openLedger(t, path, "old", false)
	l.Commit([]string{"a"}, map[string]int64{"s": 5})
	l.Close()
	_, err := OpenLedger(path, LedgerOptions{Hash: "new"})
	var ce *ChangedError
	if !errors.Is(err, ErrPipelineChanged) || !errors.As(err, &ce) || ce.Old != "old" || ce.New != "new" {
		t.Fatalf("err = %v, want a ChangedError old→new", err)
	}
	l = openLedger(t, path, "new", true)
	if l.Len() != 0 || l.Offset("s") != 0 {
		t.Fatal("restart kept the old commits")
	}
	l.Close()
	l = openLedger(t, path, "new", false) // the restarted ledger is now the new pipeline's
	l.Close()
}

func TestLedgerRefusesForeignFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), LedgerName)
	// A valid frame whose payload is not a header: another program's file.
	os.WriteFile(path, frame(append([]byte{kindCommit}, 0, 0)), 0o644)
	if _, err := OpenLedger(path, LedgerOptions{Hash: "h"}); err == nil {
		t.Fatal("opened a ledger without a header")
	}
}

func TestLedgerLockedAgainstSecondRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), LedgerName)
	l := openLedger(t, path, "h", false)
	defer l.Close()
	if _, err := OpenLedger(path, LedgerOptions{Hash: "h"}); err == nil && runtime.GOOS != "windows" {
		t.Fatal("a second run opened a ledger that is in use")
	}
}

func frame(payload []byte) []byte {
	var b bytes.Buffer
	hdr := make([]byte, frameHeaderLen)
	putFrameHeader(hdr, payload)
	b.Write(hdr)
	b.Write(payload)
	return b.Bytes()
}

// FuzzLedgerReplay feeds arbitrary bytes to the reader: it must never panic, and
// whatever it accepts it must accept again after rewriting (the valid prefix is stable).
func FuzzLedgerReplay(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, "seed")
	l, _ := OpenLedger(path, LedgerOptions{Hash: "h"})
	l.Commit([]string{"a", "b"}, map[string]int64{"jsonl:x": 9})
	l.Close()
	seed, _ := os.ReadFile(path)
	f.Add(seed)
	f.Add(seed[:len(seed)-3])
	f.Add([]byte{})
	f.Add(frame([]byte{kindHeader}))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), LedgerName)
		os.WriteFile(p, data, 0o644)
		l, err := OpenLedger(p, LedgerOptions{Hash: "h"})
		if err != nil {
			return
		}
		n := l.Len()
		l.Close()
		l, err = OpenLedger(p, LedgerOptions{Hash: "h"})
		if err != nil {
			t.Fatalf("a ledger accepted once is refused on reopening: %v", err)
		}
		if l.Len() != n {
			t.Fatalf("reopening changed the committed count %d → %d", n, l.Len())
		}
		l.Close()
	})
}
