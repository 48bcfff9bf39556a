package warmup

import (
	"fmt"
	"strings"
)

// Action is what a day's end does to a warm-up step.
type Action string

const (
	// ActionAdvance moves to the next step (a larger cap).
	ActionAdvance Action = "advance"
	// ActionHold keeps the step.
	ActionHold Action = "hold"
	// ActionStepBack moves back (a smaller cap).
	ActionStepBack Action = "step-back"
)

// Decision is one change (or non-change) of a warm-up step, with its reason.
// Every day's end and every operator action makes one.
type Decision struct {
	// Action is what happened to the step.
	Action Action `json:"action"`
	// Reason says why, with the figures that decided it.
	Reason string `json:"reason"`
	// Day is the day judged, YYYY-MM-DD in the plan's time zone (for operator
	// actions, the day of the action).
	Day string `json:"day"`
	// From and To are the 0-based steps before and after.
	From int `json:"from"`
	To   int `json:"to"`
}

// DayStats are one day's figures for one (vmta, receiver group).
type DayStats struct {
	// Sent is recipients counted against the cap (reserved and not released).
	Sent int `json:"sent"`
	// Deferred is recipients the receiver answered with a temporary failure.
	Deferred int `json:"deferred"`
	// Bounced is recipients the receiver answered with a permanent failure.
	Bounced int `json:"bounced"`
	// Complaints is feedback-loop complaints received that day.
	Complaints int `json:"complaints"`
}

// rate is n out of the day's Sent, in [0, 1]; any n with nothing sent is 1.
func (d DayStats) rate(n int) float64 {
	switch {
	case n <= 0:
		return 0
	case n >= d.Sent:
		return 1
	}
	return float64(n) / float64(d.Sent)
}

// Rates are thresholds on a day's deferral, bounce and complaint rates, each
// a fraction of the day's Sent in (0, 1].
type Rates struct {
	// Deferral is the deferred fraction.
	Deferral float64
	// Bounce is the bounced fraction.
	Bounce float64
	// Complaint is the complaint fraction.
	Complaint float64
}

// HealthRules decide, at each day's end, whether a (vmta, group) advances.
// A day advances when every rate is below Hold; holds when one is at or above
// Hold; steps back when one is at or above StepBack.
type HealthRules struct {
	// Hold are the rates at or above which the step holds. Defaults:
	// deferral 0.05, bounce 0.02, complaint 0.001.
	Hold Rates
	// StepBack are the rates at or above which the step goes back (a bad
	// day); each at least its Hold rate. Defaults: deferral 0.20, bounce
	// 0.05, complaint 0.003.
	StepBack Rates
	// StepBackSteps is how many steps a bad day goes back. Default 1.
	StepBackSteps int
	// MinSent is the fewest recipients a day needs for its rates to be
	// judged; a smaller day advances unjudged. Default 0: every day is judged.
	MinSent int
}

// SetDefaults fills the zero fields that have defaults.
func (r *HealthRules) SetDefaults() {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&r.Hold.Deferral, 0.05)
	def(&r.Hold.Bounce, 0.02)
	def(&r.Hold.Complaint, 0.001)
	def(&r.StepBack.Deferral, 0.20)
	def(&r.StepBack.Bounce, 0.05)
	def(&r.StepBack.Complaint, 0.003)
	if r.StepBackSteps == 0 {
		r.StepBackSteps = 1
	}
}

// Validate checks the rules after SetDefaults; fields are relative to the
// plan ("health.hold.deferral").
func (r *HealthRules) Validate() error {
	checks := []struct {
		field     string
		hold, bad float64
	}{
		{"deferral", r.Hold.Deferral, r.StepBack.Deferral},
		{"bounce", r.Hold.Bounce, r.StepBack.Bounce},
		{"complaint", r.Hold.Complaint, r.StepBack.Complaint},
	}
	for _, c := range checks {
		switch {
		case !(c.hold > 0 && c.hold <= 1):
			return fieldErr("health.hold."+c.field, "rate %v outside (0, 1]", c.hold)
		case !(c.bad > 0 && c.bad <= 1):
			return fieldErr("health.step_back."+c.field, "rate %v outside (0, 1]", c.bad)
		case c.bad < c.hold:
			return fieldErr("health.step_back."+c.field, "rate %v is below the hold rate %v", c.bad, c.hold)
		}
	}
	if r.StepBackSteps < 1 {
		return fieldErr("health.step_back_steps", "%d is below 1", r.StepBackSteps)
	}
	if r.MinSent < 0 {
		return fieldErr("health.min_sent", "%d is negative", r.MinSent)
	}
	return nil
}

// Advance judges the day s has just finished, with its figures d, under
// rules r, and returns the decision: step back after a bad day, hold after a
// poor one or while paused, advance otherwise. To is not clamped to the end
// of the plan (the caller knows the curve); it is never below 0.
func Advance(s State, d DayStats, r HealthRules) Decision {
	dec := Decision{Day: s.Day, From: s.Step, To: s.Step}
	if s.Paused {
		dec.Action, dec.Reason = ActionHold, "paused by operator"
		return dec
	}
	if d.Sent < r.MinSent {
		dec.Action, dec.To = ActionAdvance, s.Step+1
		dec.Reason = fmt.Sprintf("%d sent, below min_sent %d: rates not judged", d.Sent, r.MinSent)
		return dec
	}
	if over := d.over(r.StepBack, "step-back"); over != "" {
		dec.To = max(0, s.Step-r.StepBackSteps)
		if dec.To == dec.From {
			dec.Action, dec.Reason = ActionHold, "bad day: "+over+" (already at day 1)"
			return dec
		}
		dec.Action, dec.Reason = ActionStepBack, "bad day: "+over
		return dec
	}
	if over := d.over(r.Hold, "hold"); over != "" {
		dec.Action, dec.Reason = ActionHold, over
		return dec
	}
	dec.Action, dec.To = ActionAdvance, s.Step+1
	dec.Reason = fmt.Sprintf("healthy: %d sent, deferral %s, bounce %s, complaint %s, all below hold",
		d.Sent, pct(d.rate(d.Deferred)), pct(d.rate(d.Bounced)), pct(d.rate(d.Complaints)))
	return dec
}

// over lists the rates of d at or above limits ("" when none is).
func (d DayStats) over(limits Rates, name string) string {
	var b strings.Builder
	add := func(what string, n int, limit float64) {
		r := d.rate(n)
		if r < limit {
			return
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s rate %s (%d/%d) at or above %s %s", what, pct(r), n, d.Sent, name, pct(limit))
	}
	add("deferral", d.Deferred, limits.Deferral)
	add("bounce", d.Bounced, limits.Bounce)
	add("complaint", d.Complaints, limits.Complaint)
	return b.String()
}

func pct(r float64) string { return fmt.Sprintf("%.2f%%", r*100) }
