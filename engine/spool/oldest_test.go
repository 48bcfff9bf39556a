package spool

import (
	"testing"
	"time"
)

// TestOldestMessage_FollowsTheTailAsMessagesFinish: the oldest pending
// message is the first stored that still has a recipient; it moves on as
// messages finish, and a multi-recipient message stays until its last one.
func TestOldestMessage_FollowsTheTailAsMessagesFinish(t *testing.T) {
	clock := newFakeClock()
	s, _ := openTest(t, clock)
	if _, ok, err := s.OldestMessage(); ok || err != nil {
		t.Fatalf("empty spool: ok %v, err %v", ok, err)
	}
	t0 := clock.Now()
	a := mustPut(t, s, msg("v", "a@x.test"))
	clock.Advance(time.Minute)
	b := mustPut(t, s, msg("v", "b1@x.test", "b2@x.test"))
	clock.Advance(time.Minute)
	mustPut(t, s, msg("v", "c@x.test"))

	want := func(at time.Time) {
		t.Helper()
		got, ok, err := s.OldestMessage()
		if err != nil || !ok || !got.Equal(at) {
			t.Fatalf("oldest = %v, %v, %v; want %v", got, ok, err, at)
		}
	}
	want(t0)
	if err := s.Complete([]Recipient{{MsgID: a}}); err != nil {
		t.Fatal(err)
	}
	want(t0.Add(time.Minute))
	if err := s.Complete([]Recipient{{MsgID: b, Idx: 0}}); err != nil {
		t.Fatal(err)
	}
	want(t0.Add(time.Minute)) // b2 is still pending
	if err := s.Complete([]Recipient{{MsgID: b, Idx: 1}}); err != nil {
		t.Fatal(err)
	}
	want(t0.Add(2 * time.Minute))
}
