package engine

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/sluice-mta/sluice/configs"
	"github.com/sluice-mta/sluice/engine/queue"
	"github.com/sluice-mta/sluice/engine/spool"
	"github.com/sluice-mta/sluice/warmup"
)

// Warm-up enforcement in the delivery path (package warmup holds the
// arithmetic; this file carries it out):
//
//	route:  site := the MX plan's site (its sorted MX hosts)
//	        r := tracker.Reserve(now, vmta, site, len(batch))  (counts r.N now)
//	        send the first r.N recipients, tagged with r
//	        the rest overflow:  plan says pool -> move them to another member of
//	                            their pool with headroom for the site (a
//	                            spool move, no attempt counted);
//	                            otherwise (or no member has room) -> hold the
//	                            queue until r.Until
//	finish: recipients the receiver never judged (local replies) -> Release
//	        deferrals and bounces -> Record (they judge the day at its end)
//	        tracker.Changed -> spool records warmup/<vmta>/<group>
//	tick:   every minute Tick rolls days; its decisions become events
//
// NB: the changed states are saved (synced) right after each Reserve that
// counted, before anything is sent, so after kill -9 the counters can only
// be ahead of what left (the cap's safe side), never behind.

// warmupRecordPrefix keys the persisted warm-up states in the spool.
const warmupRecordPrefix = "warmup/"

// warmupKeep is how long a persisted state outlives its last change (the
// spool's records expire; a state untouched for a year is a dead vmta).
const warmupKeep = 365 * 24 * time.Hour

// EventWarmup is a warm-up decision (advance, hold, step back, operator).
const EventWarmup = "warmup"

// newTracker builds the warm-up tracker of cfg and assigns every vmta that
// names a plan; errors name the key and line.
func newTracker(cfg *configs.Config, now time.Time) (*warmup.Tracker, error) {
	wc, err := WarmupConfig(cfg)
	if err != nil {
		return nil, err
	}
	t, err := warmup.NewTracker(wc)
	if err != nil {
		return nil, lineErr(cfg, "warmup", err)
	}
	for i, v := range cfg.VMTAs {
		if v.Warmup == nil {
			continue
		}
		if err := t.Assign(v.Name, warmup.Assignment{Plan: v.Warmup.Plan, Start: v.Warmup.Start}, now); err != nil {
			return nil, warmupLineErr(cfg, fmt.Sprintf("vmtas[%d].warmup", i), err)
		}
	}
	return t, nil
}

// installTracker makes t the engine's tracker, carrying over the states of
// the one it replaces (a reload) or, at start, those saved in the spool.
func (e *Engine) installTracker(t *warmup.Tracker) error {
	var entries []warmup.Entry
	if old := e.warm.Load(); old != nil {
		entries = old.Entries()
	} else {
		recs, err := e.spool.ListRecords(warmupRecordPrefix)
		if err != nil {
			return fmt.Errorf("engine: warm-up states: %w", err)
		}
		for k, v := range recs {
			var en warmup.Entry
			if err := json.Unmarshal(v, &en); err != nil {
				e.log.Warn("warm-up state unreadable; it starts afresh", "key", k, "err", err)
				continue
			}
			entries = append(entries, en)
		}
	}
	for _, d := range t.Restore(entries) {
		e.log.Info("warm-up state dropped (its vmta has no plan now)", "vmta", d.VMTA, "group", d.Group)
	}
	e.warm.Store(t)
	return nil
}

// persistWarmup streams decs and the decisions the tracker made since the
// last call, then saves the states changed since the last save in one
// synced batch (which makes the events durable too).
func (e *Engine) persistWarmup(t *warmup.Tracker, now time.Time, decs []warmup.Event) {
	decs = append(decs, t.TakeEvents()...)
	if len(decs) > 0 {
		evs := make([]Event, 0, len(decs))
		for _, d := range decs {
			e.log.Info("warm-up decision", "vmta", d.VMTA, "group", d.Group, "action", d.Action, "day", d.Day,
				"from_day", d.From+1, "to_day", d.To+1, "reason", d.Reason)
			evs = append(evs, Event{Time: now, Type: EventWarmup, VMTA: d.VMTA, Category: d.Group,
				Reply: fmt.Sprintf("%s: day %d -> %d (%s): %s", d.Action, d.From+1, d.To+1, d.Day, d.Reason)})
		}
		e.appendEvents(evs)
		defer e.events.notify()
	}
	changed := t.Changed()
	if len(changed) == 0 {
		return
	}
	recs := make([]spool.Record, 0, len(changed))
	for _, en := range changed {
		v, err := json.Marshal(en)
		if err != nil {
			continue
		}
		recs = append(recs, spool.Record{Key: warmupRecordPrefix + en.VMTA + "/" + en.Group, Value: v, Expires: now.Add(warmupKeep)})
	}
	if err := e.spool.PutRecords(recs, true); err != nil {
		e.log.Warn("save warm-up states", "n", len(recs), "err", err)
	}
}

// warmupTick rolls the warm-up days, streams the decisions and saves the
// states. The delivery loop calls it every minute.
func (e *Engine) warmupTick() {
	if t := e.warm.Load(); t != nil {
		now := e.clock()
		e.persistWarmup(t, now, t.Tick(now))
	}
}

// recordWarmup adds a receiver's verdicts (a late bounce, a complaint) to
// vmta's warm-up day for site, when vmta is warming.
func (e *Engine) recordWarmup(vmta, site string, d warmup.DayStats) {
	t := e.warm.Load()
	if t == nil || !t.Warming(vmta) {
		return
	}
	now := e.clock()
	t.Record(now, vmta, site, d)
	e.persistWarmup(t, now, nil)
}

// warmupGate decides what part of a batch vmta may send to site now. It
// returns the recipients to send (their reservation rides on the job) and
// deals with the rest: moved to another pool member, or held.
func (e *Engine) warmupGate(k queue.Key, site string, live []spool.Recipient) ([]spool.Recipient, warmup.Reservation) {
	t := e.warm.Load()
	if t == nil || t.Len() == 0 {
		return live, warmup.Reservation{}
	}
	e.learnSite(k.Domain, site)
	if !t.Warming(k.VMTA) {
		return live, warmup.Reservation{}
	}
	now := e.clock()
	r, _ := t.Reserve(now, k.VMTA, site, len(live))
	e.persistWarmup(t, now, nil) // before sending: see the NB at the top
	if r.N >= len(live) {
		return live, r
	}
	send, rest := live[:r.N:r.N], live[r.N:]
	var ok func(string) bool
	if r.Overflow == warmup.OverflowPool {
		ok = func(vmta string) bool { return t.HasHeadroomAt(now, vmta, site) }
	}
	e.moveOrHold(k, site, rest, r.Until, ok)
	return send, r
}

// moveOrHold moves each message's recipients to another member of its
// pool that ok admits (nil: no move), or holds queue k until until.
func (e *Engine) moveOrHold(k queue.Key, site string, rest []spool.Recipient, until time.Time, ok func(vmta string) bool) {
	now := e.clock()
	if until.IsZero() || !until.After(now) {
		until = now.Add(time.Minute)
	}
	var kept []spool.Recipient
	moved := map[string]bool{}
	for _, rs := range byMessage(rest) {
		to := ""
		if ok != nil {
			to = e.moveTarget(k, site, rs[0].MsgID, ok)
		}
		if to == "" {
			kept = append(kept, rs...)
			continue
		}
		retries := make([]spool.Retry, len(rs))
		for i, x := range rs {
			retries[i] = spool.Retry{Recipient: x, Next: now, Requeue: true, VMTA: to}
		}
		if _, err := e.spool.RescheduleMany(retries); err != nil {
			e.log.Error("move to another vmta", "id", rs[0].MsgID, "to", to, "err", err)
			kept = append(kept, rs...)
			continue
		}
		moved[to] = true
		e.metrics.moved.Add(float64(len(rs)))
	}
	if len(kept) > 0 {
		e.holds.hold(k, until)
		e.metrics.held.Add(float64(len(kept)))
		e.log.Debug("queue held", "vmta", k.VMTA, "domain", k.Domain, "until", until, "n", len(kept))
	}
	e.release(k, rest)
	for to := range moved {
		e.sched.Schedule(queue.Key{VMTA: to, Domain: k.Domain}, now)
	}
}

// maxSites bounds the domain -> MX site map kept for submit's warm-up check.
const maxSites = 100_000

// learnSite remembers domain's MX site.
func (e *Engine) learnSite(domain, site string) {
	if old, ok := e.sites.Load(domain); ok {
		if old.(string) != site {
			e.sites.Store(domain, site)
		}
		return
	}
	if e.siteCount.Add(1) > maxSites {
		e.siteCount.Add(-1)
		return
	}
	e.sites.Store(domain, site)
}

// moveTarget picks the member of message id's pool that takes mail
// vmta k.VMTA cannot send: enabled, not k.VMTA, admitted by ok.
func (e *Engine) moveTarget(k queue.Key, site, id string, ok func(vmta string) bool) string {
	env, err := e.spool.Envelope(id)
	if err != nil || env.Pool == "" {
		return "" // it named its vmta: it waits for it
	}
	p, found := e.pool(env.Pool)
	if !found {
		return ""
	}
	v, found := p.Pick(site, moveEligibility{e: e, full: k.VMTA, ok: ok})
	if !found {
		return ""
	}
	return v
}

// moveEligibility admits the pool members that can take moved mail.
type moveEligibility struct {
	e    *Engine
	full string
	ok   func(vmta string) bool
}

func (m moveEligibility) Eligible(vmta, site string) bool {
	return vmta != m.full && eligibility{m.e}.Eligible(vmta, site) && m.ok(vmta)
}

// warmupResult feeds a finished job's replies to the tracker: local
// replies (the receiver never judged them) are released, deferrals and
// bounces recorded.
func (e *Engine) warmupResult(it resultItem, now time.Time) {
	r := it.warm
	if r.Day == "" {
		return // the vmta has no plan
	}
	t := e.warm.Load()
	var unjudged int
	var d warmup.DayStats
	for _, reply := range it.res.Replies {
		switch {
		case reply.Local:
			unjudged++
		case reply.Positive():
		case reply.Permanent():
			d.Bounced++
		default:
			d.Deferred++
		}
	}
	t.Release(r, unjudged)
	t.Record(now, r.VMTA, it.mxSite, d)
	e.persistWarmup(t, now, nil)
}

// WarmupVMTA is one warming vmta's status: its plan and a line per
// receiver group.
type WarmupVMTA struct {
	VMTA   string               `json:"vmta"`
	Plan   string               `json:"plan"`
	Start  string               `json:"start"`
	Groups []warmup.GroupStatus `json:"groups"`
}

// ErrNotWarming is returned for warm-up operations on a vmta without a plan.
var ErrNotWarming = warmup.ErrUnknownVMTA

// ErrUnknownWarmupGroup is returned for a receiver group not configured.
var ErrUnknownWarmupGroup = warmup.ErrUnknownGroup

// WarmupStatus returns the status of vmta, or of every warming vmta when
// vmta is "".
func (e *Engine) WarmupStatus(vmta string) ([]WarmupVMTA, error) {
	t := e.warm.Load()
	names := t.VMTAs()
	if vmta != "" {
		names = []string{vmta}
	}
	now := e.clock()
	out := make([]WarmupVMTA, 0, len(names))
	for _, n := range names {
		gs, err := t.Status(now, n)
		if err != nil {
			return nil, err
		}
		plan, start := t.Assigned(n)
		out = append(out, WarmupVMTA{VMTA: n, Plan: plan, Start: start, Groups: gs})
	}
	return out, nil
}

// WarmupOp is an operator's warm-up action.
type WarmupOp string

// The operator's warm-up actions.
const (
	WarmupPause   WarmupOp = "pause"   // hold the step at each day's end
	WarmupResume  WarmupOp = "resume"  // undo pause
	WarmupAdvance WarmupOp = "advance" // one step on, now
	WarmupReset   WarmupOp = "reset"   // back to day 1
)

// WarmupControl applies op to vmta's warm-up for group ("" for every
// group). The decision is recorded in the status and the event stream, and
// queues held for the vmta are looked at again at once.
func (e *Engine) WarmupControl(op WarmupOp, vmta, group string) error {
	t := e.warm.Load()
	now := e.clock()
	var err error
	switch op {
	case WarmupPause:
		err = t.Pause(now, vmta, group)
	case WarmupResume:
		err = t.Resume(now, vmta, group)
	case WarmupAdvance:
		err = t.AdvanceManually(now, vmta, group)
	case WarmupReset:
		err = t.Reset(now, vmta, group)
	default:
		return fmt.Errorf("engine: unknown warm-up operation %q (want pause, resume, advance or reset)", op)
	}
	if err != nil {
		return err
	}
	e.warmupTick()
	if e.sched != nil {
		for _, k := range e.holds.clear(vmta) {
			e.scheduleHead(k)
		}
	}
	return nil
}
