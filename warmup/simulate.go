package warmup

import (
	"time"
)

// DayReport is one line of `sluice warmup simulate`: one receiver group on
// one simulated day.
type DayReport struct {
	// Day is the simulated calendar day, from 1.
	Day int `json:"day"`
	// Date is that day, YYYY-MM-DD, counted from the simulation's start.
	Date string `json:"date"`
	// Group is the receiver group.
	Group string `json:"group"`
	// Step is the 1-based warm-up day the group was on.
	Step int `json:"step"`
	// Cap is that day's cap, or Unlimited.
	Cap int `json:"cap"`
	// Demand is the mail offered: the day's volume plus mail held from
	// earlier days (OverflowHold).
	Demand int `json:"demand"`
	// Sent is what the cap let through.
	Sent int `json:"sent"`
	// Overflowed is mail sent through other pool members instead
	// (OverflowPool).
	Overflowed int `json:"overflowed"`
	// Held is mail carried to the next day (OverflowHold).
	Held int `json:"held"`
	// Decision is the day-end decision.
	Decision Decision `json:"decision"`
}

// simStart is the first simulated day: a fixed date keeps output stable.
var simStart = time.Date(2026, time.January, 5, 0, 0, 0, 0, time.UTC)

// Simulate runs plan for days days, one vmta sending volumePerDay recipients
// a day to each receiver group the plan has a curve for (Other, which uses
// the plan's own curve, and every group in plan.Groups). volumePerDay <= 0
// sends exactly each day's cap (nothing once uncapped). health gives each
// day's receiver verdicts from the day (from 1) and what was sent; its Sent is
// ignored; nil means a clean day. It is pure: the same input gives the same
// report. The plan gets its defaults; the error is Validate's.
func Simulate(plan Plan, days, volumePerDay int, health func(day, sent int) DayStats) ([]DayReport, error) {
	plan.Groups = cloneGroups(plan.Groups)
	if plan.Doubling != nil {
		d := *plan.Doubling
		plan.Doubling = &d
	}
	plan.SetDefaults()
	known := Groups{}
	for g := range plan.Groups {
		known[g] = nil
	}
	if err := plan.Validate(known); err != nil {
		return nil, err
	}
	groups := append(sortedKeys(plan.Groups), Other)
	if _, ok := plan.Groups[Other]; ok {
		groups = groups[:len(groups)-1]
	}
	loc := plan.loc()
	y, m, d := simStart.Date()
	states := make([]State, len(groups))
	held := make([]int, len(groups))
	var out []DayReport
	for day := 1; day <= days; day++ {
		// NB: late in the local day, so an hourly spread has released the
		// whole cap (To <= 24).
		now := time.Date(y, m, d+day-1, 23, 30, 0, 0, loc)
		for i, g := range groups {
			s := &states[i]
			s.roll(&plan, g, now)
			r := DayReport{Day: day, Date: s.Day, Group: g, Step: s.Step + 1, Cap: plan.Cap(g, s.Step)}
			r.Demand = volumePerDay + held[i]
			if volumePerDay <= 0 {
				r.Demand = max(r.Cap, 0)
			}
			r.Sent = s.reserve(&plan, g, now, r.Demand)
			if rest := r.Demand - r.Sent; plan.Overflow == OverflowHold && volumePerDay > 0 {
				r.Held, held[i] = rest, rest
			} else {
				r.Overflowed = rest
			}
			if health != nil {
				v := health(day, r.Sent)
				s.Today.Deferred, s.Today.Bounced, s.Today.Complaints = v.Deferred, v.Bounced, v.Complaints
			}
			r.Decision = s.closeDay(&plan, g)
			// closeDay judged today; the next roll starts the next day
			// without judging it again.
			s.Day, s.Today = "", DayStats{}
			out = append(out, r)
		}
	}
	return out, nil
}

func cloneGroups(m map[string]GroupPlan) map[string]GroupPlan {
	if m == nil {
		return nil
	}
	out := make(map[string]GroupPlan, len(m))
	for k, g := range m {
		if g.Doubling != nil {
			d := *g.Doubling
			g.Doubling = &d
		}
		out[k] = g
	}
	return out
}
