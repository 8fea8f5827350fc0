package plugin

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plexusml/plexus/core/tensor"
	"github.com/plexusml/plexus/plugins/proto/codec"
	pb "github.com/plexusml/plexus/plugins/proto/plexus/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Instance is one loaded model in a supervised plugin process. Calls to Process are
// serialised: one batch is in flight per process, which is what makes a crash
// attributable to a batch. Run several Instances for concurrency.
type Instance struct {
	h       *Host
	found   Found
	model   *ModelInfo
	cfgJSON []byte
	device  string

	mu       sync.Mutex
	p        *proc
	id       string // the model instance inside the process
	arena    *tensor.Arena
	timeout  time.Duration // per call; the host's CallTimeout unless set
	failures int           // consecutive crashes, hangs or failed starts
	copyOut  bool
	restarts int
	closed   bool

	// closing and cur let Close kill a process whose call holds mu.
	closing atomic.Bool
	cur     atomic.Pointer[proc]
}

// SetCallTimeout overrides the host's CallTimeout for this instance (a stage's
// resources.timeout); zero restores it.
func (i *Instance) SetCallTimeout(d time.Duration) {
	i.mu.Lock()
	i.timeout = d
	i.mu.Unlock()
}

func (i *Instance) callTimeout() time.Duration {
	if i.timeout > 0 {
		return i.timeout
	}
	return i.h.opts.CallTimeout
}

// Model is the loaded model's description.
func (i *Instance) Model() *ModelInfo { return i.model }

// Protocol is the negotiated protocol version of the current process (0 if none).
func (i *Instance) Protocol() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.p == nil {
		return 0
	}
	return i.p.version
}

// PID is the process id of the running plugin process, 0 if none is running.
func (i *Instance) PID() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.p == nil || i.p.runner == nil || i.p.exited() {
		return 0
	}
	return i.p.runner.pid
}

// Restarts counts the processes started after the first.
func (i *Instance) Restarts() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.restarts
}

// crashError is a failure of the process rather than of an item: it died, hung, or
// could not be started.
type crashError struct {
	reason string
	start  bool // the process could not be started or loaded: items were not tried
}

func (e *crashError) Error() string { return e.reason }

// Process runs task over items and returns one Result per item, in order. A process
// that crashes or hangs (CallTimeout) is killed, restarted with backoff and sent the
// batch again; a batch that keeps crashing it is bisected until the item at fault is
// found and failed alone with ErrPoison, while the rest succeed. Only a done ctx fails
// the batch as a whole.
func (i *Instance) Process(ctx context.Context, task string, items []Item) []Result {
	out := make([]Result, len(items))
	if len(items) == 0 {
		return out
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.closed {
		fill(out, items, &ItemError{Kind: ErrUnavailable, Reason: "instance is closed"})
		return out
	}
	i.copyOut = true
	i.runChunks(ctx, task, items, out)
	return out
}

// runChunks keeps every call within the model's published batch limit.
func (i *Instance) runChunks(ctx context.Context, task string, items []Item, out []Result) {
	n := i.model.MaxBatch
	if n <= 0 {
		n = len(items)
	}
	for start := 0; start < len(items); start += n {
		end := min(start+n, len(items))
		i.run(ctx, task, items[start:end], out[start:end], true)
	}
}

// ProcessView is Process for a caller that consumes the results at once: fn receives
// them while the instance is held, and tensors that came back through shared memory
// are views of the arena instead of copies, valid only until fn returns (Clone what
// must outlive it). It saves one copy of every large output.
func (i *Instance) ProcessView(ctx context.Context, task string, items []Item, fn func([]Result)) {
	out := make([]Result, len(items))
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.closed {
		fill(out, items, &ItemError{Kind: ErrUnavailable, Reason: "instance is closed"})
	} else if len(items) > 0 {
		// Views stay valid only if no later call reuses the arena: after the first
		// failure (retries, bisection) results are copied out as usual.
		i.copyOut = len(items) > i.model.MaxBatch && i.model.MaxBatch > 0
		i.runChunks(ctx, task, items, out)
	}
	fn(out)
}

// run sends items and, on crashes, retries and bisects. Whole batches (top) and lone
// items get Backoff.Retries re-sends; the halves of a bisection get one try each, so a
// poisoned item costs about 2·log₂(batch) crashes.
func (i *Instance) run(ctx context.Context, task string, items []Item, out []Result, top bool) {
	tries := 1
	if top || len(items) == 1 {
		tries += i.h.opts.Backoff.Retries
	}
	var last *crashError
	for attempt := 0; attempt < tries; attempt++ {
		err := i.call(ctx, task, items, out)
		if err == nil {
			return
		}
		if i.closing.Load() {
			fill(out, items, &ItemError{Kind: ErrUnavailable, Reason: "instance closed during the call"})
			return
		}
		if ctx.Err() != nil {
			fill(out, items, &ItemError{Kind: ErrUnavailable, Reason: "cancelled: " + ctx.Err().Error()})
			return
		}
		var ce *crashError
		if !errors.As(err, &ce) {
			fill(out, items, &ItemError{Kind: ErrInternal, Reason: err.Error()})
			return
		}
		last = ce
		i.copyOut = true
		if ce.start {
			// Nothing was tried, so there is nothing to bisect.
			attempt--
			if i.failures > i.h.opts.Backoff.Retries+1 {
				fill(out, items, &ItemError{Kind: ErrUnavailable, Reason: ce.reason})
				return
			}
		}
		i.h.logger.Warn("plugin failed during a batch", "plugin", i.found.Name, "model", i.model.Name,
			"task", task, "items", len(items), "attempt", attempt+1, "reason", ce.reason)
	}
	if len(items) == 1 {
		out[0] = Result{Err: &ItemError{Item: items[0].ID, Kind: ErrPoison,
			Reason: fmt.Sprintf("plugin %s failed on this item alone %d times; last: %s", i.found.Name, tries, last.reason)}}
		return
	}
	half := len(items) / 2
	i.run(ctx, task, items[:half], out[:half], false)
	i.run(ctx, task, items[half:], out[half:], false)
}

// call sends one batch to the process, starting it first if needed. It returns a
// *crashError when the process failed, another error when the plugin refused the
// whole request, and fills out otherwise.
func (i *Instance) call(ctx context.Context, task string, items []Item, out []Result) error {
	if err := i.ensure(ctx); err != nil {
		return err
	}
	p := i.p
	thr := i.h.opts.ArenaThreshold
	enc := codec.Encoder{Threshold: thr}
	useArena := i.arena != nil && p.version >= codec.ProtocolV2
	if useArena {
		// The previous call's outputs were copied out: superseded mappings are free.
		i.arena.Release()
		need := codec.ArenaBytes(items, thr)
		if need > 0 {
			// Room for the inputs and as much again for outputs, which the plugin
			// places after them (it grows the arena itself when that is too little).
			if err := i.arena.Grow(int64(2*need) + 1<<20); err != nil {
				useArena = false
			}
		}
		if useArena {
			enc.Arena = i.arena
		}
	}
	req := &pb.ProcessRequest{Instance: i.id, Task: task, Seed: seedFrom(ctx)}
	sent := make([]int, 0, len(items))
	for k, it := range items {
		pi, err := enc.Item(it)
		if err != nil {
			out[k] = Result{Err: &ItemError{Item: it.ID, Kind: ErrBadItem, Reason: err.Error()}}
			continue
		}
		req.Items = append(req.Items, pi)
		sent = append(sent, k)
	}
	if len(sent) == 0 {
		return nil
	}
	if useArena {
		req.Arena = &pb.ArenaInfo{Size: uint64(i.arena.Size()), OutOffset: tensor.AlignArena(enc.End())}
	}
	cctx, cancel := context.WithTimeout(ctx, i.callTimeout())
	defer cancel()
	resp, err := p.rpc.Process(cctx, req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		code := status.Code(err)
		switch {
		// The plugin's server enforces the same deadline (grpc-timeout) and may cancel
		// the stream a moment before cctx expires here: DeadlineExceeded is a hang too.
		case cctx.Err() != nil || code == codes.DeadlineExceeded:
			i.crashed("hung")
			return &crashError{reason: fmt.Sprintf("plugin hung: no answer within %s, killed", i.callTimeout())}
		case code == codes.Unavailable || code == codes.Canceled || p.exited():
			reason := i.crashed("")
			return &crashError{reason: "plugin process died: " + reason}
		}
		return fmt.Errorf("plugin %s: %w", i.found.Name, err)
	}
	i.failures = 0
	if len(resp.GetResults()) != len(req.Items) {
		return fmt.Errorf("plugin %s returned %d results for %d items", i.found.Name, len(resp.GetResults()), len(req.Items))
	}
	dec := codec.Decoder{Copy: i.copyOut}
	if useArena {
		dec.Arena = i.arena
	}
	for j, k := range sent {
		out[k] = dec.Result(items[k].ID, resp.Results[j])
	}
	return nil
}

// ensure starts the process and loads the model if none is running, after the
// backoff the recent failures call for.
func (i *Instance) ensure(ctx context.Context) error {
	if i.p != nil && !i.p.exited() {
		return nil
	}
	if i.closing.Load() {
		return errors.New("instance is closed")
	}
	if i.p != nil {
		i.crashed("")
	}
	if i.failures > 0 {
		d := i.h.opts.Backoff.Initial << (i.failures - 1)
		if d > i.h.opts.Backoff.Max || d <= 0 {
			d = i.h.opts.Backoff.Max
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		i.restarts++
	}
	if err := i.start(ctx); err != nil {
		i.failures++
		return &crashError{reason: err.Error(), start: true}
	}
	return nil
}

// start launches the process and loads the model.
func (i *Instance) start(ctx context.Context) error {
	p, err := i.h.launch(i.found, i.arena, i.device)
	if err != nil {
		return err
	}
	lctx, cancel := context.WithTimeout(ctx, i.h.opts.LoadTimeout)
	defer cancel()
	resp, err := p.rpc.Load(lctx, &pb.LoadRequest{Model: i.model.Name, ConfigJson: i.cfgJSON, Device: i.device})
	if err != nil {
		p.kill()
		return fmt.Errorf("plugin %s: load model %s: %s", i.found.Name, i.model.Name, status.Convert(err).Message())
	}
	i.p = p
	i.cur.Store(p)
	i.id = resp.GetInstance()
	return nil
}

// crashed kills the current process, counts the failure and returns why it ended.
func (i *Instance) crashed(why string) string {
	p := i.p
	i.p = nil
	i.cur.Store(nil)
	i.failures++
	if p == nil {
		return why
	}
	p.kill()
	if why == "" && p.runner != nil {
		why = p.runner.exitReason()
	}
	if why == "" {
		why = "connection lost"
	}
	return why
}

// Health reports whether the process runs and answers. A dead process is restarted
// by the next Process call, not by Health.
func (i *Instance) Health(ctx context.Context) error {
	i.mu.Lock()
	p := i.p
	i.mu.Unlock()
	if p == nil || p.exited() {
		return fmt.Errorf("plugin %s: %w", i.found.Name, errNotRunning)
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	r, err := p.rpc.Health(cctx, &pb.HealthRequest{})
	if err != nil {
		return fmt.Errorf("plugin %s: health: %w", i.found.Name, err)
	}
	if !r.GetOk() {
		return fmt.Errorf("plugin %s: unhealthy: %s", i.found.Name, r.GetMessage())
	}
	return nil
}

// Close unloads the model and stops the process. A call in flight is cut short: its
// process is killed and its items fail with ErrUnavailable.
func (i *Instance) Close() error {
	i.closing.Store(true)
	if !i.mu.TryLock() {
		if p := i.cur.Load(); p != nil {
			p.kill()
		}
		i.mu.Lock()
	}
	defer i.mu.Unlock()
	if i.closed {
		return nil
	}
	i.closed = true
	if p := i.p; p != nil && !p.exited() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, _ = p.rpc.Unload(ctx, &pb.UnloadRequest{Instance: i.id})
		cancel()
		p.stop()
	}
	i.p = nil
	i.cur.Store(nil)
	i.closeArena()
	i.h.forget(i)
	return nil
}

func (i *Instance) closeArena() {
	if i.arena != nil {
		_ = i.arena.Close()
		i.arena = nil
	}
}

type seedKey struct{}

// WithSeed attaches the run's seed to ctx; Process passes it to the plugin, which
// seeds each item's sampling from (seed, item id) so retries reproduce outputs.
func WithSeed(ctx context.Context, seed int64) context.Context {
	return context.WithValue(ctx, seedKey{}, seed)
}

func seedFrom(ctx context.Context) int64 {
	s, _ := ctx.Value(seedKey{}).(int64)
	return s
}

func fill(out []Result, items []Item, e *ItemError) {
	for k := range out {
		ie := *e
		ie.Item = items[k].ID
		out[k] = Result{Err: &ie}
	}
}
