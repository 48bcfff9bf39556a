package engine

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sluice-mta/sluice/engine/queue"
	"github.com/sluice-mta/sluice/engine/spool"
)

// Trace says why a recipient is not delivered yet.
type Trace struct {
	MsgID       string    `json:"msg_id"`
	Recipient   string    `json:"recipient"`
	VMTA        string    `json:"vmta"`
	Domain      string    `json:"domain"`
	State       string    `json:"state"` // queued, deferred, in-flight, paused
	Attempts    int       `json:"attempts"`
	LastReply   string    `json:"last_reply,omitempty"`
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	NextAttempt time.Time `json:"next_attempt"`
	ExpiresAt   time.Time `json:"expires_at"`
	// HeldBy names what holds the recipient, when something does: a pause
	// rule, a disabled or removed vmta, or the queue's rate and connection
	// limits (which apply to every recipient of its site).
	HeldBy string `json:"held_by,omitempty"`
	Limits string `json:"limits,omitempty"`
}

// ErrNotQueued is returned by TraceRecipient for a message with no pending
// recipient (delivered, bounced or purged: see the accounting log).
var ErrNotQueued = errors.New("not in the queue (delivered, bounced or purged: see the accounting log)")

// TraceRecipient explains the pending recipients of message id (only those
// whose address is rcpt, when rcpt is not empty).
func (e *Engine) TraceRecipient(id, rcpt string) ([]Trace, error) {
	rs, err := e.spool.MessageRecipients(strings.ToUpper(strings.TrimSpace(id)))
	if errors.Is(err, spool.ErrNotFound) {
		return nil, fmt.Errorf("message %s: %w", id, ErrNotQueued)
	}
	if err != nil {
		return nil, err
	}
	now := e.clock()
	var out []Trace
	for _, r := range rs {
		if rcpt != "" && !strings.EqualFold(r.Address, rcpt) {
			continue
		}
		out = append(out, e.trace(r, now))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("message %s, recipient %s: %w", id, rcpt, ErrNotQueued)
	}
	return out, nil
}

func (e *Engine) trace(r spool.Recipient, now time.Time) Trace {
	t := Trace{MsgID: r.MsgID, Recipient: r.Address, VMTA: r.VMTA, Domain: r.Domain, Attempts: r.Attempts,
		LastReply: r.LastReply, LastAttempt: r.LastAttempt, NextAttempt: r.NextDue, ExpiresAt: r.ExpiresAt, State: "queued"}
	if r.Attempts > 0 {
		t.State = "deferred"
	}
	k := queue.Key{VMTA: r.VMTA, Domain: r.Domain}
	if e.dstate.queues != nil {
		f := e.dstate.flight(k)
		f.mu.Lock()
		_, busy := f.set[rcptID{r.MsgID, r.Idx}]
		f.mu.Unlock()
		if busy {
			t.State = "in-flight"
		}
	}
	switch s, ok := e.sender(r.VMTA); {
	case !ok:
		t.HeldBy = "vmta " + r.VMTA + " is not configured"
	case s.Removed:
		t.HeldBy = "vmta " + r.VMTA + " was removed from the configuration (draining)"
	case s.Disabled:
		t.HeldBy = "vmta " + r.VMTA + " is disabled"
	}
	if t.HeldBy == "" && e.pause.paused(k) {
		t.State, t.HeldBy = "paused", "queue paused by an operator"
	}
	if t.HeldBy == "" && r.NextDue.After(now) {
		t.HeldBy = "waiting for its retry time (retry_after)"
	}
	lim := e.limits(r.VMTA, r.Domain, "")
	rate := "unlimited"
	if !lim.MaxMsgRate.IsZero() {
		rate = lim.MaxMsgRate.String()
	}
	t.Limits = fmt.Sprintf("max_smtp_out %d, max_msg_rate %s, max_rcpt_per_msg %d", lim.MaxSMTPOut, rate, lim.MaxRcptPerMsg)
	return t
}
