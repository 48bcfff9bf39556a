package sink

import (
	"hash/fnv"
	"math/rand/v2"
	"path"
	"strings"
	"sync/atomic"

	"github.com/emersion/go-smtp"
)

// Profile is a smart sink's behaviour: per group of recipient domains, the
// share of RCPT replies that accept, defer (4xx), bounce (5xx) or throttle
// (421 and hang up), with the texts to send; reply delays per command; caps
// on messages per connection and connections per client IP. ParseProfile
// reads one from YAML (see doc.go); the zero value changes nothing.
//
// A Profile is immutable once parsed; a Sink makes its own counters from it.
type Profile struct {
	// Name names the profile in logs and errors (the shipped name or file).
	Name string
	// Seed makes the order of replies and the delays reproducible. Default 1.
	Seed uint64
	// Limits caps connections.
	Limits Limits
	// Latency is the delay before each command's reply, for recipients of
	// every group that does not set its own (RCPT and DATA).
	Latency Latencies
	// Groups are tried in order; a recipient's domain takes the first group
	// with a matching pattern. A recipient in no group gets the Sink's
	// local-part script (DefaultBehaviours), as without a profile.
	Groups []Group
}

// Limits caps what one connection or one client IP may do. Zero is no cap.
type Limits struct {
	// MaxMessagesPerConnection: a MAIL beyond it gets MessagesReply (a 421)
	// and the connection is closed.
	MaxMessagesPerConnection int
	// MaxConnectionsPerIP: a connection from an IP that already has that
	// many open gets ConnectionsReply (a 421) as its greeting and is closed.
	MaxConnectionsPerIP int
	MessagesReply       Reply
	ConnectionsReply    Reply
}

// Command names a step of an SMTP session that Latencies delays.
type Command uint8

// The commands Latencies delays. Connect is the greeting.
const (
	CmdConnect Command = iota
	CmdEHLO
	CmdMail
	CmdRcpt
	CmdData
	nCommands
)

var commandNames = [nCommands]string{"connect", "ehlo", "mail", "rcpt", "data"}

func (c Command) String() string { return commandNames[c] }

// Latencies is a delay distribution per Command.
type Latencies [nCommands]Dist

// Outcome is the kind of a RCPT reply a Group gives.
type Outcome uint8

// The outcomes, in the order of Group.Shares.
const (
	OutAccept   Outcome = iota // 250
	OutDefer                   // 4xx
	OutBounce                  // 5xx
	OutThrottle                // 421, then the connection closes
	nOutcomes
)

var outcomeNames = [nOutcomes]string{"accept", "defer", "bounce", "throttle"}

func (o Outcome) String() string { return outcomeNames[o] }

// Reply is one SMTP reply a profile sends.
type Reply struct {
	Code     int
	Enhanced [3]int // all zero: none
	Text     string // may hold {rcpt}, replaced by the recipient address
}

func (r Reply) err(rcpt string) *smtp.SMTPError {
	text := r.Text
	if rcpt != "" && strings.Contains(text, "{rcpt}") {
		text = strings.ReplaceAll(text, "{rcpt}", rcpt)
	}
	return &smtp.SMTPError{Code: r.Code, EnhancedCode: smtp.EnhancedCode(r.Enhanced), Message: text}
}

// Group is how one set of recipient domains is answered.
type Group struct {
	// Name names the group in Stats.ByGroup.
	Name string
	// Domains are glob patterns (path.Match) on the lowercased recipient
	// domain: "gmail.com", "*.gmail.test", "d1?.test", "*".
	Domains []string
	// Shares are per Outcome, in basis points (1/100 of a percent), summing
	// to 10000.
	Shares [nOutcomes]int
	// Replies are the texts per Outcome other than accept, used in turn.
	Replies [nOutcomes][]Reply
	// Latency overrides the profile's RCPT and DATA delays when set.
	Latency Latencies
}

// Default replies of a profile.
var (
	defaultReplies = [nOutcomes][]Reply{
		OutDefer:    {{451, [3]int{4, 7, 1}, "<{rcpt}>: Try again later"}},
		OutBounce:   {{550, [3]int{5, 1, 1}, "<{rcpt}>: Recipient address rejected: User unknown"}},
		OutThrottle: {{421, [3]int{4, 7, 0}, "Too many messages, slow down"}},
	}
	defaultMessagesReply    = Reply{421, [3]int{4, 7, 0}, "Too many messages on this connection, try again later"}
	defaultConnectionsReply = Reply{421, [3]int{4, 7, 0}, "Too many connections from your IP, try again later"}
)

// match reports whether the lowercased domain is in g.
func (g *Group) match(domain string) bool {
	for _, p := range g.Domains {
		if ok, _ := path.Match(p, domain); ok {
			return true
		}
	}
	return false
}

// groupState is a Group with its live counters.
type groupState struct {
	*Group
	// order is one period of outcomes: Shares[o]*len/10000 entries of each,
	// shuffled with the seed. The n-th RCPT of the group gets
	// order[n mod len], so every period of replies has the exact shares.
	order []Outcome
	n     atomic.Uint64
	texts [nOutcomes]atomic.Uint64 // next text per outcome
	codes [maxCode - minCode + 1]atomic.Int64
	rcptD Dist
	dataD Dist
}

func newGroupState(g *Group, p *Profile) *groupState {
	gs := &groupState{Group: g, rcptD: p.Latency[CmdRcpt], dataD: p.Latency[CmdData]}
	if !g.Latency[CmdRcpt].IsZero() {
		gs.rcptD = g.Latency[CmdRcpt]
	}
	if !g.Latency[CmdData].IsZero() {
		gs.dataD = g.Latency[CmdData]
	}
	period := 10000
	for _, s := range g.Shares {
		period = gcd(period, s)
	}
	period = 10000 / period
	gs.order = make([]Outcome, 0, period)
	for o, s := range g.Shares {
		for range s * period / 10000 {
			gs.order = append(gs.order, Outcome(o))
		}
	}
	h := fnv.New64a()
	h.Write([]byte(g.Name))
	rng := rand.New(rand.NewPCG(p.Seed, h.Sum64()))
	rng.Shuffle(len(gs.order), func(i, j int) { gs.order[i], gs.order[j] = gs.order[j], gs.order[i] })
	return gs
}

// next returns the outcome of the group's next RCPT.
func (gs *groupState) next() Outcome {
	return gs.order[(gs.n.Add(1)-1)%uint64(len(gs.order))]
}

// reply returns the error to answer a RCPT with outcome o, nil for accept.
func (gs *groupState) reply(o Outcome, rcpt string) *smtp.SMTPError {
	if o == OutAccept {
		return nil
	}
	texts := gs.Replies[o]
	if len(texts) == 0 {
		texts = defaultReplies[o]
	}
	i := (gs.texts[o].Add(1) - 1) % uint64(len(texts))
	return texts[i].err(rcpt)
}

func (gs *groupState) count(code int) {
	if code >= minCode && code <= maxCode {
		gs.codes[code-minCode].Add(1)
	}
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// profileState is a Sink's live copy of its Profile.
type profileState struct {
	p      *Profile
	groups []*groupState
}

func newProfileState(p *Profile) *profileState {
	ps := &profileState{p: p}
	for i := range p.Groups {
		ps.groups = append(ps.groups, newGroupState(&p.Groups[i], p))
	}
	return ps
}

// group returns the group of a lowercased domain, or nil.
func (ps *profileState) group(domain string) *groupState {
	for _, g := range ps.groups {
		if g.match(domain) {
			return g
		}
	}
	return nil
}

// connRNG returns the delay generator of connection seq: seeded by the
// profile and the connection's accept order, so a run replays its delays.
func (ps *profileState) connRNG(seq int64) *rand.Rand {
	return rand.New(rand.NewPCG(ps.p.Seed, uint64(seq)))
}
