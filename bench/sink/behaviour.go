package sink

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

// Behaviour is a scripted reply to RCPT TO, chosen by the recipient's local
// part (see DefaultBehaviours, Sink.SetBehaviour).
type Behaviour uint8

const (
	// Accept answers 250.
	Accept Behaviour = iota
	// Bounce answers 550 5.1.1 <addr>: Recipient address rejected: User unknown.
	Bounce
	// Defer answers 451 4.7.1 <addr>: Try again later.
	Defer
	// Throttle answers 421 4.7.0 Too many messages, slow down, then closes
	// the connection.
	Throttle
	// Slow waits Config.SlowDelay, then answers 250.
	Slow
)

var behaviourNames = [...]string{"accept", "bounce", "defer", "throttle", "slow"}

func (b Behaviour) String() string {
	if int(b) < len(behaviourNames) {
		return behaviourNames[b]
	}
	return fmt.Sprintf("Behaviour(%d)", b)
}

// ParseBehaviour returns the Behaviour named name ("accept", "bounce",
// "defer", "throttle", "slow"; case-insensitive).
func ParseBehaviour(name string) (Behaviour, error) {
	for i, n := range behaviourNames {
		if strings.EqualFold(name, n) {
			return Behaviour(i), nil
		}
	}
	return 0, fmt.Errorf("sink: unknown behaviour %q (want one of %s)", name, strings.Join(behaviourNames[:], ", "))
}

// DefaultBehaviours returns the built-in script, by local-part prefix:
// bounce* bounces, defer* defers, throttle* throttles, slow* is slow.
// Every other recipient is accepted.
func DefaultBehaviours() map[string]Behaviour {
	return map[string]Behaviour{"bounce": Bounce, "defer": Defer, "throttle": Throttle, "slow": Slow}
}

// SetBehaviour makes every recipient whose local part starts with prefix
// (case-insensitive) get b, replacing any earlier rule for that prefix. The
// longest matching prefix wins, so SetBehaviour("defer7", Accept) lets
// defer7@… through while defer1@… still defers, and prefix "" is the
// fallback for recipients no other rule matches. It applies to every RCPT
// read from then on, on open connections too. While the sink accepts all
// (Config.Behaviours false, or SetAcceptAll(true)) the rule is kept but
// unused.
func (s *Sink) SetBehaviour(prefix string, b Behaviour) {
	s.script.update(func() { s.script.mu.rules[strings.ToLower(prefix)] = b })
}

// SetAcceptAll(true) switches the script off: every RCPT gets 250, as with
// Config.Behaviours false. SetAcceptAll(false) switches it back on with the
// rules it had. It applies to every RCPT read from then on.
func (s *Sink) SetAcceptAll(on bool) {
	s.script.update(func() { s.script.mu.acceptAll = on })
}

// script is the Sink's replier: it answers RCPT by the rules table.
//
// The table is copy-on-write: writers edit mu and publish a new immutable
// slice; the RCPT path does one atomic load and a prefix compare per rule
// (four by default), and takes no lock.
type script struct {
	table     atomic.Pointer[[]rule] // nil: accept all; else longest prefix first
	slowDelay time.Duration
	done      <-chan struct{} // closed by Sink.Close: cuts Slow short

	mu struct {
		sync.Mutex
		rules     map[string]Behaviour // by lowercase prefix
		acceptAll bool
	}
}

type rule struct {
	prefix string // lowercase
	b      Behaviour
}

func (sc *script) init(cfg *Config, done <-chan struct{}) {
	sc.slowDelay = cfg.SlowDelay
	sc.done = done
	sc.mu.rules = DefaultBehaviours()
	sc.mu.acceptAll = !cfg.Behaviours
	sc.publish()
}

// update applies f to the rules under the lock and publishes the result.
func (sc *script) update(f func()) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	f()
	sc.publish()
}

// publish makes the RCPT path see sc.mu. Callers hold sc.mu or own sc.
func (sc *script) publish() {
	if sc.mu.acceptAll {
		sc.table.Store(nil)
		return
	}
	t := make([]rule, 0, len(sc.mu.rules))
	for _, p := range slices.Sorted(maps.Keys(sc.mu.rules)) {
		t = append(t, rule{p, sc.mu.rules[p]})
	}
	slices.SortStableFunc(t, func(a, b rule) int { return len(b.prefix) - len(a.prefix) })
	sc.table.Store(&t)
}

// match returns the Behaviour for a recipient address.
func (sc *script) match(addr string) Behaviour {
	t := sc.table.Load()
	if t == nil {
		return Accept
	}
	local := addr
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		local = addr[:i]
	}
	for _, r := range *t {
		if len(local) >= len(r.prefix) && strings.EqualFold(local[:len(r.prefix)], r.prefix) {
			return r.b
		}
	}
	return Accept
}

var (
	errThrottle = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0},
		Message: "Too many messages, slow down"}
	errShuttingDown = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2},
		Message: "Service shutting down"}
)

func (sc *script) rcpt(_ netip.Addr, _, to string) error {
	switch sc.match(to) {
	case Bounce:
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
			Message: "<" + to + ">: Recipient address rejected: User unknown"}
	case Defer:
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1},
			Message: "<" + to + ">: Try again later"}
	case Throttle:
		return errThrottle // the session closes the connection after any 421
	case Slow:
		t := time.NewTimer(sc.slowDelay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-sc.done:
			return errShuttingDown
		}
	}
	return nil
}

func (sc *script) data(netip.Addr, string, []string, int64) error { return nil }
