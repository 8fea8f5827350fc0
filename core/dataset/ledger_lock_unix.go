//go:build unix

package dataset

import (
	"os"

	"golang.org/x/sys/unix"
)

// lockFile takes an exclusive advisory lock without waiting, so a second run on the
// same output fails at once instead of interleaving commits.
func lockFile(f *os.File) (func(), error) {
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return nil, err
	}
	return func() { _ = unix.Flock(int(f.Fd()), unix.LOCK_UN) }, nil
}
