package mx

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// cache holds DNS answers by question until they expire, and coalesces
// concurrent misses for one question into one flight.
//
// NB: a flight runs in its own goroutine on a context detached from the
// callers' (bounded by Timeout × Attempts × len(Resolvers)), and each caller
// waits for it or for its own context. So a caller that gives up neither
// cancels the query for the others waiting on it nor keeps its (complete)
// answer out of the cache.
type cache struct {
	// hits, misses and joins count questions answered from the cache, sent
	// to the resolvers, and joined to a flight already on its way.
	hits, misses, joins atomic.Int64

	mu      sync.Mutex
	entries map[question]*answer
	flights map[question]*flight
}

// flight is one question on its way to the resolvers.
type flight struct {
	done chan struct{} // closed once ans is set
	ans  *answer
}

// get returns the answers to qs, in order, asking the resolvers in parallel
// for those not cached. Its error is the context's, wrapping ErrTemporary;
// failures of the questions themselves are in answer.err.
func (r *Resolver) get(ctx context.Context, qs ...question) ([]*answer, error) {
	answers := make([]*answer, len(qs))
	var waits []*flight
	now := r.cfg.Clock()
	r.cache.mu.Lock()
	for i, q := range qs {
		if a, ok := r.cache.entries[q]; ok && now.Before(a.expires) {
			answers[i] = a
			r.cache.hits.Add(1)
			continue
		}
		f := r.cache.flights[q]
		if f != nil {
			r.cache.joins.Add(1)
		}
		if f == nil {
			r.cache.misses.Add(1)
			f = &flight{done: make(chan struct{})}
			r.cache.flights[q] = f
			go r.fly(context.WithoutCancel(ctx), q, f)
		}
		if waits == nil {
			waits = make([]*flight, len(qs))
		}
		waits[i] = f
	}
	r.cache.mu.Unlock()

	for i, f := range waits {
		if f == nil {
			continue
		}
		select {
		case <-f.done:
			answers[i] = f.ans
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: waiting for %s: %w", ErrTemporary, qs[i], ctx.Err())
		}
	}
	return answers, nil
}

// fly asks q, caches the answer and lands the flight.
func (r *Resolver) fly(ctx context.Context, q question, f *flight) {
	a := r.query(ctx, q)
	r.cache.mu.Lock()
	if a.err == nil || r.cfg.TempFailTTL > 0 {
		r.evictLocked()
		r.cache.entries[q] = a
	}
	delete(r.cache.flights, q)
	r.cache.mu.Unlock()
	f.ans = a
	close(f.done)
}

// evictLocked makes room for one entry: when the cache is full it drops the
// expired entries, then arbitrary ones (map order) down to 7/8 of
// MaxEntries, so the O(n) sweep is paid once per n/8 inserts.
func (r *Resolver) evictLocked() {
	entries := r.cache.entries
	if len(entries) < r.cfg.MaxEntries {
		return
	}
	now := r.cfg.Clock()
	for q, a := range entries {
		if !now.Before(a.expires) {
			delete(entries, q)
		}
	}
	target := min(r.cfg.MaxEntries-r.cfg.MaxEntries/8, r.cfg.MaxEntries-1)
	for q := range entries {
		if len(entries) <= target {
			break
		}
		delete(entries, q)
	}
}
