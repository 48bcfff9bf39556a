package spool

import "time"

// QueueHead returns the earliest due time of queue (vmta, domain) and
// whether the queue has any pending recipient. It reads the in-memory
// counters: no I/O.
func (s *Spool) QueueHead(vmta, domain string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.mu.queues[queueID{vmta, domain}]
	if !ok || q.n == 0 {
		return time.Time{}, false
	}
	return timeOf(q.earliest), true
}

// Range returns up to limit recipients of queue (vmta, domain) with
// from <= NextDue <= until, in due order: a bounded range read, for admin
// operations that walk a queue (flush, purge) without rereading its head.
func (s *Spool) Range(vmta, domain string, from, until time.Time, limit int) ([]Recipient, error) {
	return s.rangeMs(vmta, domain, dueMsOf(from), dueMsOf(until), limit)
}
