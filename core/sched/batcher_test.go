package sched

import (
	"context"
	"reflect"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestBatcherMaxSize(t *testing.T) {
	b := NewBatcher[int](BatchOptions{Max: 3, Delay: time.Second}, nil)
	var got [][]int
	for i := 0; i < 7; i++ {
		if batch := b.Add(t0, i); batch != nil {
			got = append(got, batch)
		}
	}
	want := [][]int{{0, 1, 2}, {3, 4, 5}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("full batches = %v, want %v", got, want)
	}
	if b.Len() != 1 {
		t.Fatalf("Len = %d, want 1", b.Len())
	}
	if rest := b.Flush(); !reflect.DeepEqual(rest, []int{6}) {
		t.Fatalf("Flush = %v", rest)
	}
	if b.Flush() != nil || b.Len() != 0 {
		t.Fatal("batcher not empty after flush")
	}
}

func TestBatcherDeadline(t *testing.T) {
	b := NewBatcher[int](BatchOptions{Max: 10, Delay: 5 * time.Millisecond}, nil)
	b.Add(t0, 1)
	b.Add(t0.Add(3*time.Millisecond), 2)
	dl, ok := b.Deadline()
	if !ok || !dl.Equal(t0.Add(5*time.Millisecond)) {
		t.Fatalf("deadline = %v %v, want first item + delay", dl, ok)
	}
	if b.Due(t0.Add(4*time.Millisecond)) != nil {
		t.Fatal("batch left before its deadline")
	}
	if got := b.Due(t0.Add(5 * time.Millisecond)); !reflect.DeepEqual(got, []int{1, 2}) {
		t.Fatalf("due batch = %v", got)
	}
	if _, ok := b.Deadline(); ok {
		t.Fatal("deadline left after the batch went")
	}
	// The next batch's clock starts at its own first item.
	b.Add(t0.Add(20*time.Millisecond), 3)
	if dl, _ := b.Deadline(); !dl.Equal(t0.Add(25 * time.Millisecond)) {
		t.Fatalf("second deadline = %v", dl)
	}
}

func TestBatcherBuckets(t *testing.T) {
	sizes := map[int]int64{}
	b := NewBatcher[int](BatchOptions{Max: 2, Delay: time.Second, Bucketed: true}, func(i int) int64 { return sizes[i] })
	// Short and long texts interleaved must not share a batch.
	sizes[1], sizes[2], sizes[3], sizes[4] = 10, 1000, 11, 1010
	var got [][]int
	for _, i := range []int{1, 2, 3, 4} {
		if batch := b.Add(t0, i); batch != nil {
			got = append(got, batch)
		}
	}
	want := [][]int{{1, 3}, {2, 4}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("bucketed batches = %v, want %v", got, want)
	}
}

func TestBucketKeyPadding(t *testing.T) {
	// Within one bucket the largest item is at most 1.5× the smallest (√2 rounded up to
	// whole numbers), so padding wastes under a third of a batch.
	lo := map[int]int64{}
	hi := map[int]int64{}
	for s := int64(1); s < 1<<16; s++ {
		k := BucketKey(s)
		if _, ok := lo[k]; !ok {
			lo[k] = s
		}
		hi[k] = s
	}
	for k := range lo {
		if lo[k] >= 4 && float64(hi[k]) > 1.5*float64(lo[k]) {
			t.Errorf("bucket %d spans %d..%d", k, lo[k], hi[k])
		}
	}
	if BucketKey(0) != 0 || BucketKey(-5) != 0 {
		t.Error("non-positive sizes must share bucket 0")
	}
}

func TestBatcherOldestBucketFirst(t *testing.T) {
	sizes := map[int]int64{1: 100, 2: 5}
	b := NewBatcher[int](BatchOptions{Max: 8, Delay: time.Millisecond, Bucketed: true}, func(i int) int64 { return sizes[i] })
	b.Add(t0.Add(time.Millisecond), 1)
	b.Add(t0, 2)
	if got := b.Due(t0.Add(time.Millisecond)); !reflect.DeepEqual(got, []int{2}) {
		t.Fatalf("first due = %v, want the oldest bucket", got)
	}
	if got := b.Due(t0.Add(time.Millisecond)); got != nil {
		t.Fatalf("bucket due early: %v", got)
	}
	if got := b.Due(t0.Add(2 * time.Millisecond)); !reflect.DeepEqual(got, []int{1}) {
		t.Fatalf("second due = %v", got)
	}
}

// TestPumpDeadlineOnFakeClock drives Pump with a fake clock: a partial batch leaves
// exactly when the clock passes its deadline, and not before.
func TestPumpDeadlineOnFakeClock(t *testing.T) {
	clk := NewFakeClock(t0)
	b := NewBatcher[int](BatchOptions{Max: 4, Delay: 10 * time.Millisecond}, nil)
	in := make(chan int, 8)
	out := make(chan []int, 8)
	done := make(chan error, 1)
	go func() {
		done <- Pump(context.Background(), clk, b, in, func(x []int) error { out <- x; return nil })
	}()
	in <- 1
	in <- 2
	clk.WaitTimers(1)
	clk.Advance(9 * time.Millisecond)
	select {
	case x := <-out:
		t.Fatalf("batch %v left before its deadline", x)
	default:
	}
	clk.Advance(time.Millisecond)
	if got := <-out; !reflect.DeepEqual(got, []int{1, 2}) {
		t.Fatalf("batch at deadline = %v", got)
	}
	for i := 3; i <= 6; i++ { // a full batch leaves without the clock moving
		in <- i
	}
	if got := <-out; !reflect.DeepEqual(got, []int{3, 4, 5, 6}) {
		t.Fatalf("full batch = %v", got)
	}
	in <- 7
	close(in)
	if got := <-out; !reflect.DeepEqual(got, []int{7}) {
		t.Fatalf("flush on close = %v", got)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestPumpZeroDelayLeavesWhenIdle(t *testing.T) {
	b := NewBatcher[int](BatchOptions{Max: 100}, nil)
	in := make(chan int, 8)
	for i := 0; i < 5; i++ {
		in <- i
	}
	close(in)
	var got [][]int
	if err := Pump(context.Background(), NewFakeClock(t0), b, in, func(x []int) error { got = append(got, x); return nil }); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, x := range got {
		n += len(x)
	}
	if n != 5 {
		t.Fatalf("pumped %d items in %v, want 5", n, got)
	}
}

func TestPumpStopsOnContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Pump(ctx, RealClock{}, NewBatcher[int](BatchOptions{Max: 2}, nil), make(chan int), func([]int) error { return nil })
	if err != context.Canceled {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
