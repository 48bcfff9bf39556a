package pools

// Headroom is the warm-up seam: the warm-up package's counters implement it
// (pools does not import warmup). It must be cheap and safe for concurrent
// use.
type Headroom interface {
	// HasHeadroom reports whether vmta may send one more message to site
	// under its warm-up plan now. A vmta without a plan always has headroom.
	HasHeadroom(vmta, site string) bool
}

// Checks is the usual Eligibility: a member is eligible when it is not
// disabled, not suspended for the site, and has warm-up headroom for it. A
// nil field is a check that always passes.
type Checks struct {
	// Disabled reports whether an operator disabled vmta.
	Disabled func(vmta string) bool
	// Suspended reports whether vmta is suspended for site (throttling by
	// the receiver; see feedback).
	Suspended func(vmta, site string) bool
	// Headroom answers the warm-up question; nil when no plan is in use.
	Headroom Headroom
}

// Eligible implements Eligibility.
func (c Checks) Eligible(vmta, site string) bool {
	if c.Disabled != nil && c.Disabled(vmta) {
		return false
	}
	if c.Suspended != nil && c.Suspended(vmta, site) {
		return false
	}
	return c.Headroom == nil || c.Headroom.HasHeadroom(vmta, site)
}

// NB: a Checks value converted to Eligibility on every Pick allocates; build
// the Eligibility once (var el pools.Eligibility = &checks) and reuse it.
var _ Eligibility = Checks{}
