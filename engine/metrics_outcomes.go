package engine

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-mta/sluice/engine/acct"
)

// outcomeKey is one (vmta, site) of delivery outcomes.
type outcomeKey struct{ vmta, site string }

// siteOutcomes are one (vmta, site)'s outcome counters: the children of
// sluice_recipient_outcomes_total, looked up once per site (not per
// recipient); the failure counters per category are made on first use.
type siteOutcomes struct {
	vmta, site, group string
	delivered         prometheus.Counter
	mu                sync.Mutex
	failed            map[[2]string]prometheus.Counter // {outcome, category}
}

// outcomeCounters returns (creating) the counters of (vmta, site). The
// receiver group is the feedback rules' group of the MX site when the
// counters are made ("" for replies made up before any connection).
func (m *metrics) outcomeCounters(e *Engine, vmta, site, mxSite string) *siteOutcomes {
	k := outcomeKey{vmta, site}
	if so, ok := m.sites.Load(k); ok {
		return so.(*siteOutcomes)
	}
	group := ""
	if mxSite != "" {
		group = e.rules().Group(mxHostsOf(mxSite)...)
	}
	so := &siteOutcomes{vmta: vmta, site: site, group: group, failed: map[[2]string]prometheus.Counter{},
		delivered: m.outcomes.WithLabelValues(vmta, site, group, "delivered", "")}
	actual, _ := m.sites.LoadOrStore(k, so)
	return actual.(*siteOutcomes)
}

// add counts n recipients of outcome (deferred or bounced) in category.
func (so *siteOutcomes) add(m *metrics, outcome, category string, n int) {
	k := [2]string{outcome, category}
	so.mu.Lock()
	c := so.failed[k]
	if c == nil {
		c = m.outcomes.WithLabelValues(so.vmta, so.site, so.group, outcome, category)
		so.failed[k] = c
	}
	so.mu.Unlock()
	c.Add(float64(n))
}

// countOutcomes adds a finished job's accounting records to the per
// (vmta, site) outcome counters: one counter lookup per job, and one per
// failed recipient's category.
func (e *Engine) countOutcomes(it resultItem, recs []acct.Record) {
	so := e.metrics.outcomeCounters(e, it.key.VMTA, it.site, it.mxSite)
	delivered := 0
	for i := range recs {
		switch recs[i].Type {
		case acct.TypeDelivered:
			delivered++
		case acct.TypeBounced:
			so.add(e.metrics, "bounced", recs[i].Category, 1)
		case acct.TypeTransient:
			so.add(e.metrics, "deferred", recs[i].Category, 1)
		}
	}
	if delivered > 0 {
		so.delivered.Add(float64(delivered))
	}
}
