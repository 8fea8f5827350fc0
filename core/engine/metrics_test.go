package engine

import (
	"testing"
	"time"
)

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.observe(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.95, 950 * time.Microsecond}, {0.99, 990 * time.Microsecond}} {
		got := h.quantile(c.q)
		// Buckets are a quarter of an octave wide and the upper edge is reported.
		if got < c.want || float64(got) > 1.25*float64(c.want) {
			t.Errorf("p%.0f = %v, want %v to +25%%", c.q*100, got, c.want)
		}
	}
	if time.Duration(h.sum.Load()) != 500500*time.Microsecond {
		t.Errorf("sum %v", time.Duration(h.sum.Load()))
	}
	var empty histogram
	if empty.quantile(0.5) != 0 {
		t.Error("empty histogram has a median")
	}
}

func TestHistBucketMonotonic(t *testing.T) {
	last := -1
	for v := uint64(1); v < 1<<40; v = v*9/8 + 1 {
		b := histBucket(v)
		if b < last {
			t.Fatalf("bucket(%d) = %d after %d", v, b, last)
		}
		if float64(v) > histUpper(b) {
			t.Fatalf("%d is above its bucket's upper edge %g", v, histUpper(b))
		}
		last = b
	}
}
