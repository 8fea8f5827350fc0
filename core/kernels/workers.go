package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// poolJob is one parallel step: run is called once for every task index, on any worker.
// An interface (not a func) so that handing a job to the pool does not allocate.
type poolJob interface {
	run(worker, task int)
}

// pool is a persistent set of workers; the caller of Run works as worker 0. Workers are
// not locked to OS threads: measured, locked workers often ran one after the other.
type pool struct {
	n    int
	wake []chan struct{}
	job  poolJob
	nt   int64
	_    [64]byte // keep the shared counter off the line holding job/nt
	next atomic.Int64
	_    [56]byte
	done sync.WaitGroup
}

func newPool(n int) *pool {
	if n < 1 {
		n = 1
	}
	p := &pool{n: n}
	p.wake = make([]chan struct{}, n-1)
	for i := range p.wake {
		p.wake[i] = make(chan struct{}, 1)
		go p.loop(i + 1)
	}
	return p
}

// Run calls j.run for tasks 0..ntask-1 across the workers and returns when all are done.
// Tasks are handed out through an atomic counter, which absorbs a noisy neighbour.
func (p *pool) Run(ntask int, j poolJob) {
	if ntask <= 0 {
		return
	}
	helpers := min(p.n-1, ntask-1)
	if helpers <= 0 {
		for i := 0; i < ntask; i++ {
			j.run(0, i)
		}
		return
	}
	p.job = j
	p.nt = int64(ntask)
	p.next.Store(0)
	p.done.Add(helpers)
	for w := 0; w < helpers; w++ {
		p.wake[w] <- struct{}{}
	}
	p.work(0)
	p.done.Wait()
	p.job = nil
}

func (p *pool) loop(w int) {
	for range p.wake[w-1] {
		p.work(w)
		p.done.Done()
	}
}

func (p *pool) work(w int) {
	for {
		i := p.next.Add(1) - 1
		if i >= p.nt {
			return
		}
		p.job.run(w, int(i))
	}
}

// Workers is the number of workers parallel kernels use: GOMAXPROCS at first use.
func Workers() int { return defaultCtx().pool.n }

var (
	ctxOnce sync.Once
	ctxDef  *gemmCtx
)

// defaultCtx returns the process-wide GEMM context; its workers live as long as the
// process, like the runtime's own, because every kernel call would otherwise pay for
// starting them.
func defaultCtx() *gemmCtx {
	ctxOnce.Do(func() {
		ctxDef = newGemmCtx(runtime.GOMAXPROCS(0))
	})
	return ctxDef
}
