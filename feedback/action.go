package feedback

import "time"

// ActionKind is what a pattern rule does to the (vmta, site) whose
// receiver sent the matching reply.
type ActionKind string

// The actions. Each lasts for its rule's duration, then lapses on its own;
// an operator may lift it earlier.
const (
	// ActionBackoff switches the (vmta, site) to its backoff limits (fewer
	// connections, a lower rate). It also ends early, after
	// backoff_to_normal_after of good replies (see Adaptive).
	ActionBackoff ActionKind = "backoff"
	// ActionSuspend stops delivery on the (vmta, site); its mail stays queued.
	ActionSuspend ActionKind = "suspend"
	// ActionDisableSourceIP stops using the vmta (its source IP) for the
	// site; pools route the site's mail through other members meanwhile.
	ActionDisableSourceIP ActionKind = "disable-source-ip"
	// ActionBounceAll bounces every recipient queued for the (vmta, site),
	// and any that arrives before the action lapses, with the reply that
	// triggered it.
	ActionBounceAll ActionKind = "bounce-all"
)

// Valid reports whether k is one of the named actions.
func (k ActionKind) Valid() bool {
	switch k {
	case ActionBackoff, ActionSuspend, ActionDisableSourceIP, ActionBounceAll:
		return true
	}
	return false
}

// Action is a decision about a (vmta, site), with why and for how long. The
// engine records it (for the API and the event stream), applies it, and
// drops it once Expired or lifted.
type Action struct {
	// Kind is what to do.
	Kind ActionKind
	// Duration is how long it lasts: Expiry - Start.
	Duration time.Duration
	// Cause names the rule's source and the reply that matched it.
	Cause string
	// Group is the receiver group whose rule matched.
	Group string
	// Start is when the reply arrived; Expiry is when the action lapses.
	Start, Expiry time.Time
}

// Expired reports whether the action has lapsed at now.
func (a *Action) Expired(now time.Time) bool { return !now.Before(a.Expiry) }

// Decide classifies a reply from a site of receiver group group (see
// Rules.Group) and returns the action its first matching rule calls for,
// or nil. Rules of the group come first, then those of GroupOther. A 2xx,
// a local reply (made up by the sender, not said by the receiver) and a
// connection failure (Code 0) never yield an action.
func Decide(group string, r Reply, rules *Rules, now time.Time) (Category, *Action) {
	if group == "" {
		group = GroupOther
	}
	c, rule := match(group, r, rules)
	if rule == nil || rule.Action == "" || r.Local || r.Code == 0 {
		return c, nil
	}
	cause := r.String()
	if rule.Source != "" {
		cause = rule.Source + ": " + cause
	}
	return c, &Action{
		Kind: rule.Action, Duration: rule.Duration, Cause: cause, Group: rule.Group,
		Start: now, Expiry: now.Add(rule.Duration),
	}
}
