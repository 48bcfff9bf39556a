package feedback

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// AdaptiveConfig tunes an Adaptive. The zero value means the defaults
// (SetDefaults); fields that are relative to the ceiling say so.
type AdaptiveConfig struct {
	// DecreaseFactor multiplies the rate and the connection count on a
	// throttling signal. In (0, 1); default 0.5.
	DecreaseFactor float64
	// DecreaseHold is the least time between two decreases: a run of 421s
	// from pipelined RCPTs or parallel connections is one signal, not ten.
	// Default 1s.
	DecreaseHold time.Duration
	// MinRate is the floor of the rate, in messages per second. Default 2%
	// of the ceiling.
	MinRate float64
	// MinConns is the floor of the connection count. Default 1.
	MinConns int
	// IncreaseEvery is how long the (vmta, site) must go without a
	// throttling signal before each additive increase. Default 30s.
	IncreaseEvery time.Duration
	// IncreaseRate is the rate added per increase, in messages per second.
	// Default 10% of the ceiling.
	IncreaseRate float64
	// IncreaseConns is the connections added per increase. Default 1.
	IncreaseConns int
	// Window is the span of the sliding window over which deferral and
	// bounce percentages are judged. Default 5m.
	Window time.Duration
	// WindowMinReplies is the fewest replies in the window before the
	// percentages are judged. Default 50.
	WindowMinReplies int
	// DeferralPercent is the share of 4xx replies in the window, in percent,
	// that puts the (vmta, site) in backoff. Default 25; negative disables.
	DeferralPercent float64
	// BouncePercent is the share of 5xx replies in the window, in percent,
	// that puts the (vmta, site) in backoff. Default 20; negative disables.
	BouncePercent float64
	// BackoffRate is the rate cap in backoff, in messages per second.
	// Default 25% of the ceiling.
	BackoffRate float64
	// BackoffConns is the connection cap in backoff. Default a quarter of
	// the ceiling, at least 1.
	BackoffConns int
	// BackoffToNormalAfter is how long a backoff must see only good replies
	// (no throttling, no connection failure, no window trigger) before it
	// ends on its own (backoff_to_normal_after). Default 30m.
	BackoffToNormalAfter time.Duration
}

// SetDefaults fills the zero fields that have absolute defaults; the ones
// relative to the ceiling are resolved by NewAdaptive.
func (c *AdaptiveConfig) SetDefaults() {
	setDefault(&c.DecreaseFactor, 0.5)
	setDefault(&c.DecreaseHold, time.Second)
	setDefault(&c.MinConns, 1)
	setDefault(&c.IncreaseEvery, 30*time.Second)
	setDefault(&c.IncreaseConns, 1)
	setDefault(&c.Window, 5*time.Minute)
	setDefault(&c.WindowMinReplies, 50)
	setDefault(&c.DeferralPercent, 25)
	setDefault(&c.BouncePercent, 20)
	setDefault(&c.BackoffToNormalAfter, 30*time.Minute)
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// Validate reports the first field out of range.
func (c *AdaptiveConfig) Validate() error {
	var bad []string
	if c.DecreaseFactor < 0 || c.DecreaseFactor >= 1 {
		bad = append(bad, fmt.Sprintf("decrease factor %g not in (0, 1)", c.DecreaseFactor))
	}
	if c.MinRate < 0 || c.IncreaseRate < 0 || c.BackoffRate < 0 {
		bad = append(bad, "rates must not be negative")
	}
	if c.MinConns < 0 || c.IncreaseConns < 0 || c.BackoffConns < 0 || c.WindowMinReplies < 0 {
		bad = append(bad, "counts must not be negative")
	}
	if c.DecreaseHold < 0 || c.IncreaseEvery < 0 || c.Window < 0 || c.BackoffToNormalAfter < 0 {
		bad = append(bad, "durations must not be negative")
	}
	if c.DeferralPercent > 100 || c.BouncePercent > 100 {
		bad = append(bad, "percentages must be at most 100")
	}
	if len(bad) > 0 {
		return fmt.Errorf("feedback: adaptive: %s", strings.Join(bad, "; "))
	}
	return nil
}

// Adaptive is the allowed sending rate and connection count of one
// (vmta, site), adapted to what the receiver says (AIMD):
//
//   - a throttling reply (421, or any 4.7.x) or a refused connection cuts
//     both multiplicatively (DecreaseFactor), at most once per
//     DecreaseHold, never below MinRate and MinConns;
//   - after each IncreaseEvery without such a signal, a 2xx adds
//     IncreaseRate and IncreaseConns, never above the ceiling;
//   - when the share of 4xx (DeferralPercent) or 5xx (BouncePercent)
//     replies over the sliding Window is too high, or Backoff is called
//     (a pattern rule's backoff action), the (vmta, site) enters backoff:
//     Current is capped at BackoffRate and BackoffConns until
//     BackoffToNormalAfter passes with only good replies, or the backoff's
//     expiry passes.
//
// Adaptive is pure: no goroutines, no clock (every event carries its
// time), no locks; its owner (the goroutine of the (vmta, site)) calls it.
// Its state changes only on events, so Current after a long silence is what
// it was at the last event. Local replies are ignored: they say nothing
// about the receiver.
type Adaptive struct {
	cfg                  AdaptiveConfig
	ceilRate             float64 // 0: no rate limit
	ceilConns            int
	rate                 float64
	conns                int
	lastDecrease         time.Time // zero: never
	lastChange           time.Time // last decrease or increase
	lastBad              time.Time
	backoff              bool
	backoffSince         time.Time
	backoffUntil         time.Time // zero: until good replies end it
	win                  window
	decreases, increases int
}

// NewAdaptive returns an Adaptive at its ceiling: ceilingRate messages per
// second (0 for no rate limit: then only the connection count adapts,
// unless cfg.BackoffRate caps it in backoff) and ceilingConns connections
// (at least 1). cfg is completed with SetDefaults; values out of range are
// replaced by the defaults (Validate reports them at config load).
func NewAdaptive(ceilingRate float64, ceilingConns int, cfg AdaptiveConfig) *Adaptive {
	if cfg.Validate() != nil {
		cfg = AdaptiveConfig{}
	}
	cfg.SetDefaults()
	a := &Adaptive{cfg: cfg}
	a.SetCeiling(ceilingRate, ceilingConns)
	a.rate, a.conns = a.ceilRate, a.ceilConns
	a.win.init(cfg.Window)
	return a
}

// SetCeiling changes the configured ceiling (on reload), keeping the current
// values where they are below it.
func (a *Adaptive) SetCeiling(rate float64, conns int) {
	a.ceilRate, a.ceilConns = math.Max(rate, 0), max(conns, 1)
	a.rate, a.conns = math.Min(a.rate, a.ceilRate), min(a.conns, a.ceilConns)
}

// Current returns the allowed rate (messages per second, 0 for no limit)
// and connection count.
func (a *Adaptive) Current() (rate float64, conns int) {
	rate, conns = a.rate, a.conns
	if a.backoff {
		if br := a.backoffRate(); br > 0 && (rate == 0 || br < rate) {
			rate = br
		}
		conns = min(conns, a.backoffConns())
	}
	return rate, conns
}

// InBackoff reports whether the (vmta, site) is in backoff.
func (a *Adaptive) InBackoff() bool { return a.backoff }

// Throttled reports how many multiplicative decreases and additive
// increases have happened, for metrics.
func (a *Adaptive) Throttled() (decreases, increases int) { return a.decreases, a.increases }

// OnReply feeds one reply (one per recipient, and the replies to
// MAIL/DATA that concern the whole transaction) at time now.
func (a *Adaptive) OnReply(r Reply, now time.Time) {
	if r.Local || r.Code == 0 {
		return
	}
	a.win.add(now, r.Code/100)
	switch {
	case throttling(r):
		a.bad(now)
		a.decrease(now)
	case r.Code/100 == 2:
		a.good(now)
	}
	a.judgeWindow(now)
}

// OnConnectFailure feeds a refused, reset or timed-out connection attempt
// (before any reply) at time now: a throttling signal.
func (a *Adaptive) OnConnectFailure(now time.Time) {
	a.bad(now)
	a.decrease(now)
}

// Backoff puts the (vmta, site) in backoff from now. until is the latest
// it lasts (a backoff action's expiry); zero means until
// BackoffToNormalAfter of good replies. A later until extends a running
// backoff.
func (a *Adaptive) Backoff(now, until time.Time) {
	if !a.backoff {
		a.backoff, a.backoffSince, a.backoffUntil = true, now, until
	} else if until.IsZero() || (!a.backoffUntil.IsZero() && until.After(a.backoffUntil)) {
		a.backoffUntil = until
	}
	a.lastBad = now
	a.win.reset()
}

// throttling reports whether r asks the sender to slow down.
func throttling(r Reply) bool {
	return r.Code == 421 || (r.Code/100 == 4 && strings.HasPrefix(r.Enhanced, "4.7."))
}

func (a *Adaptive) bad(now time.Time) { a.lastBad = now }

// decrease cuts rate and connections, at most once per DecreaseHold.
func (a *Adaptive) decrease(now time.Time) {
	if !a.lastDecrease.IsZero() && now.Sub(a.lastDecrease) < a.cfg.DecreaseHold {
		return
	}
	a.lastDecrease, a.lastChange = now, now
	if a.ceilRate > 0 {
		a.rate = math.Max(a.rate*a.cfg.DecreaseFactor, a.minRate())
	}
	a.conns = max(int(float64(a.conns)*a.cfg.DecreaseFactor), min(a.cfg.MinConns, a.ceilConns))
	a.decreases++
}

// good handles a 2xx: an additive increase once the quiet period has
// passed, and the end of a backoff that has seen only good replies.
func (a *Adaptive) good(now time.Time) {
	if a.backoff {
		quietSince := a.backoffSince
		if a.lastBad.After(quietSince) {
			quietSince = a.lastBad
		}
		expired := !a.backoffUntil.IsZero() && !now.Before(a.backoffUntil)
		if expired || now.Sub(quietSince) >= a.cfg.BackoffToNormalAfter {
			a.backoff = false
		}
	}
	if a.rate >= a.ceilRate && a.conns >= a.ceilConns {
		return
	}
	if now.Sub(a.lastChange) < a.cfg.IncreaseEvery || now.Sub(a.lastBad) < a.cfg.IncreaseEvery {
		return
	}
	a.lastChange = now
	a.rate = math.Min(a.rate+a.increaseRate(), a.ceilRate)
	a.conns = min(a.conns+a.cfg.IncreaseConns, a.ceilConns)
	a.increases++
}

// judgeWindow enters backoff when the window's deferral or bounce share
// is over its threshold.
func (a *Adaptive) judgeWindow(now time.Time) {
	total, deferred, bounced := a.win.sum(now)
	if total == 0 || total < a.cfg.WindowMinReplies {
		return
	}
	over := func(n int, pct float64) bool { return pct >= 0 && float64(n)*100 >= pct*float64(total) }
	if over(deferred, a.cfg.DeferralPercent) || over(bounced, a.cfg.BouncePercent) {
		a.Backoff(now, time.Time{})
	}
}

func (a *Adaptive) minRate() float64 {
	if a.cfg.MinRate > 0 {
		return math.Min(a.cfg.MinRate, a.ceilRate)
	}
	return a.ceilRate * 0.02
}

func (a *Adaptive) increaseRate() float64 {
	if a.cfg.IncreaseRate > 0 {
		return a.cfg.IncreaseRate
	}
	return a.ceilRate * 0.1
}

func (a *Adaptive) backoffRate() float64 {
	if a.cfg.BackoffRate > 0 {
		return a.cfg.BackoffRate
	}
	return a.ceilRate * 0.25
}

func (a *Adaptive) backoffConns() int {
	if a.cfg.BackoffConns > 0 {
		return a.cfg.BackoffConns
	}
	return max(a.ceilConns/4, 1)
}
