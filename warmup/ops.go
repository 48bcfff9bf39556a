package warmup

import (
	"fmt"
	"time"
)

// Pause freezes vmta's step for group ("" for every group): each day's end
// holds it until Resume. Mail still flows at the current step's cap (to stop
// it, disable the vmta).
func (t *Tracker) Pause(now time.Time, vmta, group string) error {
	return t.operate(now, vmta, group, func(s *State) Decision {
		s.Paused = true
		return Decision{Action: ActionHold, Reason: "paused by operator", From: s.Step, To: s.Step}
	})
}

// Resume undoes Pause for group ("" for every group).
func (t *Tracker) Resume(now time.Time, vmta, group string) error {
	return t.operate(now, vmta, group, func(s *State) Decision {
		s.Paused = false
		return Decision{Action: ActionHold, Reason: "resumed by operator", From: s.Step, To: s.Step}
	})
}

// AdvanceManually moves vmta's step for group ("" for every group) one step
// on at once, whatever the day's health; today's count stays.
func (t *Tracker) AdvanceManually(now time.Time, vmta, group string) error {
	return t.operate(now, vmta, group, func(s *State) Decision {
		return Decision{Action: ActionAdvance, Reason: "advanced by operator", From: s.Step, To: s.Step + 1}
	})
}

// Reset puts vmta back on day 1 for group ("" for every group) and clears
// today's counters and the pause.
func (t *Tracker) Reset(now time.Time, vmta, group string) error {
	return t.operate(now, vmta, group, func(s *State) Decision {
		s.Today, s.Paused = DayStats{}, false
		return Decision{Action: ActionStepBack, Reason: "reset to day 1 by operator", From: s.Step, To: 0}
	})
}

// operate applies op to vmta's state for group, or for every group when
// group is "", and records and emits the decisions.
func (t *Tracker) operate(now time.Time, vmta, group string, op func(*State) Decision) error {
	v := t.vmtas[vmta]
	if v == nil {
		return fmt.Errorf("%w: %s", ErrUnknownVMTA, vmta)
	}
	groups := []string{group}
	if group == "" {
		groups = t.Groups()
	} else if !t.knownGroup(group) {
		return fmt.Errorf("%w: %s", ErrUnknownGroup, group)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, g := range groups {
		s := t.state(v, vmta, g, now)
		d := op(s)
		d.Day = s.Day
		d.To = min(d.To, v.plan.Steps(g))
		s.Step, s.Last = d.To, d
		v.dirty[g] = true
		t.emit(vmta, g, d)
	}
	return nil
}
