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
	if limit <= 0 {
		return nil, nil
	}
	if err := s.enter(false); err != nil {
		return nil, err
	}
	defer s.exit()
	p := queuePrefix(vmta, domain)
	lo := queueKey(vmta, domain, dueMsOf(from), "", 0)[:len(p)+dueLen]
	hi := queueKey(vmta, domain, dueMsOf(until)+1, "", 0)[:len(p)+dueLen]
	var out []Recipient
	_, err := s.readQueue(lo, hi, func(r Recipient) bool {
		out = append(out, r)
		return len(out) < limit
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
