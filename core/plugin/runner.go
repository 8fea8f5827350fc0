package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin/runner"
)

// procRunner starts a plugin process for go-plugin (its runner.Runner). It exists for
// three reasons go-plugin's own runner does not cover: the child gets its own process
// group and Pdeathsig, the fork happens on a goroutine that holds its OS thread for the
// child's whole life (Linux delivers Pdeathsig when the forking thread exits, not the
// process), and Kill takes down the whole process group.
type procRunner struct {
	logger hclog.Logger
	cmd    *exec.Cmd
	stdout io.ReadCloser
	stderr io.ReadCloser
	tail   *tailBuffer

	exited  chan struct{}
	once    sync.Once
	pid     int
	mu      sync.Mutex
	waitErr error
}

func newRunner(logger hclog.Logger, cmd *exec.Cmd) (*procRunner, error) {
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	tail := &tailBuffer{max: 4096}
	return &procRunner{
		logger: logger,
		cmd:    cmd,
		stdout: stdout,
		stderr: readCloser{io.TeeReader(stderr, tail), stderr},
		tail:   tail,
		exited: make(chan struct{}),
	}, nil
}

func (r *procRunner) Start(context.Context) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := r.cmd.Start(); err != nil {
			errc <- err
			return
		}
		r.pid = r.cmd.Process.Pid
		errc <- nil
		<-r.exited
	}()
	return <-errc
}

func (r *procRunner) Wait(context.Context) error {
	err := r.cmd.Wait()
	r.mu.Lock()
	r.waitErr = err
	r.mu.Unlock()
	r.once.Do(func() { close(r.exited) })
	return err
}

// Kill sends SIGKILL to the plugin's whole process group, so helpers it started die
// with it.
func (r *procRunner) Kill(context.Context) error {
	if r.cmd.Process == nil {
		return nil
	}
	select {
	case <-r.exited:
		// Reaped: its pid, and so its group id, may already belong to someone else.
		return nil
	default:
	}
	return killProcessGroup(r.cmd.Process)
}

// exitReason describes how the process ended, with the end of its stderr (a panic's
// message, say). Empty while it runs.
func (r *procRunner) exitReason() string {
	select {
	case <-r.exited:
	default:
		return ""
	}
	r.mu.Lock()
	err := r.waitErr
	r.mu.Unlock()
	msg := "exited normally"
	if err != nil {
		msg = err.Error()
	}
	if t := r.tail.crashLine(); t != "" {
		msg += ": " + t
	}
	return msg
}

func (r *procRunner) Diagnose(context.Context) string {
	return fmt.Sprintf("the plugin %s did not complete the go-plugin handshake; is it a plexus plugin built for this system? stderr: %s",
		r.cmd.Path, r.tail.lastLines(5))
}

func (r *procRunner) Stdout() io.ReadCloser { return r.stdout }
func (r *procRunner) Stderr() io.ReadCloser { return r.stderr }
func (r *procRunner) Name() string          { return r.cmd.Path }
func (r *procRunner) ID() string            { return strconv.Itoa(r.pid) }

func (r *procRunner) PluginToHost(n, a string) (string, string, error) { return n, a, nil }
func (r *procRunner) HostToPlugin(n, a string) (string, string, error) { return n, a, nil }

type readCloser struct {
	io.Reader
	io.Closer
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	t.mu.Unlock()
	return len(p), nil
}

func (t *tailBuffer) lastLines(n int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	start := len(b)
	for lines := 0; start > 0; start-- {
		if b[start-1] == '\n' {
			lines++
			if lines == n {
				break
			}
		}
	}
	return string(b[start:])
}

// crashLine picks the line of the stderr tail that best says why a process died: a Go
// panic or fatal error, else the last line.
func (t *tailBuffer) crashLine() string {
	lines := strings.Split(strings.TrimRight(t.lastLines(64), "\r\n"), "\n")
	for _, l := range lines {
		if strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") {
			return strings.TrimSpace(l)
		}
	}
	return strings.TrimSpace(lines[len(lines)-1])
}

var errNotRunning = errors.New("plugin process is not running")

var _ runner.Runner = (*procRunner)(nil)
