package spool

import (
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Retry is one recipient to move to a later due time (see RescheduleMany).
type Retry struct {
	Recipient Recipient // only MsgID and Idx are used
	Next      time.Time
	Reply     string
	// Requeue moves the recipient without counting an attempt or touching
	// its last reply (an operator's flush, not a delivery result).
	Requeue bool
	// VMTA, when set, moves the recipient to that vmta's queue for the same
	// domain (warm-up overflow to another pool member); "" keeps its queue.
	VMTA string
}

// RescheduleMany is Reschedule for many recipients in one batch committed
// with pebble.Sync: one fsync (shared with concurrent commits) instead of
// one per recipient, which matters when a receiver defers a whole
// transaction of many recipients, or a backlog of millions is retried.
// Recipients that are no longer pending are skipped. It returns the
// recipients as now stored, in the order of rs (skipped ones left out).
func (s *Spool) RescheduleMany(rs []Retry) ([]Recipient, error) {
	if len(rs) == 0 {
		return nil, nil
	}
	if err := s.enter(true); err != nil {
		return nil, err
	}
	defer s.exit()
	ids := make([]string, 0, len(rs))
	for _, r := range rs {
		ids = append(ids, r.Recipient.MsgID)
	}
	unlock := s.lockMessages(ids)
	defer unlock()

	type move struct {
		old, nk parsedQueueKey
	}
	b := s.db.NewBatch()
	defer b.Close()
	out := make([]Recipient, 0, len(rs))
	moves := make([]move, 0, len(rs))
	now := msOf(s.opts.Clock())
	for _, r := range rs {
		rk := rcptKey(r.Recipient.MsgID, r.Recipient.Idx)
		ref, err := s.rcptRef(rk)
		if err != nil {
			continue // completed meanwhile (or never existed): nothing to move
		}
		old, err := parseQueueKey(ref.qkey)
		if err != nil {
			return nil, fmt.Errorf("spool: reschedule %s/%d: %w", r.Recipient.MsgID, r.Recipient.Idx, err)
		}
		v, err := s.get(ref.qkey)
		if err != nil {
			return nil, fmt.Errorf("spool: reschedule %s/%d: %w", r.Recipient.MsgID, r.Recipient.Idx, err)
		}
		st, err := decodeState(v)
		if err != nil {
			return nil, fmt.Errorf("spool: reschedule %s/%d: %w", r.Recipient.MsgID, r.Recipient.Idx, err)
		}
		if !r.Requeue {
			st.attempts++
			st.lastReply = r.Reply
			st.lastAttempt = now
		}
		nk := parsedQueueKey{vmta: old.vmta, domain: old.domain, dueMs: dueMsOf(r.Next), id: old.id, idx: old.idx}
		if r.VMTA != "" {
			if err := checkComponent("vmta", r.VMTA); err != nil {
				return nil, fmt.Errorf("spool: reschedule %s/%d: %w", r.Recipient.MsgID, r.Recipient.Idx, err)
			}
			nk.vmta = r.VMTA
		}
		ref.qkey = queueKey(nk.vmta, nk.domain, nk.dueMs, nk.id, nk.idx)
		_ = b.Delete(queueKey(old.vmta, old.domain, old.dueMs, old.id, old.idx), nil)
		_ = b.Set(ref.qkey, encodeState(&st), nil)
		_ = b.Set(rk, encodeRcptRef(&ref), nil)
		moves = append(moves, move{old, nk})
		out = append(out, toRecipient(nk, &st))
	}
	if len(moves) == 0 {
		return nil, nil
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return nil, fmt.Errorf("spool: reschedule %d recipients: %w", len(moves), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	heads := map[queueID]struct{}{}
	for _, m := range moves {
		q := queueID{m.old.vmta, m.old.domain}
		if s.mu.removeRecipient(q, m.old.dueMs) {
			heads[q] = struct{}{}
		}
		s.mu.addRecipient(queueID{m.nk.vmta, m.nk.domain}, m.nk.dueMs)
	}
	if err := s.refreshHeads(heads); err != nil {
		return nil, err
	}
	return out, nil
}
