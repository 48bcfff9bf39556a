package spool

import (
	"context"
	crand "crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// mountTmpfs mounts a tmpfs of size bytes under a temp dir, or skips the test.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount tmpfs (needs root): %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
	return dir
}

// TestPut_LowSpaceOnSmallTmpfs_RefusesBeforeDiskFills fills a 64 MiB file system with
// 100 KB messages: Put must turn to ErrLowSpace while Pebble still has room (Pebble
// exits the process on a failed WAL write, so reaching ENOSPC would kill the test),
// and finishing mail must still work.
func TestPut_LowSpaceOnSmallTmpfs_RefusesBeforeDiskFills(t *testing.T) {
	dir := mountTmpfs(t, "64m")
	o := testOptions(filepath.Join(dir, "spool"), nil)
	o.MinFreeSpace, o.BallastSize = 16<<20, 8<<20
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if fi, err := os.Stat(filepath.Join(o.Dir, BallastName)); err != nil || fi.Size() != o.BallastSize {
		t.Fatalf("ballast: %v %v", fi, err)
	}
	m := msg("v", "a@d.example")
	m.Body = make([]byte, 100<<10)
	_, _ = crand.Read(m.Body) // incompressible: Pebble's sstables would shrink zeros to nothing
	var ids []string
	for len(ids) < 1000 {
		id, err := s.Put(context.Background(), m)
		if errors.Is(err, ErrLowSpace) {
			break
		}
		if err != nil {
			t.Fatalf("Put %d: %v", len(ids), err)
		}
		ids = append(ids, id)
	}
	free, _ := freeBytes(dir)
	t.Logf("accepted %d x 100 KB, then ErrLowSpace with %d bytes free", len(ids), free)
	if len(ids) == 0 || len(ids) == 1000 {
		t.Fatalf("accepted %d messages", len(ids))
	}
	if _, err := os.Stat(filepath.Join(o.Dir, BallastName)); err != nil {
		t.Fatalf("ballast gone: the disk filled up: %v", err)
	}
	var rs []Recipient
	for _, id := range ids {
		rs = append(rs, Recipient{MsgID: id})
	}
	if err := s.Complete(rs); err != nil {
		t.Fatalf("Complete on a nearly full disk: %v", err)
	}
	if st := s.Stats(); st.Messages != 0 {
		t.Fatalf("Stats = %+v", st)
	}
}
