package engine

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/sluice-mta/sluice/engine/deliver/client"
	"github.com/sluice-mta/sluice/engine/queue"
	"github.com/sluice-mta/sluice/engine/spool"
)

// QueueFilter selects queues for the admin operations. An empty field
// matches everything: {VMTA: "ip2"} is every queue of vmta ip2, {Domain:
// "example.com"} every vmta's queue for example.com, {} every queue.
type QueueFilter struct {
	VMTA, Domain string
}

func (f QueueFilter) match(k queue.Key) bool {
	return (f.VMTA == "" || f.VMTA == k.VMTA) && (f.Domain == "" || f.Domain == k.Domain)
}

// QueueInfo describes one (vmta, domain) queue.
type QueueInfo struct {
	VMTA        string    `json:"vmta"`
	Domain      string    `json:"domain"`
	Recipients  int       `json:"recipients"`
	EarliestDue time.Time `json:"earliest_due"`
	Paused      bool      `json:"paused"`
}

// ErrNoSuchQueue is returned when a filter matches no queue and no rule.
var ErrNoSuchQueue = errors.New("no queue matches")

// pauses are the operator's pause rules. A rule also holds queues that do
// not exist yet (new mail for a paused vmta stays queued).
type pauses struct {
	mu    sync.Mutex
	rules map[QueueFilter]struct{}
}

func (p *pauses) paused(k queue.Key) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for f := range p.rules {
		if f.match(k) {
			return true
		}
	}
	return false
}

// Queues lists the queues that match f, sorted by vmta then domain, from
// the spool's counters (no scan).
func (e *Engine) Queues(f QueueFilter) []QueueInfo {
	var out []QueueInfo
	for _, q := range e.spool.Queues() {
		k := queue.Key{VMTA: q.VMTA, Domain: q.Domain}
		if !f.match(k) {
			continue
		}
		out = append(out, QueueInfo{VMTA: q.VMTA, Domain: q.Domain, Recipients: q.Recipients,
			EarliestDue: q.EarliestDue, Paused: e.pause.paused(k)})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].VMTA != out[j].VMTA {
			return out[i].VMTA < out[j].VMTA
		}
		return out[i].Domain < out[j].Domain
	})
	return out
}

// Pause stops delivery from the queues f matches, now and for queues that
// appear later, until Resume with the same filter. Mail stays queued;
// transactions already in flight finish. It returns how many existing
// queues it paused.
func (e *Engine) Pause(f QueueFilter) int {
	e.pause.mu.Lock()
	e.pause.rules[f] = struct{}{}
	e.pause.mu.Unlock()
	n := len(e.Queues(f))
	e.log.Info("queues paused", "vmta", f.VMTA, "domain", f.Domain, "queues", n)
	return n
}

// Resume lifts the pause rule f and puts the queues it held back on the
// schedule (queues still held by another rule stay paused). It returns the
// number of queues resumed.
func (e *Engine) Resume(f QueueFilter) int {
	e.pause.mu.Lock()
	delete(e.pause.rules, f)
	e.pause.mu.Unlock()
	n := 0
	for _, q := range e.Queues(f) {
		if !q.Paused {
			n++
			if e.sched != nil {
				e.sched.Schedule(queue.Key{VMTA: q.VMTA, Domain: q.Domain}, q.EarliestDue)
			}
		}
	}
	e.log.Info("queues resumed", "vmta", f.VMTA, "domain", f.Domain, "queues", n)
	return n
}

// adminChunk is how many recipients an admin operation moves per batch.
const adminChunk = 1000

// Flush makes every recipient of the matching queues due now (retry now),
// without counting an attempt. It returns how many recipients it moved.
func (e *Engine) Flush(ctx context.Context, f QueueFilter) (int, error) {
	now := e.clock()
	total := 0
	for _, q := range e.Queues(f) {
		for {
			if err := ctx.Err(); err != nil {
				return total, err
			}
			// Moved recipients are due at now, before the range read.
			rs, err := e.spool.Range(q.VMTA, q.Domain, now.Add(time.Millisecond), farFuture, adminChunk)
			if err != nil {
				return total, err
			}
			var moves []spool.Retry
			for _, r := range rs {
				moves = append(moves, spool.Retry{Recipient: r, Next: now, Requeue: true})
			}
			if len(moves) == 0 {
				break
			}
			moved, err := e.spool.RescheduleMany(moves)
			total += len(moved)
			if err != nil {
				return total, err
			}
		}
		if e.sched != nil {
			e.sched.Schedule(queue.Key{VMTA: q.VMTA, Domain: q.Domain}, now)
		}
	}
	e.log.Info("queues flushed", "vmta", f.VMTA, "domain", f.Domain, "recipients", total)
	return total, nil
}

var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// Purge removes every recipient of the matching queues. With dsn, each
// sender is told (a bounce with 5.0.0 "purged by the administrator"),
// accounted as a bounce; without, they vanish silently (accounted too).
// It returns how many recipients it removed.
func (e *Engine) Purge(ctx context.Context, f QueueFilter, dsn bool) (int, error) {
	total := 0
	reply := client.Reply{Code: 550, Enhanced: "5.0.0", Text: "Message purged from the queue by the administrator", Local: true}
	for _, q := range e.Queues(f) {
		k := queue.Key{VMTA: q.VMTA, Domain: q.Domain}
		for {
			if err := ctx.Err(); err != nil {
				return total, err
			}
			rs, err := e.spool.Due(q.VMTA, q.Domain, farFuture, adminChunk)
			if err != nil {
				return total, err
			}
			if len(rs) == 0 {
				break
			}
			if dsn {
				e.failLocally(k, rs, reply, true) // Completes them, with DSNs and accounting
			} else if err := e.completePurged(k, rs, reply); err != nil {
				return total, err
			}
			total += len(rs)
		}
	}
	e.log.Info("queues purged", "vmta", f.VMTA, "domain", f.Domain, "recipients", total, "dsn", dsn)
	return total, nil
}
