package spool

import (
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// finishing is what Complete learned about one message of its batch.
type finishing struct {
	ref  rcptRef
	n    uint32 // recipients of this message removed by the batch
	last bool   // the batch removes its last recipient: body and envelope go too
}

// Complete removes finished recipients (delivered or bounced) in one batch committed
// with pebble.Sync, and deletes a message's body and envelope with its last recipient.
// Only MsgID and Idx of each Recipient are used. A recipient that is no longer stored
// (completed already) is skipped, so Complete is idempotent.
func (s *Spool) Complete(rs []Recipient) error {
	if len(rs) == 0 {
		return nil
	}
	if err := s.enter(true); err != nil {
		return err
	}
	defer s.exit()
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.MsgID
	}
	unlock := s.lockMessages(ids)
	defer unlock()

	b := s.db.NewBatch()
	defer b.Close()
	msgs := make(map[string]*finishing)
	seen := make(map[string]struct{}, len(rs))
	var removed []parsedQueueKey
	for _, r := range rs {
		rk := rcptKey(r.MsgID, r.Idx)
		if _, dup := seen[string(rk)]; dup {
			continue
		}
		seen[string(rk)] = struct{}{}
		ref, err := s.rcptRef(rk)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("spool: complete %s/%d: %w", r.MsgID, r.Idx, err)
		}
		pk, err := parseQueueKey(ref.qkey)
		if err != nil {
			return fmt.Errorf("spool: complete %s/%d: %w", r.MsgID, r.Idx, err)
		}
		_ = b.Delete(ref.qkey, nil)
		_ = b.Delete(rk, nil)
		removed = append(removed, pk)
		if f := msgs[r.MsgID]; f != nil {
			f.n++
		} else {
			msgs[r.MsgID] = &finishing{ref: ref, n: 1}
		}
	}
	if len(removed) == 0 {
		return nil
	}
	s.mu.Lock()
	for id, f := range msgs {
		f.last = s.mu.pending(id, f.ref.nrcpt) <= f.n
	}
	s.mu.Unlock()
	for id, f := range msgs {
		if f.last {
			_ = b.Delete(bodyKey(id), nil)
			_ = b.Delete(envelopeKey(id), nil)
		}
	}
	// NB: not synced here: see lazySync. Until the WAL is synced a crash may
	// bring the recipients back, and they are delivered again.
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("spool: complete %d recipients: %w", len(removed), err)
	}
	s.unsynced()

	s.mu.Lock()
	defer s.mu.Unlock()
	moved := make(map[queueID]struct{})
	for _, pk := range removed {
		q := queueID{pk.vmta, pk.domain}
		if s.mu.removeRecipient(q, pk.dueMs) {
			moved[q] = struct{}{}
		}
	}
	for id, f := range msgs {
		s.mu.tag(f.ref.pool, f.ref.campaign, f.ref.tenant, -int64(f.n))
		if f.last {
			s.mu.removeMessage(id, f.ref.bodySize)
		} else if f.ref.nrcpt > 1 {
			s.mu.remaining[id] -= f.n
		}
	}
	return s.refreshHeads(moved)
}

// Reschedule moves a pending recipient to due time next, with one more attempt and
// reply as its last reply, in one batch (delete the old queue key, put the new one)
// committed with pebble.Sync. Only MsgID and Idx of r are used; the stored state is
// authoritative. It returns the recipient as now stored, or ErrNotFound.
func (s *Spool) Reschedule(r Recipient, next time.Time, reply string) (Recipient, error) {
	if err := s.enter(true); err != nil {
		return Recipient{}, err
	}
	defer s.exit()
	unlock := s.lockMessages([]string{r.MsgID})
	defer unlock()

	rk := rcptKey(r.MsgID, r.Idx)
	ref, err := s.rcptRef(rk)
	var (
		old parsedQueueKey
		st  state
		v   []byte
	)
	if err == nil {
		old, err = parseQueueKey(ref.qkey)
	}
	if err == nil {
		v, err = s.get(ref.qkey)
	}
	if err == nil {
		st, err = decodeState(v)
	}
	if err != nil {
		return Recipient{}, fmt.Errorf("spool: reschedule %s/%d: %w", r.MsgID, r.Idx, err)
	}
	st.attempts++
	st.lastReply = reply
	st.lastAttempt = msOf(s.opts.Clock())
	nk := parsedQueueKey{vmta: old.vmta, domain: old.domain, dueMs: dueMsOf(next), id: old.id, idx: old.idx}
	ref.qkey = queueKey(nk.vmta, nk.domain, nk.dueMs, nk.id, nk.idx)

	b := s.db.NewBatch()
	defer b.Close()
	_ = b.Delete(queueKey(old.vmta, old.domain, old.dueMs, old.id, old.idx), nil)
	_ = b.Set(ref.qkey, encodeState(&st), nil)
	_ = b.Set(rk, encodeRcptRef(&ref), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return Recipient{}, fmt.Errorf("spool: reschedule %s/%d: %w", r.MsgID, r.Idx, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	q := queueID{old.vmta, old.domain}
	moved := s.mu.removeRecipient(q, old.dueMs)
	s.mu.addRecipient(q, nk.dueMs)
	if moved {
		if err := s.refreshHeads(map[queueID]struct{}{q: {}}); err != nil {
			return Recipient{}, err
		}
	}
	return toRecipient(nk, &st), nil
}

func (s *Spool) rcptRef(rk []byte) (rcptRef, error) {
	v, err := s.get(rk)
	if err != nil {
		return rcptRef{}, err
	}
	return decodeRcptRef(v)
}

// refreshHeads marks the queues whose head may have moved: their earliest
// due stays a lower bound (what readers of a queue's range need) until
// headLocked reads the new head for someone who needs it exact. Reading it
// here, after every Complete, cost a seek per batch; most are never asked for.
func (s *Spool) refreshHeads(qs map[queueID]struct{}) error {
	for q := range qs {
		if st := s.mu.queues[q]; st != nil {
			st.stale = true
		}
	}
	return nil
}

// headLocked makes queue q's earliest due exact and returns it. The caller
// holds s.mu, so no Put or Reschedule can lower it between the read and the
// update (they apply min() under s.mu after committing).
func (s *Spool) headLocked(q queueID, st *queueStat) (int64, error) {
	if !st.stale {
		return st.earliest, nil
	}
	due, ok, err := s.queueHead(q, st.earliest)
	if err != nil {
		return st.earliest, fmt.Errorf("spool: queue head %s/%s: %w", q.vmta, q.domain, err)
	}
	if ok {
		st.earliest = due
	}
	// !ok: a concurrent Complete has committed the removal of the remaining keys
	// and will update the counters next; earliest stays a lower bound until then.
	st.stale = !ok
	return st.earliest, nil
}
