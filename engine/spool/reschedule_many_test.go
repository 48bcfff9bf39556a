package spool

import (
	"testing"
	"time"
)

func TestRescheduleMany_MovesAllInOneBatch_SkipsCompleted(t *testing.T) {
	clock := newFakeClock()
	s, o := openTest(t, clock)
	id := mustPut(t, s, msg("v1", "a@d.example", "b@d.example", "c@d.example"))
	if err := s.Complete([]Recipient{{MsgID: id, Idx: 2}}); err != nil {
		t.Fatal(err)
	}
	next := clock.Now().Add(time.Hour)
	syncs := s.Stats().WALSyncs
	got, err := s.RescheduleMany([]Retry{
		{Recipient: Recipient{MsgID: id, Idx: 0}, Next: next, Reply: "451 later"},
		{Recipient: Recipient{MsgID: id, Idx: 1}, Next: next, Reply: "451 later"},
		{Recipient: Recipient{MsgID: id, Idx: 2}, Next: next, Reply: "451 later"}, // completed: skipped
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Attempts != 1 || got[1].LastReply != "451 later" || !got[0].NextDue.Equal(next.Truncate(time.Millisecond)) {
		t.Fatalf("rescheduled: %+v", got)
	}
	if n := s.Stats().WALSyncs - syncs; n != 1 {
		t.Errorf("%d WAL syncs for one RescheduleMany, want 1", n)
	}
	if due, ok := s.QueueHead("v1", "d.example"); !ok || !due.Equal(next.Truncate(time.Millisecond)) {
		t.Fatalf("queue head %v %v, want %v", due, ok, next)
	}
	if rs, _ := s.Due("v1", "d.example", clock.Now(), 10); len(rs) != 0 {
		t.Fatalf("rescheduled recipients still due now: %+v", rs)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	rs, _ := s2.Due("v1", "d.example", next, 10)
	if len(rs) != 2 || rs[0].Attempts != 1 || rs[0].LastReply != "451 later" {
		t.Fatalf("after reopen: %+v", rs)
	}
}

func TestStats_ByPoolAndCampaign_IncrementalAndRebuiltOnOpen(t *testing.T) {
	clock := newFakeClock()
	s, o := openTest(t, clock)
	m := msg("v1", "a@d.example", "b@d.example")
	m.Pool, m.Campaign, m.Tenant = "bulk", "spring", "acme"
	id := mustPut(t, s, m)
	mustPut(t, s, msg("v1", "c@d.example")) // no pool, no campaign: not counted
	if st := s.Stats(); st.ByPool["bulk"] != 2 || st.ByCampaign["spring"] != 2 || st.ByTenant["acme"] != 2 || len(st.ByPool) != 1 {
		t.Fatalf("after put: %+v", st)
	}
	if _, err := s.RescheduleMany([]Retry{{Recipient: Recipient{MsgID: id, Idx: 0}, Next: clock.Now().Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Complete([]Recipient{{MsgID: id, Idx: 1}}); err != nil {
		t.Fatal(err)
	}
	want := s.Stats()
	if want.ByPool["bulk"] != 1 || want.ByCampaign["spring"] != 1 {
		t.Fatalf("after complete: %+v", want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got := s2.Stats(); got.ByPool["bulk"] != 1 || got.ByCampaign["spring"] != 1 || got.ByTenant["acme"] != 1 {
		t.Fatalf("after reopen: %+v", got)
	}
}

func TestRescheduleMany_VMTAMovesToAnotherQueue_KeepsAttempts(t *testing.T) {
	clock := newFakeClock()
	s, o := openTest(t, clock)
	id := mustPut(t, s, msg("cold", "a@d.example", "b@d.example"))
	now := clock.Now()
	got, err := s.RescheduleMany([]Retry{{Recipient: Recipient{MsgID: id, Idx: 1}, Next: now, Requeue: true, VMTA: "warm"}})
	if err != nil || len(got) != 1 || got[0].VMTA != "warm" || got[0].Attempts != 0 {
		t.Fatalf("moved: %+v %v", got, err)
	}
	check := func(s *Spool) {
		t.Helper()
		if st := s.Stats(); st.ByVMTA["cold"] != 1 || st.ByVMTA["warm"] != 1 || st.Recipients != 2 {
			t.Fatalf("counts after move: %+v", st.ByVMTA)
		}
		if rs, _ := s.Due("warm", "d.example", now, 10); len(rs) != 1 || rs[0].Address != "b@d.example" {
			t.Fatalf("warm queue: %+v", rs)
		}
		if rs, _ := s.Due("cold", "d.example", now, 10); len(rs) != 1 || rs[0].Address != "a@d.example" {
			t.Fatalf("cold queue: %+v", rs)
		}
	}
	check(s)
	if err := s.Complete([]Recipient{{MsgID: id, Idx: 1}}); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.ByVMTA["warm"] != 0 || st.Recipients != 1 {
		t.Fatalf("after completing the moved recipient: %+v", st)
	}
	s.Close()
	s2, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if st := s2.Stats(); st.ByVMTA["cold"] != 1 || st.Recipients != 1 {
		t.Fatalf("after reopen: %+v", st)
	}
}
