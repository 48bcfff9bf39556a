package engine

import (
	"cmp"
	"slices"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/sluice-mta/sluice/engine/queue"
)

// The engine's answers for the web monitor that the admin services do not
// already give: one queue in detail, the injection totals, and each warming
// vmta's plan curve. Each reads state the engine keeps anyway.

// QueueDetail is one (vmta, domain) queue with what holds it and what its
// receiver said lately.
type QueueDetail struct {
	QueueInfo
	// Site is the site (connection pool) the queue's last job went to: its
	// MX hosts, or "domain:" and the domain without MX rollup ("" until a
	// job reached the network).
	Site string `json:"site,omitempty"`
	// HeldUntil is when a warm-up cap or a feedback action stops holding
	// the queue (zero when not held).
	HeldUntil time.Time `json:"held_until,omitzero"`
	// Outcomes are the queue's domain's delivery results (every vmta).
	Outcomes Outcomes `json:"outcomes"`
	// LastReplies are the queue's last replies, newest first.
	LastReplies []ReplyInfo `json:"last_replies"`
	// Actions are the feedback actions in force for the queue's vmta and
	// site (backoffs, suspensions), with their causes and expiries.
	Actions []ActionInfo `json:"actions"`
}

// QueueDetail describes queue (vmta, domain); a queue with nothing queued
// is described too (its counts are zero), since its replies and actions
// outlive its last recipient.
func (e *Engine) QueueDetail(vmta, domain string) QueueDetail {
	k := queue.Key{VMTA: vmta, Domain: domain}
	d := QueueDetail{QueueInfo: QueueInfo{VMTA: vmta, Domain: domain, Paused: e.pause.paused(k)}}
	if qs := e.Queues(QueueFilter{VMTA: vmta, Domain: domain}); len(qs) == 1 {
		d.QueueInfo = qs[0]
	}
	now := e.clock()
	e.holds.mu.Lock()
	if t, ok := e.holds.until[k]; ok && now.Before(t) {
		d.HeldUntil = t
	}
	e.holds.mu.Unlock()
	d.Outcomes = e.domainOutcomes(domain)
	d.LastReplies, d.Site = e.replies.recent(k)
	for _, a := range e.Actions() {
		if a.VMTA == vmta && (a.Site == d.Site || a.Site == "domain:"+domain) {
			d.Actions = append(d.Actions, a)
		}
	}
	return d
}

// Received returns the messages and recipients accepted since start.
func (e *Engine) Received() (messages, recipients int64) {
	read := func(c interface{ Write(*dto.Metric) error }) int64 {
		var m dto.Metric
		if c.Write(&m) != nil {
			return 0
		}
		return int64(m.GetCounter().GetValue())
	}
	return read(e.metrics.receivedMessages), read(e.metrics.receivedRecipients)
}

// WarmupCurve is a warming vmta's plan: each receiver group's daily cap
// for days 1..len(Caps) (warmup.Unlimited past the curve).
type WarmupCurve struct {
	VMTA   string           `json:"vmta"`
	Plan   string           `json:"plan"`
	Groups map[string][]int `json:"groups"`
}

// WarmupCurves returns the plan curve of every warming vmta, over days
// days (at most 366).
func (e *Engine) WarmupCurves(days int) []WarmupCurve {
	t := e.warm.Load()
	if t == nil {
		return nil
	}
	days = min(max(days, 1), 366)
	var out []WarmupCurve
	for _, v := range t.VMTAs() {
		name, _ := t.Assigned(v)
		p := t.Plan(name)
		if p == nil {
			continue
		}
		c := WarmupCurve{VMTA: v, Plan: name, Groups: map[string][]int{}}
		for _, g := range t.Groups() {
			caps := make([]int, days)
			for step := range caps {
				caps[step] = p.Cap(g, step)
			}
			c.Groups[g] = caps
		}
		out = append(out, c)
	}
	return out
}

// OldestQueued returns when the oldest message with a pending recipient
// was stored, and whether there is one.
func (e *Engine) OldestQueued() (time.Time, bool) {
	t, ok, err := e.spool.OldestMessage()
	return t, ok && err == nil
}

// SiteInfo is one (vmta, site) connection pool: its connections, what it
// has sent, and the limits in force against the configured ones (they
// differ while the adaptive rate has cut them).
type SiteInfo struct {
	VMTA  string `json:"vmta"`
	Site  string `json:"site"`
	Group string `json:"group"`
	// Connections are open or opening; Ready are jobs waiting for one.
	Connections  int   `json:"connections"`
	Ready        int   `json:"ready"`
	Transactions int64 `json:"transactions"`
	// RateWaits counts the times a connection waited for max_msg_rate or
	// max_conn_rate.
	RateWaits int64 `json:"rate_waits"`
	// MaxConnections and MsgRate are in force (0: no rate limit);
	// Configured* are the configuration's, the adaptive ceiling.
	MaxConnections        int     `json:"max_connections"`
	ConfiguredConnections int     `json:"configured_connections"`
	MsgRate               float64 `json:"msg_rate"`
	ConfiguredMsgRate     float64 `json:"configured_msg_rate"`
	Backoff               bool    `json:"backoff"`
}

// Sites lists the connection pools, by vmta then site (scopes summed).
func (e *Engine) Sites() []SiteInfo {
	if e.conns == nil {
		return nil
	}
	type vs struct{ vmta, site string }
	by := map[vs]*SiteInfo{}
	for _, s := range e.conns.Stats() {
		k := vs{s.VMTA, s.Site}
		si := by[k]
		if si == nil {
			si = &SiteInfo{VMTA: s.VMTA, Site: s.Site, MaxConnections: s.MaxConnections, MsgRate: s.MsgRate,
				ConfiguredConnections: s.MaxConnections, ConfiguredMsgRate: s.MsgRate}
			by[k] = si
		}
		si.Connections += s.Connections
		si.Ready += s.Queued
		si.Transactions += s.Transactions
		si.RateWaits += s.MsgWaits + s.ConnWaits
	}
	for _, ref := range e.fb.match(func(k fbKey) bool { return by[vs{k.vmta, k.site}] != nil }) {
		si := by[vs{ref.k.vmta, ref.k.site}]
		ref.s.mu.Lock()
		si.Group, si.Backoff = ref.s.group, ref.s.ad != nil && ref.s.ad.InBackoff()
		domain := ref.s.domain
		ref.s.mu.Unlock()
		ceil := e.ceiling(ref.k.vmta, domain, ref.k.site)
		si.ConfiguredConnections, si.ConfiguredMsgRate = ceil.MaxConnections, float64(ceil.MsgRate)
	}
	out := make([]SiteInfo, 0, len(by))
	for _, si := range by {
		out = append(out, *si)
	}
	slices.SortFunc(out, func(a, b SiteInfo) int { return cmp.Or(cmp.Compare(a.VMTA, b.VMTA), cmp.Compare(a.Site, b.Site)) })
	return out
}
