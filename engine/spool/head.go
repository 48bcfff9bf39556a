package spool

import "time"

// QueueHead returns the earliest due time of queue (vmta, domain) and
// whether the queue has any pending recipient. It reads the in-memory
// counters, and the queue's first key when recipients were removed from its
// head since the last look. Should that read fail, it answers a few seconds
// from now, so that a caller who schedules on it retries without spinning.
func (s *Spool) QueueHead(vmta, domain string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := queueID{vmta, domain}
	q, ok := s.mu.queues[id]
	if !ok || q.n == 0 {
		return time.Time{}, false
	}
	due, err := s.headLocked(id, q)
	if err != nil {
		s.opts.Logger.Warn("read queue head", "vmta", vmta, "domain", domain, "err", err)
		return s.opts.Clock().Add(5 * time.Second), true
	}
	return timeOf(due), true
}

// Range returns up to limit recipients of queue (vmta, domain) with
// from <= NextDue <= until, in due order: a bounded range read, for admin
// operations that walk a queue (flush, purge) without rereading its head.
func (s *Spool) Range(vmta, domain string, from, until time.Time, limit int) ([]Recipient, error) {
	return s.rangeMs(vmta, domain, dueMsOf(from), dueMsOf(until), limit)
}
