package warmup

import (
	"strings"
	"testing"
)

func TestAdvance_HealthGating(t *testing.T) {
	var rules HealthRules
	rules.SetDefaults() // hold 5%/2%/0.1%, step back 20%/5%/0.3%
	tests := []struct {
		name     string
		state    State
		day      DayStats
		rules    *HealthRules
		action   Action
		to       int
		inReason []string
	}{
		{"clean day advances", State{Step: 3}, DayStats{Sent: 1000, Deferred: 10, Bounced: 5}, nil,
			ActionAdvance, 4, []string{"healthy", "deferral 1.00%", "bounce 0.50%"}},
		{"deferrals at hold threshold hold", State{Step: 3}, DayStats{Sent: 1000, Deferred: 50}, nil,
			ActionHold, 3, []string{"deferral rate 5.00% (50/1000) at or above hold 5.00%"}},
		{"complaints hold", State{Step: 3}, DayStats{Sent: 10000, Complaints: 15}, nil,
			ActionHold, 3, []string{"complaint rate 0.15%"}},
		{"bad bounces step back", State{Step: 3}, DayStats{Sent: 1000, Bounced: 60}, nil,
			ActionStepBack, 2, []string{"bad day", "bounce rate 6.00% (60/1000) at or above step-back 5.00%"}},
		{"every reason is listed", State{Step: 3}, DayStats{Sent: 100, Deferred: 30, Bounced: 10}, nil,
			ActionStepBack, 2, []string{"deferral rate 30.00%", "bounce rate 10.00%"}},
		{"bad day on day 1 holds", State{Step: 0}, DayStats{Sent: 100, Deferred: 50}, nil,
			ActionHold, 0, []string{"already at day 1"}},
		{"step back several steps", State{Step: 5}, DayStats{Sent: 100, Bounced: 50},
			&HealthRules{Hold: rules.Hold, StepBack: rules.StepBack, StepBackSteps: 3}, ActionStepBack, 2, nil},
		{"paused holds a clean day", State{Step: 3, Paused: true}, DayStats{Sent: 1000}, nil,
			ActionHold, 3, []string{"paused by operator"}},
		{"small day is not judged", State{Step: 1}, DayStats{Sent: 5, Bounced: 5},
			&HealthRules{Hold: rules.Hold, StepBack: rules.StepBack, StepBackSteps: 1, MinSent: 20}, ActionAdvance, 2,
			[]string{"below min_sent 20"}},
		{"failures with nothing sent are 100%", State{Step: 2}, DayStats{Deferred: 3}, nil,
			ActionStepBack, 1, []string{"deferral rate 100.00% (3/0)"}},
		{"a day without mail advances", State{Step: 2}, DayStats{}, nil, ActionAdvance, 3, []string{"0 sent"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rules
			if tt.rules != nil {
				r = *tt.rules
			}
			tt.state.Day = "2026-03-01"
			d := Advance(tt.state, tt.day, r)
			if d.Action != tt.action || d.From != tt.state.Step || d.To != tt.to || d.Day != "2026-03-01" {
				t.Errorf("Advance = %+v, want %s from %d to %d", d, tt.action, tt.state.Step, tt.to)
			}
			if d.Reason == "" {
				t.Error("decision without a reason")
			}
			for _, s := range tt.inReason {
				if !strings.Contains(d.Reason, s) {
					t.Errorf("reason %q lacks %q", d.Reason, s)
				}
			}
		})
	}
}
