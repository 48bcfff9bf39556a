package queue

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// Key names a queue: the recipients of one destination domain sent from
// one virtual MTA.
type Key struct {
	VMTA, Domain string
}

// entry is the scheduler's state for one queue.
type entry struct {
	key    Key
	due    time.Time // zero: not scheduled
	index  int       // position in the heap, -1 when not in it
	paused bool
}

// Scheduler orders queues by their next due time. It is safe for
// concurrent use; Next is meant for one dispatcher goroutine (several work,
// each popping distinct queues).
type Scheduler struct {
	clock Clock

	mu      sync.Mutex
	entries map[Key]*entry
	heap    entryHeap
	wake    chan struct{} // capacity 1: "the heap changed"
}

// NewScheduler returns an empty scheduler on clock (RealClock if nil).
func NewScheduler(clock Clock) *Scheduler {
	if clock == nil {
		clock = RealClock{}
	}
	return &Scheduler{clock: clock, entries: map[Key]*entry{}, wake: make(chan struct{}, 1)}
}

func (s *Scheduler) entry(k Key) *entry {
	e := s.entries[k]
	if e == nil {
		e = &entry{key: k, index: -1}
		s.entries[k] = e
	}
	return e
}

// Schedule asks for queue k to be popped at due or later. If the queue is
// already scheduled earlier, the earlier time stands.
func (s *Scheduler) Schedule(k Key, due time.Time) {
	s.mu.Lock()
	e := s.entry(k)
	if e.due.IsZero() || due.Before(e.due) {
		e.due = due
		if !e.paused {
			if e.index < 0 {
				heap.Push(&s.heap, e)
			} else {
				heap.Fix(&s.heap, e.index)
			}
		}
	}
	s.mu.Unlock()
	s.poke()
}

// Unschedule forgets queue k's due time (for example when it is empty). A
// paused queue stays paused.
func (s *Scheduler) Unschedule(k Key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.entries[k]; e != nil {
		if e.index >= 0 {
			heap.Remove(&s.heap, e.index)
		}
		e.due = time.Time{}
		if !e.paused {
			delete(s.entries, k)
		}
	}
}

// Pause takes queue k out of the rotation; its due time is kept for Resume.
func (s *Scheduler) Pause(k Key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entry(k)
	e.paused = true
	if e.index >= 0 {
		heap.Remove(&s.heap, e.index)
	}
}

// Resume puts a paused queue back in the rotation.
func (s *Scheduler) Resume(k Key) {
	s.mu.Lock()
	e := s.entries[k]
	if e == nil || !e.paused {
		s.mu.Unlock()
		return
	}
	e.paused = false
	if !e.due.IsZero() {
		heap.Push(&s.heap, e)
	}
	s.mu.Unlock()
	s.poke()
}

// Paused reports whether queue k is paused.
func (s *Scheduler) Paused(k Key) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entries[k]
	return e != nil && e.paused
}

// Len returns the number of queues waiting in the heap.
func (s *Scheduler) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.heap.Len()
}

func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Next blocks until a queue is due and returns it, taken out of the heap:
// the caller schedules it again when it knows the queue's next due time.
func (s *Scheduler) Next(ctx context.Context) (Key, error) {
	for {
		s.mu.Lock()
		var wait time.Duration = -1
		if s.heap.Len() > 0 {
			top := s.heap[0]
			now := s.clock.Now()
			if !top.due.After(now) {
				heap.Pop(&s.heap)
				top.due = time.Time{}
				s.mu.Unlock()
				return top.key, nil
			}
			wait = top.due.Sub(now)
		}
		s.mu.Unlock()
		if err := s.sleep(ctx, wait); err != nil {
			return Key{}, err
		}
	}
}

// sleep waits for d (forever if negative), a Schedule, or ctx.
func (s *Scheduler) sleep(ctx context.Context, d time.Duration) error {
	var timerC <-chan time.Time
	if d >= 0 {
		t := s.clock.NewTimer(d)
		defer t.Stop()
		timerC = t.C()
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.wake:
	case <-timerC:
	}
	return nil
}

type entryHeap []*entry

func (h entryHeap) Len() int           { return len(h) }
func (h entryHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h entryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *entryHeap) Push(x any) {
	e := x.(*entry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *entryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.index = -1
	return e
}
