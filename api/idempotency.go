package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// IdempotencyStore keeps the results of requests that carried an
// idempotency key. Implementations must be safe for concurrent use. The
// engine backs it with the spool (24 h); NewMemoryIdempotencyStore serves
// tests and single-process use.
type IdempotencyStore interface {
	// Get returns the result stored under key, if any and not expired.
	Get(ctx context.Context, key string) (result []byte, ok bool, err error)
	// Put stores result under key for ttl.
	Put(ctx context.Context, key string, result []byte, ttl time.Duration) error
}

// MemoryIdempotencyStore is an IdempotencyStore in a map. Expired entries
// are dropped on access and by a sweep every 1,024 Puts.
type MemoryIdempotencyStore struct {
	clock func() time.Time
	mu    struct {
		sync.Mutex
		m    map[string]memEntry
		puts int
	}
}

type memEntry struct {
	result  []byte
	expires time.Time
}

// NewMemoryIdempotencyStore returns an empty store; clock nil means time.Now.
func NewMemoryIdempotencyStore(clock func() time.Time) *MemoryIdempotencyStore {
	if clock == nil {
		clock = time.Now
	}
	s := &MemoryIdempotencyStore{clock: clock}
	s.mu.m = map[string]memEntry{}
	return s
}

// Get implements IdempotencyStore.
func (s *MemoryIdempotencyStore) Get(_ context.Context, key string) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.mu.m[key]
	if !ok {
		return nil, false, nil
	}
	if !s.clock().Before(e.expires) {
		delete(s.mu.m, key)
		return nil, false, nil
	}
	return e.result, true, nil
}

// Put implements IdempotencyStore.
func (s *MemoryIdempotencyStore) Put(_ context.Context, key string, result []byte, ttl time.Duration) error {
	now := s.clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.m[key] = memEntry{result: bytes.Clone(result), expires: now.Add(ttl)}
	if s.mu.puts++; s.mu.puts%1024 == 0 {
		for k, e := range s.mu.m {
			if !now.Before(e.expires) {
				delete(s.mu.m, k)
			}
		}
	}
	return nil
}

// flights guards concurrent requests with the same idempotency key: the
// first runs, the others wait for it and then read its stored result. It
// covers one process; across nodes the store's own atomicity would have to.
type flights struct {
	mu sync.Mutex
	m  map[string]chan struct{}
}

// idempotent runs do at most once per (API key, scope, idempotency key)
// within the TTL: a repeat gets the stored resp of the first success. A
// failed do (which, by the API's rule, queued nothing) is not stored, so a
// retry runs again. Reusing an idempotency key for a different request is
// InvalidArgument. With no idempotency key it just runs do.
//
// The stored value is the SHA-256 of the request (deterministic protobuf
// encoding) followed by the encoded response.
func (s *Server) idempotent(ctx context.Context, k *Key, scope, idemKey string, req, resp proto.Message, do func() error) error {
	if idemKey == "" {
		return do()
	}
	if len(idemKey) > maxIdempotencyKey {
		return badField("idempotency_key", "%d bytes, at most %d", len(idemKey), maxIdempotencyKey)
	}
	enc, err := proto.MarshalOptions{Deterministic: true}.Marshal(req)
	if err != nil {
		return status.Errorf(codes.Internal, "encode request: %v", err)
	}
	fp := sha256.Sum256(enc)
	storeKey := k.Name + "\x00" + scope + "\x00" + idemKey
	for {
		if done, err := s.replay(ctx, storeKey, fp, resp); done || err != nil {
			return err
		}
		s.flights.mu.Lock()
		if wait, busy := s.flights.m[storeKey]; busy {
			s.flights.mu.Unlock()
			select {
			case <-wait:
				continue // the first one finished: read its result (or run, if it failed)
			case <-ctx.Done():
				return status.FromContextError(ctx.Err()).Err()
			}
		}
		finished := make(chan struct{})
		s.flights.m[storeKey] = finished
		s.flights.mu.Unlock()
		err := s.runOnce(ctx, storeKey, fp, resp, do)
		s.flights.mu.Lock()
		delete(s.flights.m, storeKey)
		s.flights.mu.Unlock()
		close(finished)
		return err
	}
}

// runOnce runs do as the one flight for storeKey and stores its result.
func (s *Server) runOnce(ctx context.Context, storeKey string, fp [32]byte, resp proto.Message, do func() error) error {
	// NB: check again now that this call owns the key: a flight that
	// finished between our first look and taking ownership has stored
	// its result, and running do again would queue the mail twice.
	if done, err := s.replay(ctx, storeKey, fp, resp); done || err != nil {
		return err
	}
	if err := do(); err != nil {
		return err
	}
	out, err := proto.Marshal(resp)
	if err != nil {
		return status.Errorf(codes.Internal, "encode response: %v", err)
	}
	// The mail is queued whatever happens here: a failed Put only loses
	// the protection against a later retry, so it is logged, not returned.
	if err := s.opts.Idempotency.Put(context.WithoutCancel(ctx), storeKey, append(fp[:], out...), s.opts.IdempotencyTTL); err != nil {
		s.opts.Logger.Error("api: idempotency store put failed", "err", err)
	}
	return nil
}

// replay fills resp from a stored result; done reports whether there was one.
func (s *Server) replay(ctx context.Context, storeKey string, fp [32]byte, resp proto.Message) (done bool, err error) {
	stored, ok, err := s.opts.Idempotency.Get(ctx, storeKey)
	if err != nil {
		s.opts.Logger.Error("api: idempotency store get failed", "err", err)
		return false, status.Error(codes.Unavailable, "idempotency store unavailable; retry later")
	}
	if !ok {
		return false, nil
	}
	if len(stored) < len(fp) || !bytes.Equal(stored[:len(fp)], fp[:]) {
		return false, badField("idempotency_key", "already used for a different request; use a new key for new mail")
	}
	if err := proto.Unmarshal(stored[len(fp):], resp); err != nil {
		return false, status.Errorf(codes.Internal, "decode stored response: %v", err)
	}
	return true, nil
}
