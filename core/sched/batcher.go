package sched

import (
	"context"
	"math/bits"
	"time"
)

// BatchOptions configure one stage's batcher.
type BatchOptions struct {
	// Max is the largest batch; values below 1 mean 1.
	Max int
	// Delay is how long the first item of a batch may wait for company. Zero means
	// "never wait": whatever is queued when the input goes idle leaves at once.
	Delay time.Duration
	// Bucketed groups items whose sizes (from the key function) are within about 1.4×
	// of each other, so padding a batch to its largest item wastes little.
	Bucketed bool
}

// Batcher groups items into batches of at most Max, each bucket with its own deadline
// (its oldest item's arrival plus Delay). It is a plain state machine driven by the
// times passed in, so every deadline rule is testable without a clock; Pump runs it
// against a channel and a Clock.
type Batcher[T any] struct {
	o       BatchOptions
	size    func(T) int64
	buckets []bucket[T] // few: one per half-octave of size actually seen
	n       int
}

type bucket[T any] struct {
	key      int
	items    []T
	deadline time.Time
}

// NewBatcher returns a batcher; size measures an item for bucketing (text length,
// audio frames, image pixels) and may be nil when o.Bucketed is false.
func NewBatcher[T any](o BatchOptions, size func(T) int64) *Batcher[T] {
	if o.Max < 1 {
		o.Max = 1
	}
	if size == nil {
		o.Bucketed = false
	}
	return &Batcher[T]{o: o, size: size}
}

// Options returns the effective options.
func (b *Batcher[T]) Options() BatchOptions { return b.o }

// Len is the number of items waiting.
func (b *Batcher[T]) Len() int { return b.n }

// BucketKey maps a size to its bucket: two buckets per power of two, so items that
// share a bucket differ in size by at most a factor of about √2 (plus one for tiny sizes).
func BucketKey(size int64) int {
	if size <= 0 {
		return 0
	}
	u := uint64(size)
	l := bits.Len64(u) // 2^(l-1) <= u < 2^l
	half := 0
	if l >= 2 && u>>(l-2)&1 == 1 {
		half = 1
	}
	return 2*l + half
}

// Add queues x arriving at now. When its bucket reaches Max, that full batch is
// returned (and leaves the batcher); otherwise nil.
func (b *Batcher[T]) Add(now time.Time, x T) []T {
	key := 0
	if b.o.Bucketed {
		key = BucketKey(b.size(x))
	}
	i := b.find(key)
	if i < 0 {
		b.buckets = append(b.buckets, bucket[T]{key: key})
		i = len(b.buckets) - 1
	}
	bk := &b.buckets[i]
	if len(bk.items) == 0 {
		bk.deadline = now.Add(b.o.Delay)
		if bk.items == nil {
			bk.items = make([]T, 0, b.o.Max)
		}
	}
	bk.items = append(bk.items, x)
	b.n++
	if len(bk.items) >= b.o.Max {
		return b.take(i)
	}
	return nil
}

func (b *Batcher[T]) find(key int) int {
	for i := range b.buckets {
		if b.buckets[i].key == key {
			return i
		}
	}
	return -1
}

// take removes bucket i's items and returns them; the bucket keeps no reference, so a
// consumer may hold the batch as long as it likes.
func (b *Batcher[T]) take(i int) []T {
	out := b.buckets[i].items
	b.n -= len(out)
	b.buckets[i].items = nil
	return out
}

// Deadline returns the earliest deadline of any waiting batch.
func (b *Batcher[T]) Deadline() (time.Time, bool) {
	var best time.Time
	ok := false
	for i := range b.buckets {
		if len(b.buckets[i].items) == 0 {
			continue
		}
		if !ok || b.buckets[i].deadline.Before(best) {
			best, ok = b.buckets[i].deadline, true
		}
	}
	return best, ok
}

// Due returns one batch whose deadline is at or before now (the oldest first), or nil.
// Call it until it returns nil.
func (b *Batcher[T]) Due(now time.Time) []T {
	i := b.oldest()
	if i < 0 || b.buckets[i].deadline.After(now) {
		return nil
	}
	return b.take(i)
}

// Flush returns one waiting batch regardless of deadlines (the oldest first), or nil.
// Call it until it returns nil to empty the batcher.
func (b *Batcher[T]) Flush() []T {
	i := b.oldest()
	if i < 0 {
		return nil
	}
	return b.take(i)
}

func (b *Batcher[T]) oldest() int {
	best := -1
	for i := range b.buckets {
		if len(b.buckets[i].items) == 0 {
			continue
		}
		if best < 0 || b.buckets[i].deadline.Before(b.buckets[best].deadline) {
			best = i
		}
	}
	return best
}

// Pump feeds items from in through b to emit until in is closed (then it flushes what
// waits and returns nil), ctx ends, or emit fails. With a zero Delay a partial batch
// leaves as soon as in has nothing more queued; otherwise it leaves at its deadline on
// clk. emit may block: that is how a slow stage pushes back on its input.
func Pump[T any](ctx context.Context, clk Clock, b *Batcher[T], in <-chan T, emit func([]T) error) error {
	var timer Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	var armed time.Time
	for {
		var tick <-chan time.Time
		if dl, ok := b.Deadline(); ok && b.o.Delay > 0 {
			if timer == nil {
				timer = clk.NewTimer(dl.Sub(clk.Now()))
				armed = dl
			} else if !dl.Equal(armed) {
				timer.Stop()
				drainTick(timer)
				timer.Reset(dl.Sub(clk.Now()))
				armed = dl
			}
			tick = timer.C()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case x, ok := <-in:
			if !ok {
				for batch := b.Flush(); batch != nil; batch = b.Flush() {
					if err := emit(batch); err != nil {
						return err
					}
				}
				return nil
			}
			if batch := b.Add(clk.Now(), x); batch != nil {
				if err := emit(batch); err != nil {
					return err
				}
			}
			if b.o.Delay == 0 && len(in) == 0 {
				for batch := b.Flush(); batch != nil; batch = b.Flush() {
					if err := emit(batch); err != nil {
						return err
					}
				}
			}
		case <-tick:
			armed = time.Time{}
			for batch := b.Due(clk.Now()); batch != nil; batch = b.Due(clk.Now()) {
				if err := emit(batch); err != nil {
					return err
				}
			}
		}
	}
}

func drainTick(t Timer) {
	select {
	case <-t.C():
	default:
	}
}
