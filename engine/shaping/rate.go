package shaping

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// Day is the "d" unit of rates and durations in configuration.
const Day = 24 * time.Hour

// maxRateN bounds N in "N/interval" so Limit and Burst stay exact.
const maxRateN = 1_000_000_000

// burstWindow is how much of a rate a limiter may spend at once: Burst is
// the rate over 100 ms, rounded up, at least 1. Over a minute a full bucket
// then adds at most 100 ms worth (0.17%) to the steady rate, well inside
// the ±2% the shaping issue asks for, while a delivery goroutine that
// reserves one message at a time is never starved by rounding.
const burstWindow = 100 * time.Millisecond

// Rate is N events per interval Per: "100/s", "1000/h", "50/m", "5/10s",
// "20000/d". The zero Rate means unlimited.
//
// A limiter spreads the events evenly: "1000/h" is one every 3.6 s, not
// 1000 at the top of the hour.
type Rate struct {
	// N is the number of events per interval; at least 1 unless the Rate is
	// zero.
	N int
	// Per is the interval; positive unless the Rate is zero.
	Per time.Duration
}

// ParseRate parses "N/unit" or "N/<k><unit>" with unit s, m, h or d (k a
// positive integer: "5/10s" is 5 per 10 seconds), or "unlimited" (the zero
// Rate). N is 1 to 10⁹.
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(s)
	if s == "unlimited" {
		return Rate{}, nil
	}
	ns, per, ok := strings.Cut(s, "/")
	if !ok {
		return Rate{}, fmt.Errorf("rate %q: want N/interval such as 100/s, 1000/h or unlimited", s)
	}
	n, err := strconv.Atoi(strings.TrimSpace(ns))
	if err != nil || n < 1 || n > maxRateN {
		return Rate{}, fmt.Errorf("rate %q: count must be an integer from 1 to %d", s, maxRateN)
	}
	d, err := parseInterval(strings.TrimSpace(per))
	if err != nil {
		return Rate{}, fmt.Errorf("rate %q: %w", s, err)
	}
	return Rate{N: n, Per: d}, nil
}

func parseInterval(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New("interval missing: use s, m, h or d")
	}
	var unit time.Duration
	switch s[len(s)-1] {
	case 's':
		unit = time.Second
	case 'm':
		unit = time.Minute
	case 'h':
		unit = time.Hour
	case 'd':
		unit = Day
	default:
		return 0, fmt.Errorf("interval %q: unit must be s, m, h or d", s)
	}
	k := 1
	if num := s[:len(s)-1]; num != "" {
		var err error
		k, err = strconv.Atoi(num)
		if err != nil || k < 1 || k > 365 {
			return 0, fmt.Errorf("interval %q: multiplier must be an integer from 1 to 365", s)
		}
	}
	return time.Duration(k) * unit, nil
}

// IsZero reports whether r is the zero (unlimited) Rate.
func (r Rate) IsZero() bool { return r == Rate{} }

// Validate reports whether r is the zero Rate or has N ≥ 1 and Per > 0.
func (r Rate) Validate() error {
	if r.IsZero() {
		return nil
	}
	if r.N < 1 || r.N > maxRateN {
		return fmt.Errorf("count %d outside 1..%d", r.N, maxRateN)
	}
	if r.Per <= 0 {
		return fmt.Errorf("interval %v must be positive", r.Per)
	}
	return nil
}

// PerSecond returns the rate in events per second; +Inf for the zero Rate.
func (r Rate) PerSecond() float64 {
	if r.IsZero() {
		return math.Inf(1)
	}
	return float64(r.N) / r.Per.Seconds()
}

// Limit returns r as a rate.Limit; rate.Inf for the zero Rate.
func (r Rate) Limit() rate.Limit {
	if r.IsZero() {
		return rate.Inf
	}
	return rate.Limit(r.PerSecond())
}

// Burst returns the token-bucket size for r: the events of 100 ms at r,
// rounded up, at least 1 (100/s → 10, 1000/h → 1). A limiter with this
// burst admits at most Burst events above the steady rate over any window,
// so a minute at 100/s admits 6000 to 6010. The zero Rate's Burst is 0
// (a rate.Inf limiter ignores it).
func (r Rate) Burst() int {
	if r.IsZero() {
		return 0
	}
	b := math.Ceil(r.PerSecond() * burstWindow.Seconds())
	return max(1, int(b))
}

// NewLimiter returns a limiter for r, full. The zero Rate gives one that
// allows everything.
func (r Rate) NewLimiter() *rate.Limiter {
	return rate.NewLimiter(r.Limit(), r.Burst())
}

// String returns r in the form ParseRate reads: "100/s", "5/10s",
// "unlimited".
func (r Rate) String() string {
	if r.IsZero() {
		return "unlimited"
	}
	for _, u := range []struct {
		d time.Duration
		s string
	}{{Day, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if r.Per%u.d == 0 {
			if k := r.Per / u.d; k != 1 {
				return fmt.Sprintf("%d/%d%s", r.N, k, u.s)
			}
			return fmt.Sprintf("%d/%s", r.N, u.s)
		}
	}
	return fmt.Sprintf("%d/%v", r.N, r.Per) // not a whole number of seconds: not re-parseable
}

// MarshalText implements encoding.TextMarshaler.
func (r Rate) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler, so YAML decoders read
// "100/s" into a Rate directly.
func (r *Rate) UnmarshalText(b []byte) error {
	v, err := ParseRate(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}
