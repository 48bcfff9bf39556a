package spool

import (
	"testing"
	"time"
)

// TestDueAfter_ReadsOnFromThePosition_BackToTheHeadWhenAKeyLandsBehindIt
// drives DueAfter as the dispatcher does: it carries on after the last
// recipient it took (those before it are in flight), and goes back to the
// head, reading limit+busy, when a key is added at or before its position.
func TestDueAfter_ReadsOnFromThePosition_BackToTheHeadWhenAKeyLandsBehindIt(t *testing.T) {
	clock := newFakeClock()
	s, _ := openTest(t, clock)
	for range 5 {
		mustPut(t, s, msg("v", "a@x.test"))
		clock.Advance(time.Millisecond)
	}
	names := func(rs []Recipient) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.MsgID)
		}
		return out
	}
	all, err := s.Due("v", "x.test", clock.Now(), 10)
	if err != nil || len(all) != 5 {
		t.Fatalf("Due: %d, %v", len(all), err)
	}

	rs, fromHead, err := s.DueAfter("v", "x.test", QueuePos{}, clock.Now(), 2, 0)
	if err != nil || !fromHead || len(rs) != 2 || rs[1].MsgID != all[1].MsgID {
		t.Fatalf("from the head: %v fromHead=%v err=%v", names(rs), fromHead, err)
	}
	pos := PosOf(rs[1])
	rs, fromHead, err = s.DueAfter("v", "x.test", pos, clock.Now(), 2, 0)
	if err != nil || fromHead || len(rs) != 2 || rs[0].MsgID != all[2].MsgID || rs[1].MsgID != all[3].MsgID {
		t.Fatalf("after #1: %v fromHead=%v err=%v", names(rs), fromHead, err)
	}
	pos = PosOf(rs[1])

	// The recipients before the position are done: their tombstones are
	// not read again, and the rest of the queue still is.
	if err := s.Complete(all[:4]); err != nil {
		t.Fatal(err)
	}
	rs, fromHead, err = s.DueAfter("v", "x.test", pos, clock.Now(), 10, 0)
	if err != nil || fromHead || len(rs) != 1 || rs[0].MsgID != all[4].MsgID {
		t.Fatalf("after #3: %v fromHead=%v err=%v", names(rs), fromHead, err)
	}
	pos = PosOf(rs[0])

	// A retry rescheduled to a due at the position's (the clock stood
	// still) may sort before it: the next read starts at the head and reads
	// limit+busy.
	if _, err := s.RescheduleMany([]Retry{{Recipient: all[4], Next: all[4].NextDue, Reply: "451 later"}}); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, msg("v", "b@x.test"))
	rs, fromHead, err = s.DueAfter("v", "x.test", pos, clock.Now(), 1, 1)
	if err != nil || !fromHead || len(rs) != 2 {
		t.Fatalf("after a key behind the position: %v fromHead=%v err=%v", names(rs), fromHead, err)
	}
	// ... once: the queue's additions were taken into account.
	pos = PosOf(rs[1])
	rs, fromHead, err = s.DueAfter("v", "x.test", pos, clock.Now(), 5, 0)
	if err != nil || fromHead || len(rs) != 0 {
		t.Fatalf("nothing new: %v fromHead=%v err=%v", names(rs), fromHead, err)
	}

	// Keys due later than until are not returned; a new queue reads from
	// its head.
	clock.Advance(time.Hour)
	mustPut(t, s, msg("v", "c@x.test"))
	rs, _, err = s.DueAfter("v", "x.test", pos, clock.Now().Add(-time.Minute), 5, 0)
	if err != nil || len(rs) != 0 {
		t.Fatalf("not yet due: %v, %v", names(rs), err)
	}
	if rs, fromHead, err = s.DueAfter("v", "y.test", pos, clock.Now(), 5, 0); err != nil || !fromHead || len(rs) != 0 {
		t.Fatalf("empty queue: %v fromHead=%v err=%v", names(rs), fromHead, err)
	}
}

// TestQueueHead_ExactAfterTheHeadIsCompleted: Complete only marks the head
// stale; QueueHead and Queues read the new one when asked.
func TestQueueHead_ExactAfterTheHeadIsCompleted(t *testing.T) {
	clock := newFakeClock()
	s, _ := openTest(t, clock)
	for range 3 {
		mustPut(t, s, msg("v", "a@x.test"))
		clock.Advance(time.Second)
	}
	rs, err := s.Due("v", "x.test", clock.Now(), 10)
	if err != nil || len(rs) != 3 {
		t.Fatalf("Due: %d, %v", len(rs), err)
	}
	if err := s.Complete(rs[:2]); err != nil {
		t.Fatal(err)
	}
	if due, ok := s.QueueHead("v", "x.test"); !ok || !due.Equal(rs[2].NextDue) {
		t.Fatalf("QueueHead = %v, %v; want %v", due, ok, rs[2].NextDue)
	}
	if err := s.Complete(rs[2:]); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.QueueHead("v", "x.test"); ok {
		t.Fatal("an empty queue has a head")
	}
	mustPut(t, s, msg("v", "b@x.test"))
	rs, _ = s.Due("v", "x.test", clock.Now(), 10)
	clock.Advance(time.Second)
	mustPut(t, s, msg("v", "c@x.test"))
	if err := s.Complete(rs); err != nil {
		t.Fatal(err)
	}
	if qs := s.Queues(); len(qs) != 1 || !qs[0].EarliestDue.Equal(clock.Now().Truncate(time.Millisecond)) {
		t.Fatalf("Queues = %+v, want the head at %v", qs, clock.Now())
	}
}
