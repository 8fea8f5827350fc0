//go:build unix && !linux

package plugin

import (
	"os"
	"syscall"
)

// Without Pdeathsig outside Linux, plugins notice a dead host when their stdin or
// gRPC connection closes (go-plugin exits the plugin then).
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func killProcessGroup(p *os.Process) error {
	if err := syscall.Kill(-p.Pid, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
		return p.Kill()
	}
	return nil
}

func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
