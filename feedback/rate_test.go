package feedback

import (
	"testing"
	"time"
)

var (
	t0       = time.Date(2026, 11, 5, 9, 0, 0, 0, time.UTC)
	ok250    = Reply{250, "2.0.0", "OK", false}
	throt421 = Reply{421, "4.7.0", "Try again later, closing connection.", false}
	defer450 = Reply{450, "4.2.1", "The user you are trying to contact is receiving mail too quickly", false}
	bounce55 = Reply{550, "5.1.1", "no such user", false}
)

// feed sends n copies of r, one every step, starting at start; it returns
// the time of the last one.
func feed(a *Adaptive, start time.Time, step time.Duration, n int, r Reply) time.Time {
	at := start
	for i := range n {
		at = start.Add(time.Duration(i) * step)
		a.OnReply(r, at)
	}
	return at
}

func wantCurrent(t *testing.T, a *Adaptive, rate float64, conns int) {
	t.Helper()
	gr, gc := a.Current()
	if gr < rate-1e-9 || gr > rate+1e-9 || gc != conns {
		t.Fatalf("Current = %g/s, %d conns; want %g/s, %d conns", gr, gc, rate, conns)
	}
}

func TestAdaptive_StartsAtCeiling(t *testing.T) {
	a := NewAdaptive(100, 10, AdaptiveConfig{})
	wantCurrent(t, a, 100, 10)
	if a.InBackoff() {
		t.Fatal("starts in backoff")
	}
}

func TestAdaptive_ThrottleHalvesOncePerHold(t *testing.T) {
	a := NewAdaptive(100, 10, AdaptiveConfig{})
	// A run of 421s within one second (pipelined RCPTs, parallel
	// connections) is one signal: the rate halves at once, and only once.
	feed(a, t0, 50*time.Millisecond, 10, throt421)
	wantCurrent(t, a, 50, 5)
	// Another 421 after the hold halves again.
	a.OnReply(throt421, t0.Add(2*time.Second))
	wantCurrent(t, a, 25, 2)
}

func TestAdaptive_Any47xDeferralThrottles(t *testing.T) {
	a := NewAdaptive(100, 10, AdaptiveConfig{})
	a.OnReply(Reply{451, "4.7.650", "rate limited due to IP reputation", false}, t0)
	wantCurrent(t, a, 50, 5)
}

func TestAdaptive_OrdinaryDeferralDoesNotThrottle(t *testing.T) {
	a := NewAdaptive(100, 10, AdaptiveConfig{})
	a.OnReply(defer450, t0)
	a.OnReply(Reply{452, "4.2.2", "over quota", false}, t0)
	wantCurrent(t, a, 100, 10)
}

func TestAdaptive_ConnectFailureThrottles(t *testing.T) {
	a := NewAdaptive(100, 8, AdaptiveConfig{})
	a.OnConnectFailure(t0)
	wantCurrent(t, a, 50, 4)
}

func TestAdaptive_LocalRepliesAreIgnored(t *testing.T) {
	a := NewAdaptive(100, 10, AdaptiveConfig{WindowMinReplies: 1})
	feed(a, t0, time.Second, 100, Reply{421, "4.7.0", "made up here", true})
	wantCurrent(t, a, 100, 10)
	if a.InBackoff() {
		t.Fatal("local replies triggered backoff")
	}
}

func TestAdaptive_NeverBelowFloor(t *testing.T) {
	a := NewAdaptive(100, 10, AdaptiveConfig{MinRate: 5, MinConns: 2})
	feed(a, t0, 2*time.Second, 50, throt421)
	wantCurrent(t, a, 5, 2)
}

func TestAdaptive_ClimbsBackLinearly_NeverAboveCeiling(t *testing.T) {
	a := NewAdaptive(100, 10, AdaptiveConfig{})
	a.OnReply(throt421, t0)
	a.OnReply(throt421, t0.Add(2*time.Second))
	wantCurrent(t, a, 25, 2)
	bad := t0.Add(2 * time.Second)
	// One good reply a second. Every 30s without throttling adds 10% of
	// the ceiling (10/s) and one connection.
	for step := 1; step <= 12; step++ {
		feed(a, bad.Add(time.Duration(step-1)*30*time.Second+time.Second), time.Second, 30, ok250)
		rate, conns := a.Current()
		wantRate := min(25+10*float64(step), 100)
		if rate != wantRate || conns != min(2+step, 10) {
			t.Fatalf("after %d quiet periods: %g/s %d conns, want %g/s %d", step, rate, conns, wantRate, min(2+step, 10))
		}
	}
	// Hours of success later: still the ceiling, not above.
	feed(a, bad.Add(time.Hour), time.Second, 3600, ok250)
	wantCurrent(t, a, 100, 10)
	if dec, inc := a.Throttled(); dec != 2 || inc != 8 {
		t.Errorf("Throttled = %d decreases, %d increases; want 2, 8", dec, inc)
	}
}

func TestAdaptive_ThrottleDuringRecoveryRestartsTheQuietPeriod(t *testing.T) {
	a := NewAdaptive(100, 10, AdaptiveConfig{})
	a.OnReply(throt421, t0)
	at := feed(a, t0.Add(time.Second), time.Second, 29, ok250)
	a.OnReply(throt421, at.Add(time.Second)) // just before the first increase
	wantCurrent(t, a, 25, 2)
	feed(a, at.Add(2*time.Second), time.Second, 29, ok250)
	wantCurrent(t, a, 25, 2)
}

func TestAdaptive_WindowWith30PercentDeferrals_BacksOff(t *testing.T) {
	a := NewAdaptive(100, 8, AdaptiveConfig{})
	// 100 replies over 100 s, three in every ten a plain 4xx deferral: 30%.
	for i := range 100 {
		r := ok250
		if i%10 < 3 {
			r = defer450
		}
		a.OnReply(r, t0.Add(time.Duration(i)*time.Second))
	}
	if !a.InBackoff() {
		t.Fatal("30% deferrals over the window did not trigger backoff")
	}
	wantCurrent(t, a, 25, 2) // backoff caps: a quarter of the ceiling
}

func TestAdaptive_WindowWith20PercentDeferrals_StaysNormal(t *testing.T) {
	a := NewAdaptive(100, 8, AdaptiveConfig{})
	for i := range 200 {
		r := ok250
		if i%10 < 2 {
			r = defer450
		}
		a.OnReply(r, t0.Add(time.Duration(i)*time.Second))
	}
	if a.InBackoff() {
		t.Fatal("20% deferrals triggered backoff (threshold 25%)")
	}
}

func TestAdaptive_OldDeferralsLeaveTheWindow(t *testing.T) {
	a := NewAdaptive(100, 8, AdaptiveConfig{WindowMinReplies: 20})
	// 15 deferrals, then 10 minutes later successes only: the deferrals
	// are out of the 5-minute window, so the share is 0%.
	feed(a, t0, time.Second, 15, defer450)
	feed(a, t0.Add(10*time.Minute), time.Second, 100, ok250)
	if a.InBackoff() {
		t.Fatal("deferrals from outside the window counted")
	}
}

func TestAdaptive_BouncePercentTriggersBackoff(t *testing.T) {
	a := NewAdaptive(100, 8, AdaptiveConfig{})
	for i := range 60 {
		r := ok250
		if i%2 == 0 {
			r = bounce55
		}
		a.OnReply(r, t0.Add(time.Duration(i)*time.Second))
	}
	if !a.InBackoff() {
		t.Fatal("50% bounces did not trigger backoff")
	}
}

func TestAdaptive_BackoffReturnsToNormalAfterQuietPeriod(t *testing.T) {
	cfg := AdaptiveConfig{BackoffToNormalAfter: 10 * time.Minute, BackoffRate: 7, BackoffConns: 3}
	a := NewAdaptive(100, 8, cfg)
	a.Backoff(t0, time.Time{})
	wantCurrent(t, a, 7, 3)
	// Good replies for 9 minutes: still backing off.
	at := feed(a, t0.Add(time.Second), 10*time.Second, 54, ok250)
	if !a.InBackoff() {
		t.Fatalf("backoff ended after %v, before backoff_to_normal_after", at.Sub(t0))
	}
	// A throttle restarts the quiet period.
	a.OnConnectFailure(at.Add(time.Second))
	feed(a, at.Add(2*time.Second), 10*time.Second, 59, ok250) // < 10 min
	if !a.InBackoff() {
		t.Fatal("backoff ended though a connection failed within the quiet period")
	}
	feed(a, at.Add(11*time.Minute), time.Second, 1, ok250)
	if a.InBackoff() {
		t.Fatal("backoff did not end after 10 quiet minutes")
	}
}

func TestAdaptive_BackoffEndsAtItsExpiry(t *testing.T) {
	a := NewAdaptive(100, 8, AdaptiveConfig{BackoffToNormalAfter: time.Hour})
	a.Backoff(t0, t0.Add(15*time.Minute))
	a.OnReply(throt421, t0.Add(14*time.Minute))
	a.OnReply(ok250, t0.Add(14*time.Minute+30*time.Second))
	if !a.InBackoff() {
		t.Fatal("ended before its expiry")
	}
	a.OnReply(ok250, t0.Add(15*time.Minute))
	if a.InBackoff() {
		t.Fatal("did not end at its expiry")
	}
}

func TestAdaptive_SetCeilingClampsCurrent(t *testing.T) {
	a := NewAdaptive(100, 10, AdaptiveConfig{})
	a.SetCeiling(40, 4)
	wantCurrent(t, a, 40, 4)
	feed(a, t0, time.Second, 600, ok250)
	wantCurrent(t, a, 40, 4)
}

func TestAdaptive_UnlimitedRate_AdaptsConnectionsOnly(t *testing.T) {
	a := NewAdaptive(0, 10, AdaptiveConfig{})
	a.OnReply(throt421, t0)
	wantCurrent(t, a, 0, 5)
}

func TestAdaptiveConfig_Validate(t *testing.T) {
	tests := []struct {
		name string
		cfg  AdaptiveConfig
		ok   bool
	}{
		{"zero is the defaults", AdaptiveConfig{}, true},
		{"factor 1 never decreases", AdaptiveConfig{DecreaseFactor: 1}, false},
		{"negative rate", AdaptiveConfig{MinRate: -1}, false},
		{"negative window", AdaptiveConfig{Window: -time.Second}, false},
		{"percent over 100", AdaptiveConfig{DeferralPercent: 150}, false},
		{"negative percent disables", AdaptiveConfig{BouncePercent: -1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
