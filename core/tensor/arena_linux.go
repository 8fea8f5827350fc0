//go:build linux

package tensor

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// mapPopulate pre-faults the mapping so the first transfer does not pay page faults.
const mapPopulate = unix.MAP_POPULATE

func createArenaFile(kind ArenaKind) (*os.File, error) {
	if kind == ArenaAuto || kind == ArenaMemfd {
		// Close-on-exec keeps the arena out of unrelated children; exec.Cmd.ExtraFiles
		// dups it into the plugin without the flag.
		fd, err := unix.MemfdCreate("plexus-arena", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
		if err == nil {
			// A plugin may grow the arena but never shrink it: pages cut off under a
			// mapping would SIGBUS the host when it reads them.
			if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK); err != nil {
				unix.Close(fd)
				return nil, fmt.Errorf("arena: seal memfd: %w", err)
			}
			return os.NewFile(uintptr(fd), "memfd:plexus-arena"), nil
		}
		if kind == ArenaMemfd {
			return nil, fmt.Errorf("arena: memfd_create: %w", err)
		}
	}
	f, err := createShmFile("/dev/shm")
	if err != nil {
		return nil, fmt.Errorf("arena: create /dev/shm file: %w", err)
	}
	return f, nil
}
