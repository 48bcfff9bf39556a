package configs

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Size is a number of bytes. In YAML it is an integer or a string with a
// unit: B, KB, MB, GB, TB (powers of 1024, as MTAs traditionally count) or
// the explicit KiB, MiB, GiB, TiB. "50MB" is 50*1024*1024 bytes.
type Size int64

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"tb", 1 << 40},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40},
	{"b", 1},
}

// ParseSize parses a size such as "4KB", "50MB", "2GiB" or "1048576".
func ParseSize(s string) (Size, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "" {
		return 0, fmt.Errorf("empty size")
	}
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			mult = u.mult
			t = strings.TrimSpace(strings.TrimSuffix(t, u.suffix))
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("invalid size %q (want e.g. 512KB, 50MB, 2GiB)", s)
	}
	v := f * float64(mult)
	if v > float64(1<<62) {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return Size(v), nil
}

// String formats the size with the largest binary unit that divides it.
func (s Size) String() string {
	switch {
	case s == 0:
		return "0"
	case s%(1<<40) == 0:
		return fmt.Sprintf("%dTiB", s>>40)
	case s%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", s>>30)
	case s%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", s>>20)
	case s%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", s>>10)
	}
	return strconv.FormatInt(int64(s), 10)
}

// MarshalYAML writes the size in its String form.
func (s Size) MarshalYAML() (any, error) { return s.String(), nil }

// Duration is a time.Duration written as Go writes one ("90s", "5m", "1h30m")
// or with a day suffix ("3d").
type Duration time.Duration

// ParseDuration parses "30s", "5m", "72h" or "3d".
func ParseDuration(s string) (Duration, error) {
	t := strings.TrimSpace(s)
	if strings.HasSuffix(t, "d") {
		n, err := strconv.ParseFloat(strings.TrimSuffix(t, "d"), 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("invalid duration %q (want e.g. 30s, 5m, 72h, 3d)", s)
		}
		return Duration(n * float64(24*time.Hour)), nil
	}
	d, err := time.ParseDuration(t)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid duration %q (want e.g. 30s, 5m, 72h, 3d)", s)
	}
	return Duration(d), nil
}

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats the duration as Go does.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalYAML writes the duration in its String form.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }
