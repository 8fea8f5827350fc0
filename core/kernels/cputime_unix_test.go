//go:build unix

package kernels

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time this process has used. On a shared machine, GFLOP per CPU
// second measures the code while wall-clock GFLOP/s measures the neighbours too.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
