package spool

import (
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Errors callers branch on (match with errors.Is).
var (
	// ErrLowSpace: Put refuses while free space on Options.Dir's file system is below
	// Options.MinFreeSpace. It is temporary: answer 452 4.3.1 and retry later.
	ErrLowSpace = errors.New("spool: free disk space below minimum")
	// ErrNotFound: no such message or recipient (or it was already completed).
	ErrNotFound = errors.New("spool: not found")
	// ErrClosed: the spool was closed.
	ErrClosed = errors.New("spool: closed")
	// ErrReadOnly: a write on a spool opened with Options.ReadOnly.
	ErrReadOnly = errors.New("spool: read-only")
)

// nStripes is the number of per-message locks; see Spool.stripes.
const nStripes = 4096

// Spool is the durable store of queued mail. All methods are safe for concurrent use.
type Spool struct {
	opts  Options
	log   *slog.Logger
	db    *pebble.DB
	space spaceGuard
	ids   idGen
	syncs atomic.Int64 // WAL syncs, counted by syncCountingFS
	lazy  lazySync     // the deferred sync of Complete's commits
	scans scanStats    // work of queue reads (read.go)
	// oldestHint is an ID at or below the oldest pending message (oldest.go).
	oldestHint atomic.Value

	// ioErr is the storage failure in force, nil while healthy (health.go);
	// healthStop ends healthLoop, which closes healthDone.
	ioErr                  atomic.Pointer[error]
	healthStop, healthDone chan struct{}

	// inflight counts operations between enter and exit; Close sets closed and then
	// waits for inflight to drain, so Pebble is never used after it is closed (it
	// would panic). NB: not an RWMutex: a callback (Recipients' fn) may call back
	// into the spool, and a nested RLock deadlocks against a waiting Close.
	inflight atomic.Int64
	closed   atomic.Bool
	idle     chan struct{} // a token when inflight reaches 0 after closed is set

	// stripes serialise the writers of one message (Put's counter update, Complete,
	// Reschedule) by a hash of its ID. A stripe is held across the Pebble commit, so
	// the store and the counters change together; different messages use different
	// stripes and so still share fsyncs.
	stripes [nStripes]sync.Mutex
	seed    maphash.Seed

	mu struct {
		sync.Mutex
		counters
	}
}

// Open opens (creating if needed) the spool in opts.Dir and rebuilds the in-memory
// counters with one scan of the recipient keys. Every recipient stored before a crash
// comes back with its attempts, due time and last reply.
func Open(opts Options) (*Spool, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	s := &Spool{opts: opts, log: opts.Logger, seed: maphash.MakeSeed(), idle: make(chan struct{}, 1)}
	s.mu.counters = newCounters()
	s.space = spaceGuard{dir: opts.Dir, min: opts.MinFreeSpace, reserve: walReserve(opts.MemTableSize),
		interval: opts.FreeSpaceInterval, log: s.log,
		statfs: func(dir string) (int64, error) { return freeBytesOn(opts.FS, dir) }}
	if !opts.ReadOnly {
		if err := opts.FS.MkdirAll(opts.Dir, 0o750); err != nil {
			return nil, fmt.Errorf("spool: open %s: %w", opts.Dir, err)
		}
		if err := syncParents(opts.FS, opts.Dir); err != nil {
			return nil, fmt.Errorf("spool: open %s: %w", opts.Dir, err)
		}
		if opts.FS == vfs.Default {
			if err := ensureBallast(opts.Dir, opts.BallastSize, opts.MinFreeSpace, s.log); err != nil {
				return nil, err
			}
		}
	}
	db, err := pebble.Open(opts.Dir, s.pebbleOptions())
	if err != nil {
		return nil, fmt.Errorf("spool: open %s: %w", opts.Dir, err)
	}
	s.db = db
	if err := s.recover(); err != nil {
		_ = db.Close()
		return nil, err
	}
	s.startLazySync()
	if !opts.ReadOnly && opts.HealthInterval > 0 {
		s.healthStop, s.healthDone = make(chan struct{}), make(chan struct{})
		go s.healthLoop(opts.HealthInterval)
	}
	c := &s.mu.counters
	s.log.Info("spool: opened", "dir", opts.Dir, "messages", c.messages, "recipients", c.recipients,
		"queues", len(c.queues), "read_only", opts.ReadOnly)
	return s, nil
}

// syncParents fsyncs each directory above dir, so that a spool directory
// Open has just created survives a power cut (Pebble syncs only dir
// itself). Found by the power-loss test (TestReliability04_SMTP250OnlyAfterSync).
func syncParents(fs vfs.FS, dir string) error {
	for d := dir; ; {
		parent := fs.PathDir(d)
		if parent == d || parent == "" || parent == "." {
			return nil
		}
		f, err := fs.OpenDir(parent)
		if err != nil {
			return err
		}
		err = f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("sync %s: %w", parent, err)
		}
		d = parent
	}
}

func (s *Spool) pebbleOptions() *pebble.Options {
	o := &pebble.Options{
		Logger:                      slogAdapter{s.log},
		MemTableSize:                s.opts.MemTableSize,
		MemTableStopWritesThreshold: s.opts.MemTableStopWritesThreshold,
		ReadOnly:                    s.opts.ReadOnly,
		FormatMajorVersion:          pebble.FormatNewest,
		EventListener:               s.eventListener(),
	}
	var fs vfs.FS = syncCountingFS{FS: s.opts.FS, syncs: &s.syncs, created: s.space.invalidate}
	if !s.opts.ReadOnly && s.opts.BallastSize > 0 && s.opts.FS == vfs.Default {
		// NB: Pebble exits the process on a failed WAL write. On ENOSPC this wrapper
		// deletes the ballast and retries the write once, which buys the room to drain.
		dir, log := s.opts.Dir, s.log
		fs = vfs.OnDiskFull(fs, func() { releaseBallast(dir, log) })
	}
	o.FS = fs
	if n := s.opts.BlobMinSize; n > 0 {
		o.Experimental.ValueSeparationPolicy = func() pebble.ValueSeparationPolicy {
			return pebble.ValueSeparationPolicy{
				Enabled: true, MinimumSize: n, MaxBlobReferenceDepth: 10,
				RewriteMinimumAge: 0, TargetGarbageRatio: 0.2,
			}
		}
	}
	return o
}

// recover rebuilds the counters: one pass over r/ (messages, bodies, remaining
// recipients per message) and one over q/ (queues, due times).
func (s *Spool) recover() error {
	c := &s.mu.counters
	var cur string
	var curRef rcptRef
	var curN uint32
	flush := func() {
		if cur != "" {
			c.addMessage(cur, curRef.nrcpt, curRef.bodySize)
			if curRef.nrcpt > 1 {
				c.remaining[cur] = curN
			}
		}
	}
	err := s.scan([]byte(prefixRcpt), func(k, v []byte) error {
		id, _, err := parseRcptKey(k)
		if err != nil {
			return err
		}
		if id != cur {
			flush()
			if curRef, err = decodeRcptRef(v); err != nil {
				return fmt.Errorf("spool: recover %s: %w", k, err)
			}
			cur, curN = id, 0
			s.ids.observe(id)
		}
		curN++
		c.tag(curRef.pool, curRef.campaign, curRef.tenant, 1)
		return nil
	})
	if err != nil {
		return err
	}
	flush()
	return s.scan([]byte(prefixQueue), func(k, _ []byte) error {
		p, err := parseQueueKey(k)
		if err != nil {
			return err
		}
		c.addRecipient(queueID{p.vmta, p.domain}, p.dueMs)
		return nil
	})
}

// scan calls fn for every key with the prefix, in order.
func (s *Spool) scan(prefix []byte, fn func(k, v []byte) error) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return fmt.Errorf("spool: scan %q: %w", prefix, err)
	}
	for it.First(); it.Valid(); it.Next() {
		v, err := it.ValueAndErr()
		if err == nil {
			err = fn(it.Key(), v)
		}
		if err != nil {
			_ = it.Close()
			return err
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("spool: scan %q: %w", prefix, err)
	}
	return nil
}

// Close closes the store. Operations after Close return ErrClosed; Close waits for
// those in progress. Closing twice returns ErrClosed.
func (s *Spool) Close() error {
	if s.closed.Swap(true) {
		return ErrClosed
	}
	if s.healthStop != nil {
		close(s.healthStop)
		<-s.healthDone
	}
	for s.inflight.Load() > 0 {
		<-s.idle
	}
	if err := s.stopLazySync(); err != nil {
		s.log.Warn("spool: final WAL sync", "err", err)
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("spool: close %s: %w", s.opts.Dir, err)
	}
	return nil
}

// enter starts an operation; when it returns nil the caller must call exit.
func (s *Spool) enter(write bool) error {
	s.inflight.Add(1)
	switch {
	case s.closed.Load():
		s.exit()
		return ErrClosed
	case write && s.opts.ReadOnly:
		s.exit()
		return ErrReadOnly
	}
	return nil
}

func (s *Spool) exit() {
	if s.inflight.Add(-1) == 0 && s.closed.Load() {
		select {
		case s.idle <- struct{}{}:
		default:
		}
	}
}

func (s *Spool) stripe(id string) int {
	return int(maphash.String(s.seed, id) % nStripes)
}

// lockMessages locks the stripes of ids in index order (so two callers never deadlock)
// and returns the unlock function.
func (s *Spool) lockMessages(ids []string) (unlock func()) {
	idx := make([]int, 0, len(ids))
	for _, id := range ids {
		idx = append(idx, s.stripe(id))
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	for _, i := range idx {
		s.stripes[i].Lock()
	}
	return func() {
		for _, i := range idx {
			s.stripes[i].Unlock()
		}
	}
}

// Stats returns the running totals. It reads counters only.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	st := s.mu.stats()
	s.mu.Unlock()
	st.WALSyncs = s.syncs.Load()
	return st
}

// Queues lists every (vmta, domain) queue with its pending count and earliest due
// time, sorted by vmta then domain. It reads counters only.
func (s *Spool) Queues() []QueueInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	for q, st := range s.mu.queues {
		_, _ = s.headLocked(q, st) // on error the lower bound is shown
	}
	return s.mu.queueInfos()
}

// slogAdapter routes Pebble's logs to slog.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Infof(format string, args ...any) {
	a.l.Debug("pebble: " + fmt.Sprintf(format, args...))
}

func (a slogAdapter) Errorf(format string, args ...any) {
	a.l.Error("pebble: " + fmt.Sprintf(format, args...))
}

// Fatalf logs and exits, as Pebble requires of a Logger.
func (a slogAdapter) Fatalf(format string, args ...any) {
	a.l.Error("pebble: fatal: " + fmt.Sprintf(format, args...))
	os.Exit(1)
}
