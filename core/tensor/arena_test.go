package tensor

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestArenaShared(t *testing.T) {
	for _, kind := range []ArenaKind{ArenaAuto, ArenaShmFile} {
		a, err := NewArena(kind, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if a.Size() < 1000 || a.Size()%int64(os.Getpagesize()) != 0 {
			t.Fatalf("size %d", a.Size())
		}
		// A second mapping of the same file stands in for the peer process.
		dup, err := os.OpenFile(filepath.Join("/proc/self/fd", strconv.Itoa(int(a.File().Fd()))), os.O_RDWR, 0)
		if err != nil {
			t.Skipf("cannot reopen the arena through /proc: %v", err)
		}
		b, err := OpenArena(dup)
		if err != nil {
			t.Fatal(err)
		}
		a.Bytes()[10] = 42
		if b.Bytes()[10] != 42 {
			t.Fatal("peer does not see the write")
		}
		// The peer grows the file; the first side finds the region through Slice.
		if err := b.Grow(3 << 20); err != nil {
			t.Fatal(err)
		}
		b.Bytes()[2<<20] = 7
		s, err := a.Slice(2<<20, 16)
		if err != nil {
			t.Fatal(err)
		}
		if s[0] != 7 {
			t.Fatal("grown region not shared")
		}
		if off, ok := a.Offset(s); !ok || off != 2<<20 {
			t.Fatalf("Offset = %d, %v", off, ok)
		}
		if _, ok := a.Offset(make([]byte, 4)); ok {
			t.Fatal("Offset claims a heap slice")
		}
		if _, err := a.Slice(uint64(a.Size())-4, 16); err == nil {
			t.Fatal("Slice beyond the end succeeded")
		}
		a.Release()
		b.Close()
		a.Close()
	}
}

func TestArenaCannotShrink(t *testing.T) {
	a, err := NewArena(ArenaMemfd, 1<<20)
	if err != nil {
		t.Skip(err)
	}
	defer a.Close()
	if err := a.File().Truncate(4096); err == nil {
		t.Fatal("a memfd arena could be shrunk under its mappings")
	}
}

func TestArenaLeavesNoFile(t *testing.T) {
	before, _ := filepath.Glob("/dev/shm/plexus-arena-*")
	a, err := NewArena(ArenaShmFile, 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	after, _ := filepath.Glob("/dev/shm/plexus-arena-*")
	if len(after) > len(before) {
		t.Fatalf("arena file left in /dev/shm: %v", after)
	}
}
