package engine

import (
	"context"
	"sync"
)

// inflightLimit bounds the recipients the dispatcher has handed to
// delivery and not yet got back: with it, the memory of the delivery path
// (jobs, message bodies read from the spool, routing goroutines) is bounded
// whatever the backlog, and the spool stays the only place a backlog lives.
type inflightLimit struct {
	mu   sync.Mutex
	cond *sync.Cond
	max  int
	used int
}

func newInflightLimit(max int) *inflightLimit {
	l := &inflightLimit{max: max}
	l.cond = sync.NewCond(&l.mu)
	return l
}

// acquire waits until n more recipients fit (n larger than the limit waits
// for an empty pipeline), or ctx ends.
func (l *inflightLimit) acquire(ctx context.Context, n int) error {
	stop := context.AfterFunc(ctx, func() {
		l.mu.Lock()
		l.cond.Broadcast()
		l.mu.Unlock()
	})
	defer stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.used > 0 && l.used+n > l.max {
		if err := ctx.Err(); err != nil {
			return err
		}
		l.cond.Wait()
	}
	l.used += n
	return nil
}

func (l *inflightLimit) release(n int) {
	l.mu.Lock()
	l.used -= n
	l.mu.Unlock()
	l.cond.Broadcast()
}
