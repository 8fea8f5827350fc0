package plugin

import (
	"context"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// Linux sends Pdeathsig when the thread that forked the plugin exits. A caller whose
// goroutine is locked to a thread that then dies must not take the plugin with it.
func TestPluginOutlivesLaunchingThread(t *testing.T) {
	h := newTestHost(t, HostOptions{}, "echo")
	ctx := context.Background()
	var inst *Instance
	var err error
	for inst == nil && err == nil {
		done := make(chan bool)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
			if syscall.Gettid() == os.Getpid() {
				// The main thread never exits (Go parks it instead); try another.
				runtime.UnlockOSThread()
				done <- false
				return
			}
			inst, err = h.Instance(ctx, "echo", "echo", nil, "cpu")
			done <- true
		}()
		<-done
	}
	if err != nil {
		t.Fatal(err)
	}
	pid := inst.PID()
	time.Sleep(200 * time.Millisecond) // let the launching thread exit
	if !processAlive(pid) {
		t.Fatal("the plugin died with the thread that asked for it")
	}
	if r := inst.Process(ctx, "echo", []Item{{ID: "a", Fields: map[string]Value{"s": "x"}}}); r[0].Err != nil || inst.Restarts() != 0 {
		t.Fatalf("after the launching thread exited: %v, %d restarts", r[0].Err, inst.Restarts())
	}
}
