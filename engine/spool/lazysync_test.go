package spool

import (
	"testing"
	"time"
)

// TestComplete_NotSyncedAtOnce_SyncedWithinTheDelay: Complete commits
// without an fsync of its own; the lazy syncer fsyncs the WAL once within
// CompletionSyncDelay, and Close syncs what is left.
func TestComplete_NotSyncedAtOnce_SyncedWithinTheDelay(t *testing.T) {
	s, _ := openTest(t, nil, func(o *Options) { o.CompletionSyncDelay = 200 * time.Millisecond })
	mustPut(t, s, msg("v", "a@x.test", "b@x.test"))
	rs, err := s.Due("v", "x.test", time.Now(), 10)
	if err != nil || len(rs) != 2 {
		t.Fatalf("Due: %d, %v", len(rs), err)
	}
	before := s.Stats().WALSyncs
	if err := s.Complete(rs[:1]); err != nil {
		t.Fatal(err)
	}
	if got := s.Stats().WALSyncs; got != before {
		t.Fatalf("Complete synced at once: %d WAL syncs, want %d", got, before)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().WALSyncs == before {
		if time.Now().After(deadline) {
			t.Fatal("no WAL sync after the completion")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := s.Stats().WALSyncs; got != before+1 {
		t.Fatalf("%d WAL syncs for one completion, want 1", got-before)
	}
}

// TestComplete_SurvivesClose_AndReopen: a completion made just before Close
// is on disk after it (Close's final sync), and the reopened spool agrees.
func TestComplete_SurvivesClose_AndReopen(t *testing.T) {
	o := testOptions(t.TempDir(), nil)
	o.CompletionSyncDelay = time.Hour // only Close can sync it
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, msg("v", "a@x.test", "b@x.test"))
	rs, _ := s.Due("v", "x.test", time.Now(), 10)
	if err := s.Complete(rs[:1]); err != nil {
		t.Fatal(err)
	}
	before := s.Stats().WALSyncs
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.syncs.Load() <= before {
		t.Fatal("Close did not sync the WAL")
	}
	s, err = Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st := s.Stats(); st.Recipients != 1 {
		t.Fatalf("reopened with %d recipients, want 1", st.Recipients)
	}
}
