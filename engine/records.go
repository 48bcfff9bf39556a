package engine

import (
	"context"
	"errors"
	"time"

	"github.com/sluice-mta/sluice/engine/spool"
)

// IdempotencyStore keeps API idempotency results in the spool, so a client
// retrying after a crash or restart still gets its first result (and
// nothing is queued twice). It satisfies api.IdempotencyStore.
type IdempotencyStore struct{ e *Engine }

// Idempotency returns the engine's durable idempotency store.
func (e *Engine) Idempotency() IdempotencyStore { return IdempotencyStore{e} }

// Get returns the stored result for key, if any and not expired.
func (s IdempotencyStore) Get(_ context.Context, key string) ([]byte, bool, error) {
	v, err := s.e.spool.GetRecord(key)
	if errors.Is(err, spool.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return v, true, nil
}

// Put stores result under key for ttl, durably.
func (s IdempotencyStore) Put(_ context.Context, key string, result []byte, ttl time.Duration) error {
	return s.e.spool.PutRecord(key, result, s.e.clock().Add(ttl))
}
