package spool

import (
	"strings"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// syncCountingFS wraps a vfs.FS and counts the syncs of Pebble's WAL files (*.log).
// Every durable commit waits for one of these syncs; Pebble's commit pipeline lets
// one sync cover every batch queued behind it, so syncs/commits is the group-commit
// ratio (Stats.WALSyncs).
//
// It also calls created, when set, each time Pebble creates or reuses a WAL
// file: Pebble preallocates each new WAL at 110% of the memtable size, a
// jump in disk use the free-space guard must see at once (space.go).
type syncCountingFS struct {
	vfs.FS
	syncs   *atomic.Int64
	created func()
}

func isWAL(name string) bool { return strings.HasSuffix(name, ".log") }

func (fs syncCountingFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || !isWAL(name) {
		return f, err
	}
	if fs.created != nil {
		fs.created()
	}
	return syncCountingFile{File: f, syncs: fs.syncs}, nil
}

func (fs syncCountingFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, c)
	return fs.wrap(name, f, err)
}

func (fs syncCountingFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, c)
	return fs.wrap(newname, f, err)
}

func (fs syncCountingFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, c, opts...)
	return fs.wrap(name, f, err)
}

func (fs syncCountingFS) Unwrap() vfs.FS { return fs.FS }

type syncCountingFile struct {
	vfs.File
	syncs *atomic.Int64
}

func (f syncCountingFile) Sync() error {
	f.syncs.Add(1)
	return f.File.Sync()
}

func (f syncCountingFile) SyncData() error {
	f.syncs.Add(1)
	return f.File.SyncData()
}

func (f syncCountingFile) SyncTo(length int64) (bool, error) {
	full, err := f.File.SyncTo(length)
	if full {
		f.syncs.Add(1)
	}
	return full, err
}
