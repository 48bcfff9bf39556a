package warmup

import "time"

// Gate adapts a Tracker to the pools package's Headroom seam, whose
// HasHeadroom takes no time: Now is the engine's injected clock. Build one
// per Tracker and keep it (a *Gate in an interface does not allocate).
//
// Gate answers pools' question "may this member be picked?", which depends on
// the plan's overflow rule: a vmta whose plan says OverflowPool is skipped
// when at its cap, so the other members take its mail; a vmta whose plan says
// OverflowHold stays eligible, so its mail keeps coming to it and the
// engine's Reserve refusal holds it until Reservation.Until.
type Gate struct {
	Tracker *Tracker
	// Now is the clock (the engine's Deps.Clock).
	Now func() time.Time
}

// HasHeadroom implements pools.Headroom.
func (g *Gate) HasHeadroom(vmta, site string) bool {
	t := g.Tracker
	if v := t.vmtas[vmta]; v != nil && v.plan.Overflow == OverflowHold {
		return true
	}
	return t.HasHeadroomAt(g.Now(), vmta, site)
}
