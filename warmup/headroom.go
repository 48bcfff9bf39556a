package warmup

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// ErrUnknownVMTA is returned for operations on a vmta without a plan.
var ErrUnknownVMTA = errors.New("warmup: vmta has no warm-up plan")

// ErrUnknownGroup is returned for operations naming a receiver group that is
// not configured.
var ErrUnknownGroup = errors.New("warmup: unknown receiver group")

// Assignment puts a vmta on a plan.
type Assignment struct {
	// Plan names the plan.
	Plan string
	// Start is the first warm-up day, YYYY-MM-DD in the plan's time zone; not
	// after today. Default: the day of Assign. With calendar days a vmta that has no
	// saved state starts at the step Start implies (a vmta that was already
	// warming elsewhere); with sending days it starts at day 1.
	Start string
}

// Entry is one (vmta, group) state, as the engine persists it (suggested
// key: w/<vmta>/<group>, value: the State as JSON).
type Entry struct {
	VMTA  string `json:"vmta"`
	Group string `json:"group"`
	State State  `json:"state"`
}

// Event is a decision about one (vmta, group), for the event stream.
type Event struct {
	VMTA  string `json:"vmta"`
	Group string `json:"group"`
	Decision
}

// Reservation is the outcome of Tracker.Reserve. A granted one (N > 0) is the
// handle Release takes back; a refused one says what the plan does with the
// mail and when the next window opens.
type Reservation struct {
	VMTA  string
	Group string
	// Day is the day counted against; a Release on a later day is a no-op
	// (that day's counters are closed). Empty for a vmta without a plan.
	Day string
	// N is how many recipients were counted, 0 when refused.
	N int
	// Overflow is the plan's overflow rule (set when refused).
	Overflow Overflow
	// Until is when headroom opens again (set when refused).
	Until time.Time
}

// GroupStatus is one line of `sluice warmup status`.
type GroupStatus struct {
	Group string `json:"group"`
	// Day is the 1-based warm-up day (Step+1).
	Day int `json:"day"`
	// Cap is the day's cap, or Unlimited.
	Cap int `json:"cap"`
	// Allowed is the cumulative cap due by now (below Cap with HourlySpread),
	// or Unlimited.
	Allowed int `json:"allowed"`
	// Sent is today's count, reservations in flight included.
	Sent int `json:"sent"`
	// Headroom is Allowed-Sent, or Unlimited.
	Headroom     int      `json:"headroom"`
	Paused       bool     `json:"paused"`
	LastDecision Decision `json:"last_decision"`
}

// vmtaState is one vmta's plan and per-group states, under its own lock.
type vmtaState struct {
	plan  *Plan
	start string
	mu    sync.Mutex
	// groups holds the states created so far (by use, status or restore).
	groups map[string]*State
	dirty  map[string]bool
}

// Tracker holds the warm-up states of many (vmta, receiver group) pairs and
// answers the headroom question for pools. It is safe for concurrent use:
// the vmta set is fixed at construction (Assign happens before use), and
// each vmta's states sit behind that vmta's own small mutex, so delivery
// goroutines of different vmtas never contend. Every method that can see a
// new day takes now; the Tracker never reads a clock.
//
// A configuration reload builds a new Tracker and Restores the old one's
// Entries into it.
type Tracker struct {
	groups Groups
	plans  map[string]*Plan

	vmtas map[string]*vmtaState // fixed after the Assign calls

	evMu   sync.Mutex
	events []Event // decisions made since the last Tick
}

// NewTracker returns a Tracker for cfg (defaults filled and validated: the
// error is a *FieldError) with no vmtas yet.
func NewTracker(cfg Config) (*Tracker, error) {
	cfg.Plans = slices.Clone(cfg.Plans)
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t := &Tracker{groups: cfg.Groups, plans: make(map[string]*Plan), vmtas: make(map[string]*vmtaState)}
	for i := range cfg.Plans {
		t.plans[cfg.Plans[i].Name] = &cfg.Plans[i]
	}
	return t, nil
}

// Plan returns the named plan (with defaults filled), or nil.
func (t *Tracker) Plan(name string) *Plan { return t.plans[name] }

// Assign puts vmta on a plan. Call it for every warming vmta before the
// Tracker is shared (it is not safe concurrently with other methods). now
// checks that a.Start is not in the future. Errors are *FieldErrors relative
// to the vmta's warmup key ("plan", "start").
func (t *Tracker) Assign(vmta string, a Assignment, now time.Time) error {
	p := t.plans[a.Plan]
	if p == nil {
		return fieldErr("plan", "unknown warm-up plan %q", a.Plan)
	}
	today := dayKey(now, p.loc())
	switch _, err := time.Parse(dayLayout, a.Start); {
	case a.Start == "":
		a.Start = today
	case err != nil:
		return fieldErr("start", "%q is not a date (YYYY-MM-DD)", a.Start)
	case a.Start > today:
		return fieldErr("start", "%s is in the future (today is %s in %s)", a.Start, today, p.loc())
	}
	t.vmtas[vmta] = &vmtaState{plan: p, start: a.Start, groups: make(map[string]*State), dirty: make(map[string]bool)}
	return nil
}

// state returns vmta's state for group, created on first use, rolled to now.
// v.mu must be held. Decisions made by the roll go to the event list.
func (t *Tracker) state(v *vmtaState, vmta, group string, now time.Time) *State {
	s := v.groups[group]
	if s == nil {
		s = &State{Day: dayKey(now, v.plan.loc())}
		if v.start != "" && !v.plan.CountSendingDays {
			if n, err := daysBetween(v.start, s.Day); err == nil && n > 0 {
				s.Step = min(n, v.plan.Steps(group))
			}
		}
		v.groups[group] = s
		v.dirty[group] = true
	}
	if decs := s.roll(v.plan, group, now); decs != nil {
		v.dirty[group] = true
		t.emit(vmta, group, decs...)
	}
	return s
}

func (t *Tracker) emit(vmta, group string, decs ...Decision) {
	t.evMu.Lock()
	for _, d := range decs {
		t.events = append(t.events, Event{VMTA: vmta, Group: group, Decision: d})
	}
	t.evMu.Unlock()
}

// Warming reports whether vmta follows a plan (the engine's fast path:
// mail of other vmtas is never counted).
func (t *Tracker) Warming(vmta string) bool { return t.vmtas[vmta] != nil }

// Len returns how many vmtas are warming.
func (t *Tracker) Len() int { return len(t.vmtas) }

// VMTAs returns the warming vmtas, sorted.
func (t *Tracker) VMTAs() []string { return sortedKeys(t.vmtas) }

// Assigned returns the plan vmta follows and its start day ("" when none).
func (t *Tracker) Assigned(vmta string) (plan, start string) {
	if v := t.vmtas[vmta]; v != nil {
		return v.plan.Name, v.start
	}
	return "", ""
}

// HasHeadroomAt reports whether vmta may send one more recipient to site
// now. A vmta without a plan always may.
func (t *Tracker) HasHeadroomAt(now time.Time, vmta, site string) bool {
	v := t.vmtas[vmta]
	if v == nil {
		return true
	}
	group := t.groups.Of(site)
	v.mu.Lock()
	defer v.mu.Unlock()
	return t.state(v, vmta, group, now).headroom(v.plan, group, now) != 0
}

// Reserve counts up to n recipients of vmta to site against today's cap
// before they are sent, and returns how many it counted (ok when at least
// one). When it counts fewer than n, r.Overflow and r.Until say what
// becomes of the rest. The caller sends only r.N recipients and Releases
// those the receiver never judged. A vmta without a plan gets all n.
func (t *Tracker) Reserve(now time.Time, vmta, site string, n int) (r Reservation, ok bool) {
	group := t.groups.Of(site)
	r = Reservation{VMTA: vmta, Group: group}
	v := t.vmtas[vmta]
	if v == nil {
		r.N = max(n, 0)
		return r, r.N > 0
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	s := t.state(v, vmta, group, now)
	r.Day = s.Day
	r.N = s.reserve(v.plan, group, now, n)
	if r.N > 0 {
		v.dirty[group] = true
	}
	if r.N < n {
		r.Overflow, r.Until = v.plan.Overflow, s.nextWindow(v.plan, group, now)
	}
	return r, r.N > 0
}

// Release gives back n recipients of r (at most r.N) that were never
// judged by the receiver: the connection failed, MAIL FROM was refused, the
// session was lost before their RCPT reply. A recipient the receiver
// answered, even with a failure, stays counted. Releasing a reservation of
// a day that has closed does nothing.
func (t *Tracker) Release(r Reservation, n int) {
	v := t.vmtas[r.VMTA]
	if v == nil || r.Day == "" {
		return
	}
	n = min(n, r.N)
	if n <= 0 {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if s := v.groups[r.Group]; s != nil && s.Day == r.Day {
		s.Today.Sent = max(0, s.Today.Sent-n)
		v.dirty[r.Group] = true
	}
}

// Record adds the receiver's verdicts for vmta and site to today's
// figures, which judge the day at its end: counted on the day they arrive
// (a verdict for a send just before midnight counts for the new day). Sent
// is ignored (Reserve counts it).
func (t *Tracker) Record(now time.Time, vmta, site string, d DayStats) {
	t.RecordGroup(now, vmta, t.groups.Of(site), d)
}

// RecordGroup is Record for a receiver group (a feedback-loop complaint
// knows its group, not a site). Unknown vmtas and groups are ignored.
func (t *Tracker) RecordGroup(now time.Time, vmta, group string, d DayStats) {
	v := t.vmtas[vmta]
	if v == nil || !t.knownGroup(group) {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	s := t.state(v, vmta, group, now)
	s.Today.Deferred += max(d.Deferred, 0)
	s.Today.Bounced += max(d.Bounced, 0)
	s.Today.Complaints += max(d.Complaints, 0)
	v.dirty[group] = true
}

func (t *Tracker) knownGroup(g string) bool {
	_, ok := t.groups[g]
	return ok || g == Other
}

// Groups returns the receiver group names, sorted, Other last.
func (t *Tracker) Groups() []string {
	names := sortedKeys(t.groups)
	names = slices.DeleteFunc(names, func(n string) bool { return n == Other })
	return append(names, Other)
}

// TakeEvents returns the decisions made since the last Tick or
// TakeEvents without rolling any state (cheap when there are none).
func (t *Tracker) TakeEvents() []Event {
	t.evMu.Lock()
	defer t.evMu.Unlock()
	ev := t.events
	t.events = nil
	return ev
}

// Tick rolls every state to now (closing days that ended) and returns the
// decisions made since the last Tick, for the event stream. The engine calls
// it periodically (every minute is plenty), then persists Changed.
func (t *Tracker) Tick(now time.Time) []Event {
	for _, vmta := range sortedKeys(t.vmtas) {
		v := t.vmtas[vmta]
		v.mu.Lock()
		for _, g := range sortedKeys(v.groups) {
			t.state(v, vmta, g, now)
		}
		v.mu.Unlock()
	}
	return t.TakeEvents()
}

// Status returns vmta's line per receiver group at now (Groups order).
func (t *Tracker) Status(now time.Time, vmta string) ([]GroupStatus, error) {
	v := t.vmtas[vmta]
	if v == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownVMTA, vmta)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []GroupStatus
	for _, g := range t.Groups() {
		s := t.state(v, vmta, g, now)
		out = append(out, GroupStatus{
			Group: g, Day: s.Step + 1, Cap: v.plan.Cap(g, s.Step),
			Allowed: v.plan.Allowed(g, s.Step, now), Sent: s.Today.Sent,
			Headroom: s.headroom(v.plan, g, now), Paused: s.Paused, LastDecision: s.Last,
		})
	}
	return out, nil
}
