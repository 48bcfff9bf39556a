package pools

import (
	"errors"
	"fmt"
	"sync"
)

// Default is the name of the pool that mail naming no pool or vmta uses.
const Default = "default"

// MaxWeight is the largest member weight New accepts.
const MaxWeight = 1_000_000

// ErrInvalid is wrapped by every error New returns.
var ErrInvalid = errors.New("invalid pool")

// Member is one vmta of a pool and its share of the pool's mail.
type Member struct {
	// VMTA is the member's vmta name.
	VMTA string
	// Weight is the member's share relative to the others' weights:
	// 1 to MaxWeight.
	Weight int
}

// Eligibility is what Pick asks about each member for one message; the
// engine implements it (see Checks). It must be cheap and safe for
// concurrent use; Pick calls it outside its lock.
type Eligibility interface {
	// Eligible reports whether vmta may take a message for site now.
	Eligible(vmta, site string) bool
}

// Pool is a named, weighted set of vmtas. Pick is safe for concurrent use.
type Pool struct {
	name    string
	members []Member // immutable after New

	mu struct {
		sync.Mutex
		credit []int64 // smooth weighted round-robin state, one per member
	}
}

// New returns a pool of members, in that order. It rejects an empty name, no
// members, a member without a vmta name, a weight outside 1..MaxWeight and a
// vmta listed twice; the error names the pool and the member.
func New(name string, members []Member) (*Pool, error) {
	if name == "" {
		return nil, fmt.Errorf("pool: %w: name required", ErrInvalid)
	}
	if len(members) == 0 {
		return nil, fmt.Errorf("pool %s: %w: no members", name, ErrInvalid)
	}
	seen := make(map[string]int, len(members))
	for i, m := range members {
		switch j, dup := seen[m.VMTA]; {
		case m.VMTA == "":
			return nil, fmt.Errorf("pool %s: members[%d]: %w: vmta name required", name, i, ErrInvalid)
		case dup:
			return nil, fmt.Errorf("pool %s: members[%d]: %w: vmta %s already listed as members[%d]", name, i, ErrInvalid, m.VMTA, j)
		case m.Weight < 1 || m.Weight > MaxWeight:
			return nil, fmt.Errorf("pool %s: members[%d] (%s): %w: weight %d outside 1..%d", name, i, m.VMTA, ErrInvalid, m.Weight, MaxWeight)
		}
		seen[m.VMTA] = i
	}
	p := &Pool{name: name, members: append([]Member(nil), members...)}
	p.mu.credit = make([]int64, len(members))
	return p, nil
}

// Name returns the pool's name.
func (p *Pool) Name() string { return p.name }

// Members returns a copy of the pool's members, in configuration order.
func (p *Pool) Members() []Member { return append([]Member(nil), p.members...) }

// Has reports whether vmta is a member of the pool.
func (p *Pool) Has(vmta string) bool {
	for _, m := range p.members {
		if m.VMTA == vmta {
			return true
		}
	}
	return false
}

// stackMembers is how many members Pick handles without allocating.
const stackMembers = 128

// Pick chooses the member that sends one message to site, by smooth weighted
// round-robin over the members el reports eligible (a nil el makes every
// member eligible). ok is false, and nothing changes, when none is eligible.
//
// Eligibility is asked outside the pool's lock, once per member; the lock
// covers only the credit arithmetic. Pick allocates nothing for pools of up
// to 128 members.
func (p *Pool) Pick(site string, el Eligibility) (vmta string, ok bool) {
	var buf [stackMembers]bool
	eligible := buf[:0]
	if len(p.members) > stackMembers {
		eligible = make([]bool, 0, len(p.members))
	}
	some := false
	for _, m := range p.members {
		e := el == nil || el.Eligible(m.VMTA, site)
		eligible = append(eligible, e)
		some = some || e
	}
	if !some {
		return "", false
	}
	best := p.next(eligible)
	return p.members[best].VMTA, true
}

// next runs one step of smooth weighted round-robin over the eligible
// members (at least one) and returns the chosen index.
func (p *Pool) next(eligible []bool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	credit := p.mu.credit
	var total int64
	best := -1
	for i, m := range p.members {
		if !eligible[i] {
			continue
		}
		credit[i] += int64(m.Weight)
		total += int64(m.Weight)
		if best < 0 || credit[i] > credit[best] {
			best = i
		}
	}
	credit[best] -= total
	return best
}
