//go:build linux

package plugin

import (
	"os"
	"syscall"
)

// sysProcAttr puts the plugin in its own process group (so killing the group takes its
// children too, and a terminal's Ctrl-C reaches only the host) and has the kernel
// SIGKILL it when the forking thread, and so the host, dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

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
