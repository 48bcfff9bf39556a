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
