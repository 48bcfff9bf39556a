package spool

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// quotaFS is an in-memory file system with a size limit: a write that would
// pass it fails with ENOSPC, and GetDiskUsage reports what is left, so the
// spool's free-space check sees it as it would a small disk.
type quotaFS struct {
	vfs.FS
	quota int64
	used  atomic.Int64
}

func newQuotaFS(quota int64) *quotaFS { return &quotaFS{FS: vfs.NewMem(), quota: quota} }

func (q *quotaFS) GetDiskUsage(string) (vfs.DiskUsage, error) {
	used := q.used.Load()
	return vfs.DiskUsage{AvailBytes: uint64(max(q.quota-used, 0)), TotalBytes: uint64(q.quota), UsedBytes: uint64(used)}, nil
}

func (q *quotaFS) wrap(f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	return quotaFile{File: f, q: q}, nil
}

func (q *quotaFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	return q.wrap(q.FS.Create(name, c))
}

func (q *quotaFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	return q.wrap(q.FS.ReuseForWrite(oldname, newname, c))
}

func (q *quotaFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	return q.wrap(q.FS.OpenReadWrite(name, c, opts...))
}

func (q *quotaFS) Remove(name string) error {
	fi, err := q.FS.Stat(name)
	if err := q.FS.Remove(name); err != nil {
		return err
	}
	if err == nil && !fi.IsDir() {
		q.used.Add(-fi.Size())
	}
	return nil
}

// take reserves n bytes of the quota, or fails with ENOSPC.
func (q *quotaFS) take(n int) error {
	if q.used.Add(int64(n)) > q.quota {
		q.used.Add(-int64(n))
		return fmt.Errorf("quota of %d bytes: %w", q.quota, syscall.ENOSPC)
	}
	return nil
}

type quotaFile struct {
	vfs.File
	q *quotaFS
}

func (f quotaFile) Write(p []byte) (int, error) {
	if err := f.q.take(len(p)); err != nil {
		return 0, err
	}
	return f.File.Write(p)
}

func (f quotaFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.q.take(len(p)); err != nil {
		return 0, err
	}
	return f.File.WriteAt(p, off)
}

// TestReliability05_QuotaFS_LowSpaceBeforeENOSPC is row 5 on a file system
// with a quota (it needs no root, unlike the tmpfs forms): 100 KB messages
// go in until Put returns ErrLowSpace. No write may have met ENOSPC (Pebble
// would have ended the process), and after a reopen every acknowledged
// message is there.
func TestReliability05_QuotaFS_LowSpaceBeforeENOSPC(t *testing.T) {
	fs := newQuotaFS(48 << 20)
	o := memOptions(fs, false)
	o.MinFreeSpace, o.MemTableSize, o.FreeSpaceInterval = 12<<20, 4<<20, time.Nanosecond // re-read every time: fill to the limit
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	m := msg("v", "a@d.example")
	m.Body = make([]byte, 100<<10)
	_, _ = crand.Read(m.Body) // incompressible: Pebble's sstables would shrink zeros to nothing
	var ids []string
	for len(ids) < 2000 {
		id, err := s.Put(context.Background(), m)
		if errors.Is(err, ErrLowSpace) {
			break
		}
		if err != nil {
			t.Fatalf("Put %d: %v", len(ids), err)
		}
		ids = append(ids, id)
	}
	du, _ := fs.GetDiskUsage("/")
	t.Logf("ran on a 48 MiB quota FS: %d x 100 KB accepted, then ErrLowSpace with %d bytes free", len(ids), du.AvailBytes)
	if len(ids) == 0 || len(ids) == 2000 {
		t.Fatalf("accepted %d messages", len(ids))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(o); err != nil {
		t.Fatalf("reopen on the nearly full FS: %v", err)
	}
	defer s.Close()
	got := map[string]int{}
	if err := s.Recipients(func(r Recipient) bool { got[r.MsgID]++; return true }); err != nil {
		t.Fatal(err)
	}
	lost := 0
	for _, id := range ids {
		if got[id] != 1 {
			lost++
		}
	}
	summaryRow(t, "05 disk nearly full (quota FS)", 1, len(ids), len(ids)-lost, lost, 0, "ErrLowSpace before ENOSPC")
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged messages lost across the reopen", lost, len(ids))
	}
}
