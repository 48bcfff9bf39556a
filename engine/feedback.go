package engine

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluice-mta/sluice/configs"
	"github.com/sluice-mta/sluice/engine/deliver"
	"github.com/sluice-mta/sluice/engine/deliver/client"
	"github.com/sluice-mta/sluice/engine/queue"
	"github.com/sluice-mta/sluice/engine/spool"
	"github.com/sluice-mta/sluice/feedback"
	"golang.org/x/time/rate"
)

// What receivers say, carried out (package feedback holds the policy):
//
//	finish:  per (vmta, site) of the job, under that site's lock:
//	           every reply -> Adaptive.OnReply; a connection failure ->
//	           OnConnectFailure; a rule's action (Decide) -> recorded with
//	           its cause and expiry (backoff goes to Adaptive)
//	         when Adaptive's rate or connection count moved -> the
//	         deliver pool of that (vmta, site) adopts them at once
//	route:   an action in force for (vmta, site):
//	           suspend           -> the queue is held until it expires
//	           disable-source-ip -> the mail moves to another member of its
//	                                pool, else is held until it expires
//	           bounce-all        -> every recipient bounces with the cause
//
// Actions expire on their own; an operator lifts them (LiftAction). They
// live in memory: a restart forgets them (as it forgets the adaptive rate),
// which errs towards sending, like a new IP's first connection would.

// fbKey names one (vmta, site, scope) as the deliver pool does.
type fbKey struct{ vmta, site, scope string }

// siteFeedback is what one (vmta, site) has been told.
type siteFeedback struct {
	mu      sync.Mutex
	group   string // the feedback receiver group of the site
	domain  string // a destination that routes here (for limits)
	ad      *feedback.Adaptive
	applied struct {
		rate  float64
		conns int
	}
	actions []*feedback.Action // in force, not backoff (Adaptive holds it)
}

// feedbackState is the engine's per-site feedback.
type feedbackState struct {
	mu    sync.Mutex
	sites map[fbKey]*siteFeedback
}

// siteRef is one (vmta, site) and its feedback.
type siteRef struct {
	k fbKey
	s *siteFeedback
}

// match returns the (vmta, site)s whose key keep admits; their own locks
// are not held.
func (f *feedbackState) match(keep func(fbKey) bool) []siteRef {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []siteRef
	for k, s := range f.sites {
		if keep(k) {
			out = append(out, siteRef{k, s})
		}
	}
	return out
}

// ActionInfo describes an action in force, for the API.
type ActionInfo struct {
	VMTA   string    `json:"vmta"`
	Site   string    `json:"site"`
	Group  string    `json:"group"`
	Kind   string    `json:"kind"`
	Cause  string    `json:"cause"`
	Start  time.Time `json:"start"`
	Expiry time.Time `json:"expiry"`
}

// ErrNoAction is returned by LiftAction when nothing matches.
var ErrNoAction = errors.New("no such action in force")

// ErrUnknownActionKind is returned (wrapped) for an action kind that is not
// backoff, suspend, disable-source-ip or bounce-all.
var ErrUnknownActionKind = errors.New("unknown action kind")

// loadRules builds the reply rules of cfg: the file's, then the shipped.
func loadRules(cfg *configs.Config) (*feedback.Rules, error) {
	def := feedback.DefaultRules()
	path := cfg.Feedback.RulesFile
	if path == "" {
		return def, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, lineErr(cfg, "feedback.rules_file", err)
	}
	defer f.Close()
	user, err := feedback.ReadRules(f)
	if err != nil {
		return nil, lineErr(cfg, "feedback.rules_file", fmt.Errorf("%s: %w", path, err))
	}
	return def.Extend(user), nil
}

// fbSettings are the feedback settings in force (the file's feedback
// section, read once per configuration).
type fbSettings struct {
	off bool                    // adaptive rate off
	cfg feedback.AdaptiveConfig // adaptive rate
	// onSubmit and scope: feedback.suppression; suppressCats the bounce
	// categories that suppress.
	onSubmit, scope string
	suppressCats    map[string]bool
	// verpDomain and verpKey sign return paths; fbl are the complaint
	// addresses ("@domain" for a domain); trackFor how long delivered
	// messages are remembered.
	verpDomain string
	verpKey    []byte
	fbl        []string
	trackFor   time.Duration
}

// feedbackSettings reads the file's feedback section.
func feedbackSettings(cfg *configs.Config) *fbSettings {
	f := cfg.Feedback
	s := adaptiveConfig(cfg)
	s.onSubmit, s.scope = f.Suppression.OnSubmit, f.Suppression.Scope
	s.suppressCats = map[string]bool{}
	for _, c := range f.Suppression.BounceCategories {
		s.suppressCats[c] = true
	}
	s.verpDomain, s.verpKey = strings.ToLower(f.VERP.Domain), []byte(f.VERP.Key)
	for _, a := range f.FBLAddresses {
		s.fbl = append(s.fbl, strings.ToLower(a))
	}
	s.trackFor = f.TrackFor.D()
	if s.trackFor <= 0 {
		s.trackFor = 7 * 24 * time.Hour
	}
	return s
}

// adaptiveConfig maps the file's feedback.adaptive onto package feedback's.
func adaptiveConfig(cfg *configs.Config) *fbSettings {
	a := cfg.Feedback.Adaptive
	return &fbSettings{off: a.Off, cfg: feedback.AdaptiveConfig{DecreaseFactor: a.DecreaseFactor, IncreaseEvery: a.IncreaseEvery.D(),
		Window: a.Window.D(), WindowMinReplies: a.WindowMinReplies, DeferralPercent: a.DeferralPercent,
		BouncePercent: a.BouncePercent, BackoffToNormalAfter: a.BackoffToNormalAfter.D()}}
}

// installFeedback puts a prepared configuration's rules and adaptive
// settings in force; running Adaptives take the new ceilings as they are
// re-created (a reload resets them, which errs towards the new limits).
func (e *Engine) installFeedback(p *preparedConfig) {
	e.fbRules.Store(p.rules)
	old := e.fbSet.Swap(feedbackSettings(p.cfg))
	if old == nil {
		return
	}
	for _, ref := range e.fb.match(func(fbKey) bool { return true }) {
		ref.s.mu.Lock()
		ref.s.ad = nil
		ref.s.applied.rate, ref.s.applied.conns = 0, 0
		ref.s.mu.Unlock()
	}
}

// rules returns the reply rules in force.
func (e *Engine) rules() *feedback.Rules {
	if r := e.fbRules.Load(); r != nil {
		return r
	}
	return feedback.DefaultRules()
}

// siteOf returns (creating) the feedback of (vmta, site).
func (e *Engine) siteOf(k fbKey, domain, mxSite string) *siteFeedback {
	e.fb.mu.Lock()
	defer e.fb.mu.Unlock()
	if e.fb.sites == nil {
		e.fb.sites = map[fbKey]*siteFeedback{}
	}
	s := e.fb.sites[k]
	if s == nil {
		s = &siteFeedback{group: e.rules().Group(mxHostsOf(mxSite)...), domain: domain}
		e.fb.sites[k] = s
	}
	return s
}

// lookupSite returns the feedback of (vmta, site) if any.
func (e *Engine) lookupSite(k fbKey) *siteFeedback {
	e.fb.mu.Lock()
	defer e.fb.mu.Unlock()
	return e.fb.sites[k]
}

func fbReply(r client.Reply) feedback.Reply {
	return feedback.Reply{Code: r.Code, Enhanced: r.Enhanced, Text: r.Text, Local: r.Local}
}

// feedbackResult feeds a finished job's replies to its (vmta, site).
func (e *Engine) feedbackResult(it resultItem, now time.Time) {
	if it.site == "" {
		return // made up before any connection (DNS, expiry)
	}
	k := fbKey{it.key.VMTA, it.site, it.scope}
	s := e.siteOf(k, it.key.Domain, it.mxSite)
	rules := e.rules()
	var newActs []*feedback.Action
	as := e.fbSet.Load()
	s.mu.Lock()
	if s.ad == nil && as != nil && !as.off {
		dl := e.ceiling(it.key.VMTA, it.key.Domain, it.site)
		s.ad = feedback.NewAdaptive(float64(dl.MsgRate), dl.MaxConnections, as.cfg)
		s.applied.rate, s.applied.conns = s.ad.Current()
	}
	if it.res.Err != nil && it.res.Host == "" && s.ad != nil {
		s.ad.OnConnectFailure(now) // no receiver reached: a refusal or time-out
	}
	var seen map[feedback.ActionKind]bool // allocated on the first action
	for _, reply := range it.res.Replies {
		if reply.Local {
			continue
		}
		fr := fbReply(reply)
		if s.ad != nil {
			s.ad.OnReply(fr, now)
		}
		if reply.Positive() {
			continue
		}
		_, act := feedback.Decide(s.group, fr, rules, now)
		if act == nil || seen[act.Kind] {
			continue
		}
		if seen == nil {
			seen = map[feedback.ActionKind]bool{}
		}
		seen[act.Kind] = true
		if act.Kind == feedback.ActionBackoff && s.ad != nil {
			s.ad.Backoff(now, act.Expiry)
		}
		if s.record(act) {
			newActs = append(newActs, act)
		}
	}
	var adopt *deliver.Limits
	if s.ad != nil {
		if r, c := s.ad.Current(); r != s.applied.rate || c != s.applied.conns {
			dl := e.ceiling(it.key.VMTA, it.key.Domain, it.site)
			e.log.Info("adaptive rate changed", "vmta", it.key.VMTA, "site", it.site, "rate", r, "conns", c,
				"was_rate", s.applied.rate, "was_conns", s.applied.conns, "backoff", s.ad.InBackoff())
			s.applied.rate, s.applied.conns = r, c
			dl.MaxConnections = c
			if r > 0 {
				dl.MsgRate, dl.MsgBurst = rate.Limit(r), max(1, int(r/10))
			}
			adopt = &dl
		}
	}
	s.mu.Unlock()
	if adopt != nil && e.conns != nil {
		e.conns.Adopt(k.vmta, k.site, k.scope, *adopt)
		e.metrics.adaptiveChanges.Inc()
	}
	for _, a := range newActs {
		e.actionEvent(it.key.VMTA, it.site, a, now, "")
	}
}

// record adds act to the actions in force (a running action of the same
// kind is extended instead) and reports whether it is new. s.mu held.
func (s *siteFeedback) record(act *feedback.Action) bool {
	for _, a := range s.actions {
		if a.Kind == act.Kind {
			if act.Expiry.After(a.Expiry) {
				a.Expiry = act.Expiry
			}
			return false
		}
	}
	s.actions = append(s.actions, act)
	return true
}

// dropExpired forgets the actions that have lapsed at now. s.mu held.
func (s *siteFeedback) dropExpired(now time.Time) {
	s.actions = slices.DeleteFunc(s.actions, func(a *feedback.Action) bool { return a.Expired(now) })
}

// inForce returns the action of kind in force at now, dropping expired
// ones. s.mu held.
func (s *siteFeedback) inForce(kind feedback.ActionKind, now time.Time) *feedback.Action {
	s.dropExpired(now)
	for _, a := range s.actions {
		if a.Kind == kind {
			return a
		}
	}
	return nil
}

// actionEvent logs and streams an action taken (lifted is "" or who).
func (e *Engine) actionEvent(vmta, site string, a *feedback.Action, now time.Time, lifted string) {
	what := fmt.Sprintf("%s until %s: %s", a.Kind, a.Expiry.UTC().Format(time.RFC3339), a.Cause)
	if lifted != "" {
		what = fmt.Sprintf("%s lifted by %s (was: %s)", a.Kind, lifted, a.Cause)
	}
	e.log.Warn("feedback action", "vmta", vmta, "site", site, "group", a.Group, "action", what)
	e.metrics.actions.WithLabelValues(string(a.Kind)).Inc()
	e.appendEvents([]Event{{Time: now, Type: EventAction, VMTA: vmta, Domain: site, Reply: what, Category: a.Group}})
	e.events.notify()
}

// actionGate carries out the actions in force for (vmta, site) on a routed
// batch; it returns the recipients still to send.
func (e *Engine) actionGate(k queue.Key, site, scope string, live []spool.Recipient) []spool.Recipient {
	s := e.lookupSite(fbKey{k.VMTA, site, scope})
	if s == nil {
		return live
	}
	now := e.clock()
	s.mu.Lock()
	if len(s.actions) == 0 {
		s.mu.Unlock()
		return live
	}
	var act *feedback.Action
	for _, kind := range []feedback.ActionKind{feedback.ActionBounceAll, feedback.ActionSuspend, feedback.ActionDisableSourceIP} {
		if a := s.inForce(kind, now); a != nil {
			c := *a
			act = &c
			break
		}
	}
	s.mu.Unlock()
	if act == nil {
		return live
	}
	switch act.Kind {
	case feedback.ActionBounceAll:
		e.failLocally(k, live, client.Reply{Code: 550, Enhanced: "5.7.1", Local: true,
			Text: "Not sent: bounce-all in force for this receiver (" + act.Cause + ")"}, true)
	case feedback.ActionSuspend:
		e.moveOrHold(k, site, live, act.Expiry, nil)
	default: // disable-source-ip
		e.moveOrHold(k, site, live, act.Expiry, func(vmta string) bool { return !e.disabledFor(vmta, site, scope, now) })
	}
	return nil
}

// disabledFor reports whether vmta has disable-source-ip in force for site.
func (e *Engine) disabledFor(vmta, site, scope string, now time.Time) bool {
	s := e.lookupSite(fbKey{vmta, site, scope})
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inForce(feedback.ActionDisableSourceIP, now) != nil
}

// Actions lists the actions in force (backoffs included), by vmta and site.
func (e *Engine) Actions() []ActionInfo {
	now := e.clock()
	var out []ActionInfo
	for _, ref := range e.fb.match(func(fbKey) bool { return true }) {
		k, s := ref.k, ref.s
		s.mu.Lock()
		s.dropExpired(now)
		for _, a := range s.actions {
			out = append(out, ActionInfo{VMTA: k.vmta, Site: k.site, Group: a.Group, Kind: string(a.Kind), Cause: a.Cause,
				Start: a.Start, Expiry: a.Expiry})
		}
		if s.ad != nil && s.ad.InBackoff() && !slices.ContainsFunc(s.actions, func(a *feedback.Action) bool {
			return a.Kind == feedback.ActionBackoff
		}) {
			out = append(out, ActionInfo{VMTA: k.vmta, Site: k.site, Group: s.group, Kind: string(feedback.ActionBackoff),
				Cause: "deferral or bounce share over the adaptive window's threshold"})
		}
		s.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b ActionInfo) int {
		return cmp.Or(cmp.Compare(a.VMTA, b.VMTA), cmp.Compare(a.Site, b.Site), cmp.Compare(a.Kind, b.Kind))
	})
	return out
}

// LiftAction ends the actions in force for vmta and site ("" for every
// site) of kind ("" for every kind), as an operator; it returns how many.
func (e *Engine) LiftAction(vmta, site, kind, by string) (int, error) {
	if kind != "" && !feedback.ActionKind(kind).Valid() {
		return 0, fmt.Errorf("%w %q (want backoff, suspend, disable-source-ip or bounce-all)", ErrUnknownActionKind, kind)
	}
	now := e.clock()
	n := 0
	for _, ref := range e.fb.match(func(k fbKey) bool { return k.vmta == vmta && (site == "" || k.site == site) }) {
		k, s := ref.k, ref.s
		s.mu.Lock()
		var lifted []*feedback.Action
		s.actions = slices.DeleteFunc(s.actions, func(a *feedback.Action) bool {
			if kind == "" || string(a.Kind) == kind {
				lifted = append(lifted, a)
				return true
			}
			return false
		})
		if (kind == "" || kind == string(feedback.ActionBackoff)) && s.ad != nil && s.ad.InBackoff() {
			s.ad = nil // a fresh Adaptive at the ceiling on the next reply
			s.applied.rate, s.applied.conns = 0, 0
			lifted = append(lifted, &feedback.Action{Kind: feedback.ActionBackoff, Group: s.group, Cause: "adaptive backoff"})
			if e.conns != nil {
				e.conns.Adopt(k.vmta, k.site, k.scope, e.ceiling(k.vmta, s.domain, k.site))
			}
		}
		s.mu.Unlock()
		for _, a := range lifted {
			e.actionEvent(k.vmta, k.site, a, now, by)
			n++
		}
	}
	if n == 0 {
		return 0, ErrNoAction
	}
	for _, k := range e.holds.clear(vmta) {
		e.scheduleHead(k)
	}
	return n, nil
}

// mxHostsOf splits an MX site key back into its hosts.
func mxHostsOf(site string) []string {
	if i := strings.IndexByte(site, ':'); i >= 0 && !strings.Contains(site[:i], ".") {
		site = site[i+1:] // "route:" or "domain:" prefixes
	}
	return strings.Split(site, ",")
}

// ceiling is the configured limits of (vmta, site), defaults filled: what
// the adaptive rate never goes above.
func (e *Engine) ceiling(vmta, domain, site string) deliver.Limits {
	dl := e.deliverLimits(e.limits(vmta, domain, site))
	dl.SetDefaults()
	return dl
}
