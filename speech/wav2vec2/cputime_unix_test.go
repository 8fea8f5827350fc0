//go:build unix

package wav2vec2

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time this process has used. On a shared machine, audio seconds per
// CPU second measure the code while wall-clock figures measure the neighbours too.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
