package spool

import (
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// lazySync makes Complete's commits durable a little later, in the
// background: a delivered recipient's removal does not need an fsync of its
// own before the delivery path goes on (if it is lost, the recipient is
// delivered again: at least once still holds), and leaving it out halves the
// WAL syncs of a node that delivers as fast as it accepts, so that each
// acknowledging sync of a Put waits less and covers more. The removal is
// synced by the next synced commit of anything, or at the latest
// Options.CompletionSyncDelay later, by syncWAL.
type lazySync struct {
	kick chan struct{} // 1-buffered: an unsynced commit happened
	stop chan struct{}
	done chan struct{}
}

func (s *Spool) startLazySync() {
	s.lazy = lazySync{kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go s.lazySyncLoop()
}

// unsynced records a commit made with pebble.NoSync.
func (s *Spool) unsynced() {
	select {
	case s.lazy.kick <- struct{}{}:
	default:
	}
}

func (s *Spool) lazySyncLoop() {
	defer close(s.lazy.done)
	t := time.NewTimer(time.Hour)
	t.Stop()
	for {
		select {
		case <-s.lazy.kick:
		case <-s.lazy.stop:
			return
		}
		t.Reset(s.opts.CompletionSyncDelay)
		select {
		case <-t.C:
		case <-s.lazy.stop:
			t.Stop()
			return // Close syncs
		}
		if err := s.syncWAL(); err != nil && err != ErrClosed {
			s.log.Warn("spool: sync the WAL after completions", "err", err)
		}
	}
}

// syncWAL fsyncs the WAL, and with it every commit made before.
func (s *Spool) syncWAL() error {
	if err := s.enter(false); err != nil {
		return err
	}
	defer s.exit()
	return s.db.LogData(nil, pebble.Sync)
}

// stopLazySync ends the loop and syncs what it had not; Close calls it
// before closing Pebble.
func (s *Spool) stopLazySync() error {
	close(s.lazy.stop)
	<-s.lazy.done
	if s.opts.ReadOnly {
		return nil
	}
	return s.db.LogData(nil, pebble.Sync)
}
