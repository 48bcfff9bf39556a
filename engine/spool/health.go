package spool

import (
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// ErrUnavailable: the spool's storage is failing (an I/O error on a probe
// write or in Pebble's background work). It is temporary: refuse new mail
// (421 at the SMTP greeting, UNAVAILABLE on the API) until it clears.
var ErrUnavailable = errors.New("spool: storage unavailable")

// probeName is the file the health probe writes and syncs inside Options.Dir.
const probeName = "probe"

// Healthy returns nil while the storage works, and an error wrapping
// ErrUnavailable (with the I/O error) from the moment a probe write or a
// Pebble background job fails until a probe write succeeds again. It is an
// atomic load: callers may ask at every connection.
//
// NB: Pebble exits the process on a failed WAL write (it cannot know what
// reached the disk), so the spool must stop writing before the WAL meets
// the failing disk: Put refuses while unhealthy, and a probe writes and
// syncs a small file every Options.HealthInterval so that a disk that
// starts failing while idle is noticed before the next Put.
func (s *Spool) Healthy() error {
	if p := s.ioErr.Load(); p != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, *p)
	}
	return nil
}

// noteIOError marks the storage failing; the next successful probe clears it.
func (s *Spool) noteIOError(err error) {
	if s.ioErr.Swap(&err) == nil {
		s.log.Error("spool: storage failing; refusing new mail until a probe write succeeds", "dir", s.opts.Dir, "err", err)
	}
}

// healthLoop probes the storage every interval until Close.
func (s *Spool) healthLoop(interval time.Duration) {
	defer close(s.healthDone)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.healthStop:
			return
		case <-t.C:
		}
		if err := probe(s.opts.FS, s.opts.FS.PathJoin(s.opts.Dir, probeName)); err != nil {
			s.noteIOError(fmt.Errorf("probe write: %w", err))
		} else if s.ioErr.Swap(nil) != nil {
			s.log.Info("spool: storage works again; accepting mail", "dir", s.opts.Dir)
		}
	}
}

// probe writes, syncs and removes a 4 KiB file at path.
func probe(fs vfs.FS, path string) error {
	f, err := fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	_, err = f.Write(make([]byte, 4096))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return fs.Remove(path)
}

// eventListener reports Pebble's background failures (flushes,
// compactions) to the health state.
func (s *Spool) eventListener() *pebble.EventListener {
	return &pebble.EventListener{BackgroundError: func(err error) { s.noteIOError(fmt.Errorf("pebble: %w", err)) }}
}
