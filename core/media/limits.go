package media

import (
	"fmt"
	"time"
)

// Limits bound what decoding one payload may cost. A zero field takes the package
// default and a negative field disables that check, so the zero Limits is safe to use.
type Limits struct {
	MaxPixels   int64         // width*height, checked from the header before decoding
	MaxDuration time.Duration // audio length, checked from the header before decoding
	MaxBytes    int64         // encoded size read into memory
}

// The defaults follow Pillow's decompression-bomb error threshold for pixels, and
// keep one decoded hour of stereo 48 kHz audio (about 1.4 GB of float32) as the worst case.
const (
	DefaultMaxPixels   = 2 * 89478485
	DefaultMaxDuration = time.Hour
	DefaultMaxBytes    = 1 << 30
)

// DefaultLimits returns the limits that the zero Limits stands for.
func DefaultLimits() Limits {
	return Limits{MaxPixels: DefaultMaxPixels, MaxDuration: DefaultMaxDuration, MaxBytes: DefaultMaxBytes}
}

func (l Limits) maxPixels() int64 { return pick(l.MaxPixels, DefaultMaxPixels) }
func (l Limits) maxBytes() int64  { return pick(l.MaxBytes, DefaultMaxBytes) }
func (l Limits) maxDuration() time.Duration {
	return time.Duration(pick(int64(l.MaxDuration), int64(DefaultMaxDuration)))
}

// pick maps the zero value to the default and a negative value to "no limit".
func pick(v, def int64) int64 {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 1<<63 - 1
	}
	return v
}

// CheckPixels returns a *LimitError when a w×h image is over the pixel limit.
func (l Limits) CheckPixels(w, h int) error {
	if w < 0 || h < 0 {
		return fmt.Errorf("image has negative size %dx%d", w, h)
	}
	max := l.maxPixels()
	px := int64(w) * int64(h)
	if h != 0 && px/int64(h) != int64(w) || px > max {
		return &LimitError{What: "pixels", Got: px, Max: max, Detail: fmt.Sprintf("%dx%d", w, h)}
	}
	return nil
}

// CheckBytes returns a *LimitError when n encoded bytes are over the byte limit.
func (l Limits) CheckBytes(n int64) error {
	if max := l.maxBytes(); n > max {
		return &LimitError{What: "bytes", Got: n, Max: max}
	}
	return nil
}

func fmtDur(ns int64) string {
	if ns == 1<<63-1 {
		return "unlimited"
	}
	return time.Duration(ns).Round(time.Millisecond).String()
}
