package spool

import (
	"maps"
	"slices"
	"strings"
	"time"
)

// QueueInfo describes one (vmta, domain) queue.
type QueueInfo struct {
	VMTA, Domain string
	// Recipients is the number of pending recipients in the queue.
	Recipients int
	// EarliestDue is the smallest NextDue in the queue (ms precision).
	EarliestDue time.Time
}

// Stats are the spool's running totals, kept incrementally (never by a scan).
type Stats struct {
	Messages   int64            // messages with at least one pending recipient
	Recipients int64            // pending recipients
	ByDomain   map[string]int64 // pending recipients per destination domain
	ByVMTA     map[string]int64 // pending recipients per vmta
	ByPool     map[string]int64 // pending recipients per pool (mail that named or was given one)
	ByCampaign map[string]int64 // pending recipients per campaign
	ByTenant   map[string]int64 // pending recipients per tenant
	BodyBytes  int64            // sum of stored body sizes
	WALSyncs   int64            // WAL fsyncs since Open (commits per sync = group-commit ratio)
}

type queueID struct{ vmta, domain string }

type queueStat struct {
	n        int
	earliest int64 // ms; the due of the queue's first key: exact unless stale
	// stale says earliest is only a lower bound: keys at the head were
	// removed and the new head is read when someone needs it (headLocked).
	stale bool
	// minAdded is the lowest due (ms) of a key added to the queue since the
	// last DueAfter took it: a key added at or before a reader's position
	// sends that reader back to the head (see DueAfter).
	minAdded int64
}

// counters is the in-memory summary of the store; guarded by Spool.mu.
type counters struct {
	messages, recipients, bodyBytes int64
	byDomain, byVMTA                map[string]int64
	byPool, byCampaign, byTenant    map[string]int64 // pending recipients; "" not counted
	queues                          map[queueID]*queueStat
	// remaining counts pending recipients per message, only for messages stored
	// with more than one recipient: a one-recipient message is finished by
	// completing that recipient, and needs no entry.
	remaining map[string]uint32
}

func newCounters() counters {
	return counters{
		byDomain:   make(map[string]int64),
		byVMTA:     make(map[string]int64),
		byPool:     make(map[string]int64),
		byCampaign: make(map[string]int64),
		byTenant:   make(map[string]int64),
		queues:     make(map[queueID]*queueStat),
		remaining:  make(map[string]uint32),
	}
}

func (c *counters) addMessage(id string, nrcpt uint32, bodySize int64) {
	c.messages++
	c.bodyBytes += bodySize
	if nrcpt > 1 {
		c.remaining[id] = nrcpt
	}
}

func (c *counters) removeMessage(id string, bodySize int64) {
	c.messages--
	c.bodyBytes -= bodySize
	delete(c.remaining, id)
}

// pending returns how many recipients of message id are still stored.
func (c *counters) pending(id string, nrcpt uint32) uint32 {
	if nrcpt <= 1 {
		return nrcpt
	}
	return c.remaining[id]
}

func (c *counters) addRecipient(q queueID, dueMs int64) {
	c.recipients++
	c.byDomain[q.domain]++
	c.byVMTA[q.vmta]++
	s := c.queues[q]
	if s == nil {
		c.queues[q] = &queueStat{n: 1, earliest: dueMs, minAdded: dueMs}
		return
	}
	s.n++
	s.earliest = min(s.earliest, dueMs)
	s.minAdded = min(s.minAdded, dueMs)
}

// removeRecipient drops one recipient and reports whether the queue's earliest due
// may have moved (the caller then re-reads the queue's head).
func (c *counters) removeRecipient(q queueID, dueMs int64) (headMoved bool) {
	c.recipients--
	decr(c.byDomain, q.domain)
	decr(c.byVMTA, q.vmta)
	s := c.queues[q]
	if s == nil {
		return false
	}
	if s.n--; s.n <= 0 {
		delete(c.queues, q)
		return false
	}
	return dueMs <= s.earliest
}

// tag counts n pending recipients (negative: n fewer) for a pool, a
// campaign and a tenant; empty names are not counted.
func (c *counters) tag(pool, campaign, tenant string, n int64) {
	for _, t := range []struct {
		m map[string]int64
		k string
	}{{c.byPool, pool}, {c.byCampaign, campaign}, {c.byTenant, tenant}} {
		if t.k == "" {
			continue
		}
		if t.m[t.k] += n; t.m[t.k] <= 0 {
			delete(t.m, t.k)
		}
	}
}

func decr(m map[string]int64, k string) {
	if m[k]--; m[k] <= 0 {
		delete(m, k)
	}
}

func (c *counters) stats() Stats {
	return Stats{
		Messages:   c.messages,
		Recipients: c.recipients,
		ByDomain:   maps.Clone(c.byDomain),
		ByVMTA:     maps.Clone(c.byVMTA),
		ByPool:     maps.Clone(c.byPool),
		ByCampaign: maps.Clone(c.byCampaign),
		ByTenant:   maps.Clone(c.byTenant),
		BodyBytes:  c.bodyBytes,
	}
}

func (c *counters) queueInfos() []QueueInfo {
	out := make([]QueueInfo, 0, len(c.queues))
	for q, s := range c.queues {
		out = append(out, QueueInfo{VMTA: q.vmta, Domain: q.domain, Recipients: s.n, EarliestDue: time.UnixMilli(s.earliest)})
	}
	slices.SortFunc(out, func(a, b QueueInfo) int {
		if c := strings.Compare(a.VMTA, b.VMTA); c != 0 {
			return c
		}
		return strings.Compare(a.Domain, b.Domain)
	})
	return out
}
