package pipeline

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Std returns the duration as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String writes the duration the way it is read back ("5ms").
func (d Duration) String() string { return time.Duration(d).String() }

// ParseDuration reads "5ms", "2s", "1m30s" or "0"; negative durations are rejected
// because every duration in a pipeline is a delay, a timeout or a limit.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("expected a duration like \"5ms\" or \"1m30s\", got %q", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %q is negative", s)
	}
	return Duration(d), nil
}

// UnmarshalText lets koanf and the strict decoder read a Duration from text.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalText keeps the human form in JSON (and so in Hash).
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Bytes returns the size in bytes.
func (s Size) Bytes() int64 { return int64(s) }

var sizeUnits = map[string]float64{
	"": 1, "b": 1,
	"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
	"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
}

// ParseSize reads a byte count: a plain integer, or a number with a unit, decimal
// (kB, MB, GB, TB) or binary (KiB, MiB, GiB, TiB; K, M, G, T as in Kubernetes-style
// shorthand), case-insensitive: 1024, "64KiB", "1.5GiB", "10MB".
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	mult, ok := sizeUnits[unit]
	if num == "" || !ok {
		return 0, fmt.Errorf("expected a size like 1024, \"64KiB\" or \"1GiB\", got %q", s)
	}
	if !strings.Contains(num, ".") {
		n, err := strconv.ParseInt(num, 10, 64)
		if err == nil && (mult == 1 || n <= math.MaxInt64/int64(mult)) {
			return Size(n * int64(mult)), nil
		}
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("expected a size like 1024, \"64KiB\" or \"1GiB\", got %q", s)
		}
		return 0, fmt.Errorf("size %q is too large", s)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("expected a size like 1024, \"64KiB\" or \"1GiB\", got %q", s)
	}
	v := f * mult
	if v >= math.MaxInt64 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	if v != math.Trunc(v) {
		return 0, fmt.Errorf("size %q is not a whole number of bytes", s)
	}
	return Size(v), nil
}

// UnmarshalText lets koanf and the strict decoder read a Size from text or a number.
func (s *Size) UnmarshalText(b []byte) error {
	v, err := ParseSize(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// String writes the size with the largest binary unit that divides it exactly.
func (s Size) String() string {
	n := int64(s)
	for _, u := range []struct {
		name string
		v    int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.v == 0 {
			return strconv.FormatInt(n/u.v, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}

// UnmarshalText reads the short form `instances: N`, meaning exactly N instances; the
// mapping form {min, max} is decoded field by field.
func (in *Instances) UnmarshalText(b []byte) error {
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("expected a number of instances or {min: N, max: M}, got %q", string(b))
	}
	if n < 1 {
		return fmt.Errorf("must be at least 1, got %d", n)
	}
	*in = Instances{Min: n, Max: n}
	return nil
}
