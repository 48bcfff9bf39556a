package spool

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// get returns a copy of key's value, or ErrNotFound.
func (s *Spool) get(key []byte) ([]byte, error) {
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), v...)
	_ = closer.Close()
	return out, nil
}

// Body returns the stored message body (a copy the caller owns).
func (s *Spool) Body(id string) ([]byte, error) {
	if err := s.enter(false); err != nil {
		return nil, err
	}
	defer s.exit()
	v, err := s.get(bodyKey(id))
	if err != nil {
		return nil, fmt.Errorf("spool: body %s: %w", id, err)
	}
	if len(v) == 0 || v[0] != bodyInlineV1 {
		return nil, fmt.Errorf("spool: body %s: %w", id, errCorrupt)
	}
	return v[1:], nil
}

// Envelope returns the stored envelope of message id.
func (s *Spool) Envelope(id string) (Envelope, error) {
	if err := s.enter(false); err != nil {
		return Envelope{}, err
	}
	defer s.exit()
	v, err := s.get(envelopeKey(id))
	if err == nil {
		var e storedEnvelope
		if e, err = decodeEnvelope(v); err == nil {
			return e.Envelope, nil
		}
	}
	return Envelope{}, fmt.Errorf("spool: envelope %s: %w", id, err)
}

// Recipients calls fn for every pending recipient in key order (vmta, domain, due
// time, message ID, index) and stops early when fn returns false. It reads a
// consistent snapshot; fn may call other Spool methods.
func (s *Spool) Recipients(fn func(Recipient) bool) error {
	if err := s.enter(false); err != nil {
		return err
	}
	defer s.exit()
	lo := []byte(prefixQueue)
	_, err := s.readQueue(lo, prefixEnd(lo), fn)
	return err
}

// Due returns up to limit recipients of queue (vmta, domain) with NextDue <= until,
// in due order: a range read from the head of that queue. limit <= 0 returns nothing.
func (s *Spool) Due(vmta, domain string, until time.Time, limit int) ([]Recipient, error) {
	// NB: start at the queue's earliest due, not at its prefix: a queue that
	// is drained from its head leaves a trail of deletion tombstones before
	// it, which a read from the prefix would step over every time.
	var fromMs int64
	s.mu.Lock()
	if q, ok := s.mu.queues[queueID{vmta, domain}]; ok {
		fromMs = q.earliest
	}
	s.mu.Unlock()
	rs, err := s.rangeMs(vmta, domain, fromMs, dueMsOf(until), limit)
	if err != nil {
		return nil, fmt.Errorf("spool: due %s/%s: %w", vmta, domain, err)
	}
	return rs, nil
}

// QueuePos is a position in a queue: the key of a recipient read from it.
// The zero QueuePos is the queue's head.
type QueuePos struct {
	dueMs int64
	id    string
	idx   uint32
}

// PosOf returns the position of r in its queue.
func PosOf(r Recipient) QueuePos {
	return QueuePos{dueMs: dueMsOf(r.NextDue), id: r.MsgID, idx: r.Idx}
}

// IsHead reports whether p is the zero position, the queue's head.
func (p QueuePos) IsHead() bool { return p.id == "" }

// DueAfter is Due for a reader that remembers where it stopped. It returns up
// to limit recipients of queue (vmta, domain) with NextDue <= until whose
// keys sort after `after`, skipping the recipients before it (the reader has
// them in flight, or they are gone) and their deletion tombstones.
//
// It reads from the head instead, with limit+busy (busy being what the
// reader holds in flight, which a read from the head passes over), and
// reports fromHead, when after is the head or when a key was added to the
// queue at or before after's due time since the previous DueAfter of this
// queue: a recipient that could sort before the reader's position. The
// reader must also go back to the head itself (a zero QueuePos) whenever it
// drops recipients from its in-flight set without the spool having moved or
// deleted them.
func (s *Spool) DueAfter(vmta, domain string, after QueuePos, until time.Time, limit, busy int) (rs []Recipient, fromHead bool, err error) {
	s.mu.Lock()
	q, ok := s.mu.queues[queueID{vmta, domain}]
	if !ok {
		s.mu.Unlock()
		return nil, true, nil
	}
	fromHead = after.IsHead() || q.minAdded <= after.dueMs
	// NB: under mu, and every addRecipient comes after its key's commit: a
	// key added after this point raises minAdded for the next call, and one
	// added before it is visible to the iterator opened below.
	q.minAdded = math.MaxInt64
	fromMs := q.earliest
	s.mu.Unlock()
	if fromHead {
		rs, err = s.rangeMs(vmta, domain, fromMs, dueMsOf(until), limit+busy)
	} else {
		rs, err = s.rangeAfter(vmta, domain, after, fromMs, dueMsOf(until), limit)
	}
	if err != nil {
		return nil, fromHead, fmt.Errorf("spool: due %s/%s: %w", vmta, domain, err)
	}
	return rs, fromHead, nil
}

// rangeAfter returns up to limit recipients of queue (vmta, domain) whose
// keys sort after `after`, with a due time (ms) in [fromMs, untilMs].
func (s *Spool) rangeAfter(vmta, domain string, after QueuePos, fromMs, untilMs int64, limit int) ([]Recipient, error) {
	lo := append(queueKey(vmta, domain, after.dueMs, after.id, after.idx), 0) // the next key up
	if head := dueBound(vmta, domain, fromMs); bytes.Compare(head, lo) > 0 {
		lo = head
	}
	return s.readRange(lo, dueBound(vmta, domain, untilMs+1), limit)
}

// rangeMs returns up to limit recipients of queue (vmta, domain) with a due
// time (ms) in [fromMs, untilMs], in due order: a bounded range read.
func (s *Spool) rangeMs(vmta, domain string, fromMs, untilMs int64, limit int) ([]Recipient, error) {
	return s.readRange(dueBound(vmta, domain, fromMs), dueBound(vmta, domain, untilMs+1), limit)
}

// dueBound is the smallest key of queue (vmta, domain) due at dueMs.
func dueBound(vmta, domain string, dueMs int64) []byte {
	return queueKey(vmta, domain, dueMs, "", 0)[:len(queuePrefix(vmta, domain))+dueLen]
}

// readRange returns up to limit recipients whose q/ keys are in [lo, hi).
func (s *Spool) readRange(lo, hi []byte, limit int) ([]Recipient, error) {
	if limit <= 0 || bytes.Compare(lo, hi) >= 0 {
		return nil, nil
	}
	if err := s.enter(false); err != nil {
		return nil, err
	}
	defer s.exit()
	var out []Recipient
	_, err := s.readQueue(lo, hi, func(r Recipient) bool {
		out = append(out, r)
		return len(out) < limit
	})
	return out, err
}

// readQueue decodes the q/ keys in [lo, hi) for fn and returns how many it read.
func (s *Spool) readQueue(lo, hi []byte, fn func(Recipient) bool) (int, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return 0, err
	}
	n := 0
	for it.First(); it.Valid(); it.Next() {
		r, err := decodeQueueEntry(it)
		if err != nil {
			_ = it.Close()
			return n, err
		}
		n++
		if !fn(r) {
			break
		}
	}
	s.scans.add(it.Stats(), n)
	return n, it.Close()
}

// scanStats counts the work of queue reads (Due, Range, Recipients): keys
// returned and internal keys Pebble stepped over to find them (deletion
// tombstones, shadowed versions). Tests assert that a Due scan's work stays
// flat as the store churns; it costs a few atomic adds per read.
type scanStats struct {
	scans, returned, internalSteps atomic.Int64
}

func (st *scanStats) add(is pebble.IteratorStats, returned int) {
	st.scans.Add(1)
	st.returned.Add(int64(returned))
	st.internalSteps.Add(int64(is.ForwardStepCount[pebble.InternalIterCall] + is.ForwardSeekCount[pebble.InternalIterCall]))
}

func decodeQueueEntry(it *pebble.Iterator) (Recipient, error) {
	k, err := parseQueueKey(it.Key())
	if err != nil {
		return Recipient{}, err
	}
	v, err := it.ValueAndErr()
	if err != nil {
		return Recipient{}, err
	}
	st, err := decodeState(v)
	if err != nil {
		return Recipient{}, fmt.Errorf("spool: recipient %s/%d: %w", k.id, k.idx, err)
	}
	return toRecipient(k, &st), nil
}

// queueHead returns the due (ms) of queue q's first key at or after fromMs, and
// whether there is one. The caller holds s.mu.
func (s *Spool) queueHead(q queueID, fromMs int64) (int64, bool, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: dueBound(q.vmta, q.domain, fromMs),
		UpperBound: prefixEnd(queuePrefix(q.vmta, q.domain))})
	if err != nil {
		return 0, false, err
	}
	defer it.Close()
	if !it.First() {
		return 0, false, it.Error()
	}
	k, err := parseQueueKey(it.Key())
	if err != nil {
		return 0, false, err
	}
	return k.dueMs, true, nil
}
