package shaping

import (
	"math"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func TestParseRate_Table(t *testing.T) {
	tests := []struct {
		in   string
		want Rate
		str  string
	}{
		{"100/s", Rate{100, time.Second}, "100/s"},
		{"50/m", Rate{50, time.Minute}, "50/m"},
		{"1000/h", Rate{1000, time.Hour}, "1000/h"},
		{"20000/d", Rate{20000, Day}, "20000/d"},
		{"5/10s", Rate{5, 10 * time.Second}, "5/10s"},
		{"3/2h", Rate{3, 2 * time.Hour}, "3/2h"},
		{" 7 / 1m ", Rate{7, time.Minute}, "7/m"},
		{"unlimited", Rate{}, "unlimited"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRate(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("ParseRate(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			if got.String() != tt.str {
				t.Errorf("String() = %q, want %q", got.String(), tt.str)
			}
		})
	}
}

func TestParseRate_BadStrings(t *testing.T) {
	for _, in := range []string{
		"", "100", "/s", "100/", "0/s", "-5/s", "1.5/s", "100/x", "100/sec", "100/0s",
		"100/-1s", "100/1.5h", "1000000001/s", "abc/s", "100/s/s", "5/366d", "0",
	} {
		t.Run(in, func(t *testing.T) {
			if r, err := ParseRate(in); err == nil {
				t.Fatalf("ParseRate(%q) = %v, want an error", in, r)
			}
		})
	}
}

func TestRate_UnmarshalText_ReadsConfigForm(t *testing.T) {
	var r Rate
	if err := r.UnmarshalText([]byte("1000/h")); err != nil || r != (Rate{1000, time.Hour}) {
		t.Fatalf("UnmarshalText = %v, %v", r, err)
	}
	if err := r.UnmarshalText([]byte("fast")); err == nil {
		t.Fatal("UnmarshalText(fast) = nil error")
	}
	b, _ := Rate{5, 10 * time.Second}.MarshalText()
	if string(b) != "5/10s" {
		t.Fatalf("MarshalText = %s", b)
	}
}

func TestRate_LimitAndBurst(t *testing.T) {
	tests := []struct {
		r     Rate
		limit rate.Limit
		burst int
	}{
		{Rate{100, time.Second}, 100, 10},
		{Rate{1000, time.Second}, 1000, 100},
		{Rate{15, time.Second}, 15, 2}, // 1.5 rounds up
		{Rate{50, time.Minute}, 50.0 / 60, 1},
		{Rate{1000, time.Hour}, 1000.0 / 3600, 1},
		{Rate{5, 10 * time.Second}, 0.5, 1},
		{Rate{}, rate.Inf, 0},
	}
	for _, tt := range tests {
		t.Run(tt.r.String(), func(t *testing.T) {
			if got := tt.r.Limit(); math.Abs(float64(got-tt.limit)) > 1e-12 && got != tt.limit {
				t.Errorf("Limit() = %v, want %v", got, tt.limit)
			}
			if got := tt.r.Burst(); got != tt.burst {
				t.Errorf("Burst() = %d, want %d", got, tt.burst)
			}
		})
	}
}

// allowedOver counts what a fresh limiter for r admits when asked for one
// event every step over d of simulated time, as fast as it lets through.
func allowedOver(r Rate, d, step time.Duration) int {
	lim := r.NewLimiter()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	n := 0
	for now := start; now.Before(start.Add(d)); now = now.Add(step) {
		for lim.AllowN(now, 1) {
			n++
		}
	}
	return n
}

func TestRate_100PerSecondOverSimulatedMinute_Within2Percent(t *testing.T) {
	// Polling steps up to the burst's 100 ms; a sender that polls less often
	// than that wastes tokens (real senders Wait, see the Reserve test).
	for _, step := range []time.Duration{time.Millisecond, 10 * time.Millisecond, 50 * time.Millisecond} {
		n := allowedOver(Rate{100, time.Second}, time.Minute, step)
		if n < 5880 || n > 6120 {
			t.Errorf("step %v: %d messages in a minute at 100/s, want 6000 ±2%%", step, n)
		}
	}
}

func TestRate_SlowRatesOverSimulatedHour_Within2Percent(t *testing.T) {
	for _, tt := range []struct {
		r    Rate
		want int
	}{{Rate{1000, time.Hour}, 1000}, {Rate{50, time.Minute}, 3000}, {Rate{5, 10 * time.Second}, 1800}} {
		n := allowedOver(tt.r, time.Hour, 100*time.Millisecond)
		if d := math.Abs(float64(n-tt.want)) / float64(tt.want); d > 0.02 {
			t.Errorf("%v: %d in an hour, want %d ±2%%", tt.r, n, tt.want)
		}
	}
}

func TestRate_100PerSecondReservingSender_Within2Percent(t *testing.T) {
	// A sender that waits for each reservation, as limiter.Wait does, in
	// simulated time.
	lim := Rate{100, time.Second}.NewLimiter()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	end := start.Add(time.Minute)
	n := 0
	for now := start; ; n++ {
		now = now.Add(lim.ReserveN(now, 1).DelayFrom(now))
		if !now.Before(end) {
			break
		}
	}
	if n < 5880 || n > 6120 {
		t.Fatalf("%d messages in a minute at 100/s, want 6000 ±2%%", n)
	}
	t.Logf("%d messages in a simulated minute", n)
}

func TestRate_Zero_UnlimitedLimiter(t *testing.T) {
	lim := Rate{}.NewLimiter()
	now := time.Unix(0, 0)
	for range 100000 {
		if !lim.AllowN(now, 1) {
			t.Fatal("zero Rate limited")
		}
	}
}

func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"100/s", "5/10s", "1000/h", "unlimited", "0/s", "9/365d", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate(s)
		if err != nil {
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("ParseRate(%q) = %v, which fails Validate: %v", s, r, err)
		}
		back, err := ParseRate(r.String())
		if err != nil || back != r {
			t.Fatalf("round trip %q -> %v -> %q -> %v, %v", s, r, r.String(), back, err)
		}
		if !r.IsZero() && (r.Burst() < 1 || r.Limit() <= 0) {
			t.Fatalf("%v: Burst %d, Limit %v", r, r.Burst(), r.Limit())
		}
	})
}
