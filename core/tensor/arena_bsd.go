//go:build unix && !linux

package tensor

import (
	"fmt"
	"os"
)

const mapPopulate = 0

// Without memfd the arena is an unlinked file in the temp dir (macOS has no /dev/shm).
func createArenaFile(kind ArenaKind) (*os.File, error) {
	if kind == ArenaMemfd {
		return nil, fmt.Errorf("arena: memfd: %w", ErrArenaUnsupported)
	}
	dir := "/dev/shm"
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		dir = os.TempDir()
	}
	f, err := createShmFile(dir)
	if err != nil {
		return nil, fmt.Errorf("arena: create file in %s: %w", dir, err)
	}
	return f, nil
}
