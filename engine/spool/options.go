package spool

import (
	"errors"
	"log/slog"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Defaults for Options. The Pebble figures were chosen by measurement; see BENCH.md.
const (
	// DefaultMinFreeSpace is the free space (bytes) below which Put refuses new mail.
	DefaultMinFreeSpace = 2 << 30
	// DefaultBallastSize is the size (bytes) of the ballast file preallocated at Open.
	DefaultBallastSize = 256 << 20
	// DefaultMemTableSize is the Pebble memtable size (bytes).
	DefaultMemTableSize = 64 << 20
	// DefaultCompletionSyncDelay is the default Options.CompletionSyncDelay.
	DefaultCompletionSyncDelay = 50 * time.Millisecond
	// DefaultFreeSpaceInterval is how long (wall time) a free-space reading is reused.
	DefaultFreeSpaceInterval = time.Second
)

// Options configures a Spool. Zero fields take the defaults named in each comment
// (EnsureDefaults fills them); only Dir is required.
type Options struct {
	// Dir is the directory holding the Pebble store and the ballast file. Required.
	// It is created at Open if missing (unless ReadOnly).
	Dir string

	// MinFreeSpace is the free space, in bytes, that the file system holding Dir must
	// keep: Put returns ErrLowSpace while fewer bytes are free (as seen by statfs,
	// re-read at most every FreeSpaceInterval, and at once after Pebble starts a WAL file),
	// plus room for Pebble's next WAL file, which it preallocates at 110% of
	// MemTableSize. Complete and Reschedule are never refused
	// for space, since finishing mail is how space comes back.
	// Default 2 GiB (DefaultMinFreeSpace). A negative value disables the check (tests only).
	MinFreeSpace int64

	// CompletionSyncDelay bounds how long Complete's removal of delivered or
	// bounced recipients may wait for a WAL fsync (the next synced commit of
	// anything usually comes first). A crash inside that window brings those
	// recipients back, to be delivered again. Default 50ms.
	CompletionSyncDelay time.Duration

	// HealthInterval is how often a probe writes and syncs a small file in Dir
	// to notice a failing disk (Healthy). Default 1s; negative disables it.
	HealthInterval time.Duration

	// FreeSpaceInterval is how long a free-space reading is reused before statfs is
	// called again. Default 1s. It uses the wall clock, not Clock: it paces I/O.
	FreeSpaceInterval time.Duration

	// BallastSize is the size, in bytes, of <Dir>/ballast, a file preallocated (fallocate)
	// at Open when it is missing and the disk has BallastSize+MinFreeSpace bytes free.
	// It is dead weight that buys room to recover a full disk: an operator who finds the
	// disk full stops sluice, deletes <Dir>/ballast, starts sluice and lets the queue drain;
	// the next Open with enough free space recreates it. The spool also deletes it by
	// itself if Pebble ever hits ENOSPC (Pebble would otherwise exit the process), and
	// logs that at Error level. Default 256 MiB (DefaultBallastSize); negative disables it.
	BallastSize int64

	// FS is the file system the store lives on. Default vfs.Default (the
	// operating system's). Tests pass Pebble's crashable in-memory FS
	// (vfs.NewCrashableMem, to simulate power loss) or an error-injecting
	// wrapper. On any FS other than vfs.Default no ballast file is made, and
	// the free-space check asks FS.GetDiskUsage.
	FS vfs.FS

	// ReadOnly opens the store for offline inspection (`sluice spool inspect`): nothing
	// is written, no ballast is made, and Put, Complete and Reschedule return ErrReadOnly.
	ReadOnly bool

	// Logger receives the spool's and Pebble's logs. Default slog.Default().
	Logger *slog.Logger

	// Clock stamps ReceivedAt defaults, message IDs and LastAttempt. Default time.Now.
	Clock func() time.Time

	// MemTableSize is Pebble's memtable size in bytes. Message bodies live in the LSM,
	// and Pebble's 4 MiB default fills every ~40 messages of 100 KB; 64 MiB took 100 KB
	// Puts from ~1,200/s to ~5,000/s (BENCH.md), and mail delivered before its memtable
	// flushes never reaches an sstable. Memory: up to MemTableSize x
	// MemTableStopWritesThreshold; disk: WAL files of about that size again, recycled.
	// Default 64 MiB (DefaultMemTableSize).
	MemTableSize uint64

	// MemTableStopWritesThreshold is how many memtables may queue for flushing before
	// Pebble stalls writes. Default 4.
	MemTableStopWritesThreshold int

	// BlobMinSize, when > 0, turns on Pebble's (experimental) value separation: at
	// flush, values of at least this many bytes (message bodies) go to blob files, so
	// compactions rewrite only keys and small values. Measured, it was within noise of
	// the 64 MiB memtable alone for Put (BENCH.md), so it is off by default; consider
	// 4096 for a spool that holds a large deferred backlog. Default 0 (off).
	BlobMinSize int
}

// EnsureDefaults fills the zero fields of o with their defaults and returns o.
func (o *Options) EnsureDefaults() *Options {
	if o.MinFreeSpace == 0 {
		o.MinFreeSpace = DefaultMinFreeSpace
	}
	if o.FreeSpaceInterval <= 0 {
		o.FreeSpaceInterval = DefaultFreeSpaceInterval
	}
	if o.CompletionSyncDelay <= 0 {
		o.CompletionSyncDelay = DefaultCompletionSyncDelay
	}
	if o.BallastSize == 0 {
		o.BallastSize = DefaultBallastSize
	}
	if o.HealthInterval == 0 {
		o.HealthInterval = time.Second
	}
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = DefaultMemTableSize
	}
	if o.MemTableStopWritesThreshold == 0 {
		o.MemTableStopWritesThreshold = 4
	}
	return o
}

// Validate reports what is wrong with o (after EnsureDefaults).
func (o *Options) Validate() error {
	if o.Dir == "" {
		return errors.New("spool: options: Dir is required")
	}
	if o.MemTableSize < 1<<20 || o.MemTableSize >= 4<<30 {
		return errors.New("spool: options: MemTableSize must be between 1 MiB and 4 GiB")
	}
	if o.MemTableStopWritesThreshold < 2 {
		return errors.New("spool: options: MemTableStopWritesThreshold must be at least 2")
	}
	if o.BlobMinSize < 0 {
		return errors.New("spool: options: BlobMinSize must not be negative")
	}
	return nil
}
