package warmup

import (
	"fmt"
	"time"
)

// dayLayout is the layout of day keys: a date in the plan's time zone.
const dayLayout = "2006-01-02"

// State is the warm-up state of one (vmta, receiver group): its step and
// today's counters. It is plain data with JSON tags so the engine can persist
// it in the spool (see Tracker.Changed) and hand it back after a restart
// (Tracker.Restore).
type State struct {
	// Step is the 0-based warm-up step: the day of the curve the pair is on
	// (step 0 is day 1). Past the curve's end there is no cap.
	Step int `json:"step"`
	// Day is the day the counters belong to, YYYY-MM-DD in the plan's time
	// zone.
	Day string `json:"day"`
	// Today holds the day's counters: Sent counts every reservation not
	// released, including those still in flight.
	Today DayStats `json:"today"`
	// Paused freezes the step: each day's end holds it. Sending goes on at
	// the step's cap.
	Paused bool `json:"paused,omitempty"`
	// Last is the latest decision about the step.
	Last Decision `json:"last"`
}

// dayKey is the day now falls on in loc.
func dayKey(now time.Time, loc *time.Location) string {
	return now.In(loc).Format(dayLayout)
}

// daysBetween is the number of calendar days from day a to day b (b after a
// gives a positive count); both are day keys.
func daysBetween(a, b string) (int, error) {
	ta, err := time.Parse(dayLayout, a)
	if err != nil {
		return 0, fmt.Errorf("warmup: day %q: %w", a, err)
	}
	tb, err := time.Parse(dayLayout, b)
	if err != nil {
		return 0, fmt.Errorf("warmup: day %q: %w", b, err)
	}
	// NB: parsed in UTC, so every day is exactly 24h: no DST arithmetic.
	return int(tb.Sub(ta) / (24 * time.Hour)), nil
}

// roll closes the state's day when now falls on a later day in the plan's
// zone: it judges the closed day (Advance), counts the days without mail in
// between, and starts today's counters. It returns the decisions made, nil
// when the day has not changed. A clock that goes back never reopens a day.
func (s *State) roll(p *Plan, group string, now time.Time) []Decision {
	today := dayKey(now, p.loc())
	if s.Day == "" {
		s.Day = today
		return nil
	}
	if today <= s.Day {
		return nil
	}
	gap, err := daysBetween(s.Day, today)
	if err != nil { // a corrupt day key (hand-edited state): start afresh today
		gap = 1
	}
	decs := []Decision{s.closeDay(p, group)}
	if idle := gap - 1; idle > 0 && !p.CountSendingDays && !s.Paused {
		prev, _ := time.Parse(dayLayout, today)
		d := Decision{Action: ActionAdvance, Day: prev.AddDate(0, 0, -1).Format(dayLayout), From: s.Step}
		d.To = min(s.Step+idle, p.Steps(group))
		d.Reason = fmt.Sprintf("%d calendar day(s) without mail count as warm-up days", idle)
		s.Step, s.Last = d.To, d
		decs = append(decs, d)
	}
	s.Day, s.Today = today, DayStats{}
	return decs
}

// closeDay judges the state's current day and applies the decision.
func (s *State) closeDay(p *Plan, group string) Decision {
	var d Decision
	if p.CountSendingDays && s.Today.Sent == 0 && !s.Paused {
		d = Decision{Action: ActionHold, Day: s.Day, From: s.Step, To: s.Step,
			Reason: "no mail sent: only sending days count"}
	} else {
		d = Advance(*s, s.Today, p.Health)
	}
	if last := p.Steps(group); d.To > last {
		d.To = last
		d.Reason += "; plan complete: no cap"
	}
	s.Step, s.Last = d.To, d
	return d
}

// reserve counts up to n recipients against the cap due by now and returns
// how many it counted (0 when there is no headroom). The day must be rolled.
func (s *State) reserve(p *Plan, group string, now time.Time, n int) int {
	if n <= 0 {
		return 0
	}
	allowed := p.Allowed(group, s.Step, now)
	if allowed != Unlimited {
		n = min(n, allowed-s.Today.Sent)
	}
	if n <= 0 {
		return 0
	}
	s.Today.Sent += n
	return n
}

// headroom is how many more recipients the cap allows by now, or Unlimited.
// The day must be rolled.
func (s *State) headroom(p *Plan, group string, now time.Time) int {
	allowed := p.Allowed(group, s.Step, now)
	if allowed == Unlimited {
		return Unlimited
	}
	return max(0, allowed-s.Today.Sent)
}

// nextWindow is when more headroom opens after now, for a state without
// any: the next local hour whose spread share is above Sent, or the start of
// the next day's sending hours. The day must be rolled.
func (s *State) nextWindow(p *Plan, group string, now time.Time) time.Time {
	loc := p.loc()
	l := now.In(loc)
	y, m, d := l.Date()
	if p.HourlySpread {
		c := p.Cap(group, s.Step)
		for h := l.Hour() + 1; h < p.SendingHours.To; h++ {
			if spread(c, p.SendingHours, h) > s.Today.Sent {
				return time.Date(y, m, d, h, 0, 0, 0, loc)
			}
		}
		return time.Date(y, m, d+1, p.SendingHours.From, 0, 0, 0, loc)
	}
	return time.Date(y, m, d+1, 0, 0, 0, 0, loc)
}
