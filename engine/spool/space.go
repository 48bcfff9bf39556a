package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// BallastName is the ballast file's name inside Options.Dir.
const BallastName = "ballast"

// spaceGuard answers "may Put write?" from a statfs reading reused for a short interval.
type spaceGuard struct {
	dir      string
	min      int64
	reserve  int64 // room kept on top of min for Pebble's next WAL (walReserve)
	interval time.Duration
	log      *slog.Logger
	statfs   func(dir string) (int64, error) // seam for tests

	mu      sync.Mutex
	checked time.Time // wall clock of the last statfs
	free    int64
	low     bool // last verdict, to log transitions once
}

func freeBytes(dir string) (int64, error) { return freeBytesOn(vfs.Default, dir) }

// freeBytesOn returns the bytes available to the spool on fs at dir.
func freeBytesOn(fs vfs.FS, dir string) (int64, error) {
	u, err := fs.GetDiskUsage(dir)
	if err != nil {
		return 0, err
	}
	return int64(u.AvailBytes), nil
}

// check returns an error wrapping ErrLowSpace when fewer than min bytes are free.
// Between statfs readings it deducts est bytes per admitted write from the cached
// figure, so a burst of large writes cannot overrun the minimum inside one interval.
func (g *spaceGuard) check(est int64) error {
	if g.min < 0 {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if now := time.Now(); g.checked.IsZero() || now.Sub(g.checked) >= g.interval {
		free, err := g.statfs(g.dir)
		if err != nil {
			return fmt.Errorf("spool: statfs %s: %w", g.dir, err)
		}
		g.checked, g.free = now, free
	}
	low := g.free-g.reserve < g.min
	if low != g.low {
		g.low = low
		if low {
			g.log.Error("spool: free disk space below minimum; refusing new mail",
				"dir", g.dir, "free_bytes", g.free, "min_bytes", g.min)
		} else {
			g.log.Info("spool: free disk space back above minimum; accepting mail",
				"dir", g.dir, "free_bytes", g.free, "min_bytes", g.min)
		}
	}
	if low {
		return fmt.Errorf("spool: %d bytes free on %s, need %d plus %d for the next WAL file (free space or delete %s): %w",
			g.free, g.dir, g.min, g.reserve, filepath.Join(g.dir, BallastName), ErrLowSpace)
	}
	g.free -= est
	return nil
}

// walReserve is the disk space Pebble takes at once when it starts a new
// WAL file: it preallocates 110% of the memtable size (pebble's
// walPreallocateSize). A spool that kept only MinFreeSpace free could meet
// ENOSPC at the next memtable rotation, and Pebble exits the process on a
// failed WAL write (found by TestReliability05_DiskNearlyFull_452ThenRestartLosesNothing).
func walReserve(memTableSize uint64) int64 {
	return int64(memTableSize + memTableSize/10)
}

// invalidate drops the cached free-space reading, so the next check calls
// statfs: a new WAL file has just taken its preallocation.
func (g *spaceGuard) invalidate() {
	g.mu.Lock()
	g.checked = time.Time{}
	g.mu.Unlock()
}

// ensureBallast creates <dir>/ballast of size bytes when it is missing and the disk has
// size+reserve bytes free. A missing ballast that cannot be made is logged, not fatal.
func ensureBallast(dir string, size, reserve int64, log *slog.Logger) error {
	if size <= 0 {
		return nil
	}
	path := filepath.Join(dir, BallastName)
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("spool: ballast %s: %w", path, err)
	}
	free, err := freeBytes(dir)
	if err != nil {
		return fmt.Errorf("spool: statfs %s: %w", dir, err)
	}
	if free < size+max(reserve, 0) {
		log.Warn("spool: not enough free space to create the ballast file",
			"path", path, "ballast_bytes", size, "free_bytes", free)
		return nil
	}
	if err := writeBallast(path, size); err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("spool: create ballast %s: %w", path, err)
	}
	log.Info("spool: ballast file created", "path", path, "bytes", size)
	return nil
}

// writeBallast preallocates size bytes at path and syncs it; see ballast_*.go.
func writeBallast(path string, size int64) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	err = allocate(f, size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// releaseBallast deletes the ballast; Pebble calls it (through vfs.OnDiskFull) when a
// write meets ENOSPC, then retries the write once.
func releaseBallast(dir string, log *slog.Logger) {
	path := filepath.Join(dir, BallastName)
	err := os.Remove(path)
	switch {
	case err == nil:
		log.Error("spool: disk full; ballast deleted to let the store continue; free space, then restart to recreate it",
			"path", path)
	case errors.Is(err, fs.ErrNotExist):
		log.Error("spool: disk full and no ballast left to delete", "path", path)
	default:
		log.Error("spool: disk full; could not delete ballast", "path", path, "err", err)
	}
}
