package spool

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func evs(n int, typ string) []Event {
	out := make([]Event, n)
	for i := range out {
		out[i] = Event{Time: time.UnixMilli(1_800_000_000_000 + int64(i)), Type: typ, MsgID: fmt.Sprint("M", i),
			Recipient: fmt.Sprintf("u%d@d.test", i), VMTA: "v1", Domain: "d.test", Campaign: "c", Reply: "250 ok"}
	}
	return out
}

func seqs(es []Event) []uint64 {
	var out []uint64
	for _, e := range es {
		out = append(out, e.Seq)
	}
	return out
}

func TestEvents_AppendRead_InOrderFromCursor(t *testing.T) {
	s, _ := openTest(t, newFakeClock())
	defer s.Close()
	l, err := OpenEventLog(s, EventLogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := l.Read(0, 10); err != nil || len(got) != 0 {
		t.Fatalf("empty log: %v, %v", got, err)
	}
	in := evs(5, "delivered")
	first, err := l.Append(in)
	if err != nil || first != 1 || in[4].Seq != 5 {
		t.Fatalf("append: first %d, %v, seqs %v", first, err, seqs(in))
	}
	if _, err := l.Append(evs(2, "bounced")); err != nil {
		t.Fatal(err)
	}
	all, err := l.Read(0, 100)
	if err != nil || len(all) != 7 {
		t.Fatalf("read all: %d, %v", len(all), err)
	}
	if all[0] != in[0] || all[6].Type != "bounced" || all[6].Seq != 7 {
		t.Fatalf("round trip: %+v / %+v", all[0], all[6])
	}
	got, err := l.Read(3, 2)
	if err != nil || fmt.Sprint(seqs(got)) != "[4 5]" {
		t.Fatalf("read after 3 limit 2: %v, %v", seqs(got), err)
	}
	if got, err := l.Read(7, 10); err != nil || len(got) != 0 {
		t.Fatalf("read at the end: %v, %v", got, err)
	}
	if _, err := l.Read(8, 10); !errors.Is(err, ErrCursorAhead) {
		t.Fatalf("cursor ahead: %v", err)
	}
}

func TestEvents_Reopen_ResumesNumberingNeverReuses(t *testing.T) {
	clock := newFakeClock()
	s, o := openTest(t, clock)
	l, err := OpenEventLog(s, EventLogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(evs(3, "delivered")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	l2, err := OpenEventLog(s2, EventLogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// NB: numbering resumes at the reservation, past anything handed out before.
	first, err := l2.Append(evs(1, "deferred"))
	if err != nil || first <= 3 {
		t.Fatalf("after reopen: first %d, %v", first, err)
	}
	got, err := l2.Read(3, 10)
	if err != nil || len(got) != 1 || got[0].Seq != first || got[0].Type != "deferred" {
		t.Fatalf("read after 3: %+v, %v", got, err)
	}
	got, err = l2.Read(0, 10)
	if err != nil || len(got) != 4 {
		t.Fatalf("read all after reopen: %v, %v", seqs(got), err)
	}
}

func TestEvents_Retention_DeletesOldestAndReportsLostCursor(t *testing.T) {
	s, _ := openTest(t, newFakeClock())
	defer s.Close()
	l, err := OpenEventLog(s, EventLogOptions{Retain: 100})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 30; i++ {
		if _, err := l.Append(evs(10, "delivered")); err != nil {
			t.Fatal(err)
		}
	}
	oldest, last := l.Bounds()
	if last != 300 || last-oldest+1 != 100 {
		t.Fatalf("bounds %d..%d, want 100 kept of 300", oldest, last)
	}
	all, err := l.Read(0, 1000)
	if err != nil || len(all) != 100 || all[0].Seq != oldest {
		t.Fatalf("read from 0: %d events from %v, %v", len(all), seqs(all[:1]), err)
	}
	if _, err := l.Read(5, 10); !errors.Is(err, ErrEventsLost) {
		t.Fatalf("cursor behind retention: %v", err)
	}
	if got, err := l.Read(oldest-1, 1); err != nil || got[0].Seq != oldest {
		t.Fatalf("cursor just before the oldest kept: %v, %v", got, err)
	}
}

func TestEvents_DecodeCorrupt(t *testing.T) {
	e := Event{Type: "delivered", MsgID: "x", Time: time.UnixMilli(5)}
	v := encodeEvent(&e)
	for i := 0; i < len(v)-1; i++ {
		if _, err := decodeEvent(v[:i]); err == nil {
			t.Fatalf("truncated at %d decoded", i)
		}
	}
	if got, err := decodeEvent(v); err != nil || got != e {
		t.Fatalf("decode: %+v, %v", got, err)
	}
}
