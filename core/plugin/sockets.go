package plugin

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// socketDirPrefix names the per-host directory that holds go-plugin's Unix sockets.
// go-plugin removes a plugin's socket directory when it stops the plugin, but a host
// killed with SIGKILL stops nothing; naming the parent after the host's pid lets the
// next host remove what a dead one left.
const socketDirPrefix = "plexus-sockets-"

// sweepSocketDirs removes the socket directories of hosts that no longer run.
func sweepSocketDirs() {
	old, _ := filepath.Glob(filepath.Join(os.TempDir(), socketDirPrefix+"*"))
	for _, d := range old {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), socketDirPrefix))
		if err == nil && pid != os.Getpid() && !processExists(pid) {
			_ = os.RemoveAll(d)
		}
	}
}

// socketDir returns this process's socket directory, creating it if needed (another
// Host of the process may have removed it when it closed).
func socketDir() string {
	dir := filepath.Join(os.TempDir(), socketDirPrefix+strconv.Itoa(os.Getpid()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "" // go-plugin falls back to the temp dir itself
	}
	return dir
}

// removeSocketDir removes this process's socket directory once it is empty: every
// plugin's own directory in it is gone, whichever Host started it.
func removeSocketDir() {
	_ = os.Remove(filepath.Join(os.TempDir(), socketDirPrefix+strconv.Itoa(os.Getpid())))
}
