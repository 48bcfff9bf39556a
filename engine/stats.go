package engine

import (
	"sort"
	"sync"
	"time"
)

// Outcome counters per vmta and per destination domain, with rates over
// the last minute: what the Stats API reports beside the spool's queue
// counts. One small entry per vmta and per domain seen, never per
// recipient.

// statsWindow is the rate window: six buckets of ten seconds.
const (
	statsBuckets = 6
	statsBucket  = 10 * time.Second
)

// Outcomes are delivery results counted since start, and per minute over
// the last minute.
type Outcomes struct {
	Key             string  `json:"key"`
	Delivered       int64   `json:"delivered"`
	Deferred        int64   `json:"deferred"`
	Bounced         int64   `json:"bounced"`
	DeliveredPerMin float64 `json:"delivered_per_min"`
	DeferredPerMin  float64 `json:"deferred_per_min"`
	BouncedPerMin   float64 `json:"bounced_per_min"`
}

// outcomeEntry is one key's counters and its rate window.
type outcomeEntry struct {
	Outcomes
	window [statsBuckets]bucket
}

type bucket struct {
	epoch                        int64 // which 10 s slot this bucket holds
	delivered, deferred, bounced int64
}

type outcomeStats struct {
	mu       sync.Mutex
	byVMTA   map[string]*outcomeEntry
	byDomain map[string]*outcomeEntry
}

func (s *outcomeStats) add(m map[string]*outcomeEntry, key string, now time.Time, kind byte) {
	o := m[key]
	if o == nil {
		o = &outcomeEntry{Outcomes: Outcomes{Key: key}}
		m[key] = o
	}
	epoch := now.UnixNano() / int64(statsBucket)
	b := &o.window[epoch%statsBuckets]
	if b.epoch != epoch {
		*b = bucket{epoch: epoch}
	}
	switch kind {
	case 'd':
		o.Delivered++
		b.delivered++
	case 't':
		o.Deferred++
		b.deferred++
	case 'b':
		o.Bounced++
		b.bounced++
	}
}

// record counts one recipient outcome: kind is 'd' delivered, 't' deferred
// or 'b' bounced.
func (s *outcomeStats) record(vmta, domain string, now time.Time, kind byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byVMTA == nil {
		s.byVMTA, s.byDomain = map[string]*outcomeEntry{}, map[string]*outcomeEntry{}
	}
	s.add(s.byVMTA, vmta, now, kind)
	s.add(s.byDomain, domain, now, kind)
}

// snapshot returns the entries with the per-minute rates filled in,
// busiest first, at most limit entries (0 = all).
func snapshot(m []outcomeEntry, now time.Time, limit int) []Outcomes {
	cur := now.UnixNano() / int64(statsBucket)
	out := make([]Outcomes, 0, len(m))
	for _, o := range m {
		c := Outcomes{Key: o.Key, Delivered: o.Delivered, Deferred: o.Deferred, Bounced: o.Bounced}
		for _, b := range o.window {
			if b.epoch > cur-statsBuckets && b.epoch <= cur {
				c.DeliveredPerMin += float64(b.delivered)
				c.DeferredPerMin += float64(b.deferred)
				c.BouncedPerMin += float64(b.bounced)
			}
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		ai := out[i].DeliveredPerMin + out[i].DeferredPerMin + out[i].BouncedPerMin
		aj := out[j].DeliveredPerMin + out[j].DeferredPerMin + out[j].BouncedPerMin
		if ai != aj {
			return ai > aj
		}
		ti, tj := out[i].Delivered+out[i].Deferred+out[i].Bounced, out[j].Delivered+out[j].Deferred+out[j].Bounced
		if ti != tj {
			return ti > tj
		}
		return out[i].Key < out[j].Key
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

// OutcomeStats returns the delivery outcomes per vmta (all) and per domain
// (the busiest domainLimit; 0 = all), with rates per minute over the last
// minute.
//
// NB: only the copy is made under the lock that delivery results take for
// every recipient; the rates and the sort (the monitor asks every few
// seconds, over every domain seen) are worked out after.
func (e *Engine) OutcomeStats(domainLimit int) (byVMTA, byDomain []Outcomes) {
	now := e.clock()
	e.outcomes.mu.Lock()
	vs, ds := copyEntries(e.outcomes.byVMTA), copyEntries(e.outcomes.byDomain)
	e.outcomes.mu.Unlock()
	return snapshot(vs, now, 0), snapshot(ds, now, domainLimit)
}

func copyEntries(m map[string]*outcomeEntry) []outcomeEntry {
	out := make([]outcomeEntry, 0, len(m))
	for _, o := range m {
		out = append(out, *o)
	}
	return out
}

// domainOutcomes returns one domain's outcomes (zero when none yet).
func (e *Engine) domainOutcomes(domain string) Outcomes {
	now := e.clock()
	e.outcomes.mu.Lock()
	o, ok := e.outcomes.byDomain[domain]
	var c []outcomeEntry
	if ok {
		c = []outcomeEntry{*o}
	}
	e.outcomes.mu.Unlock()
	if out := snapshot(c, now, 0); len(out) == 1 {
		return out[0]
	}
	return Outcomes{Key: domain}
}
