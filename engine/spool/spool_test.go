package spool

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPut_StoresBodyEnvelopeAndRecipients(t *testing.T) {
	clock := newFakeClock()
	s, _ := openTest(t, clock)
	m := msg("vmta1", "a@Example.COM", "b@other.example", "c@example.com")
	m.ExpiresAt = clock.Now().Add(48 * time.Hour)
	id := mustPut(t, s, m)

	body, err := s.Body(id)
	if err != nil || !bytes.Equal(body, m.Body) {
		t.Fatalf("Body = %q, %v; want %q", body, err, m.Body)
	}
	env, err := s.Envelope(id)
	if err != nil {
		t.Fatal(err)
	}
	if env.From != m.From || env.VMTA != "vmta1" || env.Campaign != "c1" || !env.ReceivedAt.Equal(clock.Now()) ||
		!env.ExpiresAt.Equal(m.ExpiresAt) {
		t.Fatalf("Envelope = %+v", env)
	}
	got := mustRecipients(t, s)
	want := []string{ // key order: vmta, domain, due, id, idx
		"vmta1/example.com a@Example.COM#0",
		"vmta1/example.com c@example.com#2",
		"vmta1/other.example b@other.example#1",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d recipients, want %d", len(got), len(want))
	}
	for i, r := range got {
		if s := r.VMTA + "/" + r.Domain + " " + r.Address + "#" + string(rune('0'+r.Idx)); s != want[i] {
			t.Errorf("recipient %d = %s, want %s", i, s, want[i])
		}
		if r.MsgID != id || r.Attempts != 0 || !r.NextDue.Equal(clock.Now()) || !r.ExpiresAt.Equal(m.ExpiresAt) ||
			r.LastReply != "" || !r.LastAttempt.IsZero() {
			t.Errorf("recipient %d = %s", i, rcptString(r))
		}
	}
	st := s.Stats()
	if st.Messages != 1 || st.Recipients != 3 || st.BodyBytes != int64(len(m.Body)) ||
		st.ByDomain["example.com"] != 2 || st.ByVMTA["vmta1"] != 3 {
		t.Fatalf("Stats = %+v", st)
	}
}

func TestPut_EmptyVMTA_QueuesUnderDefault(t *testing.T) {
	s, _ := openTest(t, nil)
	id := mustPut(t, s, msg("", "x@d.example"))
	rs, err := s.Due(DefaultVMTA, "d.example", time.Now().Add(time.Hour), 10)
	if err != nil || len(rs) != 1 || rs[0].MsgID != id || rs[0].VMTA != DefaultVMTA {
		t.Fatalf("Due(default) = %v, %v", rs, err)
	}
}

func TestPut_InvalidMessage_RefusedWithoutWriting(t *testing.T) {
	tests := []struct {
		name string
		m    *NewMessage
	}{
		{"no recipients", msg("v")},
		{"recipient without at", msg("v", "postmaster")},
		{"recipient with empty domain", msg("v", "user@")},
		{"NUL in vmta", msg("v\x00x", "a@b.example")},
		{"NUL in domain", msg("v", "a@b\x00.example")},
	}
	s, _ := openTest(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Put(context.Background(), tt.m); err == nil {
				t.Fatal("Put succeeded")
			}
		})
	}
	if st := s.Stats(); st.Messages != 0 || st.Recipients != 0 {
		t.Fatalf("Stats after refused Puts = %+v", st)
	}
	if rs := mustRecipients(t, s); len(rs) != 0 {
		t.Fatalf("stored %d recipients", len(rs))
	}
}

func TestPut_CancelledContext_Refused(t *testing.T) {
	s, _ := openTest(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Put(ctx, msg("v", "a@b.example")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put = %v, want context.Canceled", err)
	}
}

func TestPut_IDsUniqueAndTimeOrdered(t *testing.T) {
	clock := newFakeClock()
	s, _ := openTest(t, clock)
	var ids []string
	for i := range 50 {
		if i%10 == 0 {
			clock.Advance(time.Millisecond)
		}
		ids = append(ids, mustPut(t, s, msg("v", "a@b.example")))
	}
	if !slices.IsSorted(ids) {
		t.Fatalf("IDs not ordered: %v", ids)
	}
	if len(slices.Compact(slices.Clone(ids))) != len(ids) {
		t.Fatalf("duplicate IDs: %v", ids)
	}
	for _, id := range ids {
		if len(id) != 16 || !validID(id) {
			t.Fatalf("bad ID %q", id)
		}
	}
}

func TestPut_ConcurrentWriters_ShareFsyncs(t *testing.T) {
	s, _ := openTest(t, nil)
	const writers, each = 64, 8
	before := s.Stats().WALSyncs
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Go(func() {
			for range each {
				if _, err := s.Put(context.Background(), msg("v", "a@b.example")); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	syncs := s.Stats().WALSyncs - before
	t.Logf("%d Puts, %d WAL syncs", writers*each, syncs)
	if syncs == 0 || syncs > writers*each/2 {
		t.Fatalf("%d WAL syncs for %d concurrent Puts: commits are not sharing fsyncs", syncs, writers*each)
	}
	if st := s.Stats(); st.Messages != writers*each {
		t.Fatalf("Messages = %d", st.Messages)
	}
}

func TestPut_LowSpace_Refuses(t *testing.T) {
	s, _ := openTest(t, nil, func(o *Options) { o.MinFreeSpace = 1 << 62 })
	_, err := s.Put(context.Background(), msg("v", "a@b.example"))
	if !errors.Is(err, ErrLowSpace) {
		t.Fatalf("Put = %v, want ErrLowSpace", err)
	}
	if !strings.Contains(err.Error(), BallastName) {
		t.Errorf("error %q does not tell the operator about the ballast", err)
	}
	if st := s.Stats(); st.Messages != 0 {
		t.Fatalf("Stats = %+v", st)
	}
}

func TestPut_FreeSpaceReturns_AcceptsAgain(t *testing.T) {
	s, _ := openTest(t, nil, func(o *Options) { o.FreeSpaceInterval = time.Nanosecond })
	free := int64(0)
	s.space.statfs = func(string) (int64, error) { return free, nil }
	if _, err := s.Put(context.Background(), msg("v", "a@b.example")); !errors.Is(err, ErrLowSpace) {
		t.Fatalf("Put on full disk = %v, want ErrLowSpace", err)
	}
	free = 1 << 40
	mustPut(t, s, msg("v", "a@b.example"))
}

func TestOpen_CreatesBallast_OnlyWhenWritable(t *testing.T) {
	s, o := openTest(t, nil)
	fi, err := os.Stat(filepath.Join(o.Dir, BallastName))
	if err != nil || fi.Size() != o.BallastSize {
		t.Fatalf("ballast: %v, %v", fi, err)
	}
	_ = s.Close()
	if err := os.Remove(filepath.Join(o.Dir, BallastName)); err != nil {
		t.Fatal(err)
	}
	o.ReadOnly = true
	ro, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := os.Stat(filepath.Join(o.Dir, BallastName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("read-only Open made a ballast: %v", err)
	}
}

func TestOpen_MissingDir_Fails(t *testing.T) {
	if _, err := Open(Options{}); err == nil {
		t.Fatal("Open with no Dir succeeded")
	}
}

func TestDue_ReturnsDueRecipientsInOrder_RespectsLimit(t *testing.T) {
	clock := newFakeClock()
	s, _ := openTest(t, clock)
	t0 := clock.Now()
	var ids []string
	for range 5 {
		ids = append(ids, mustPut(t, s, msg("v", "a@d.example")))
		clock.Advance(time.Second)
	}
	mustPut(t, s, msg("v", "a@other.example"))
	// Move the first message's recipient to the back of the queue.
	if _, err := s.Reschedule(Recipient{MsgID: ids[0]}, t0.Add(time.Hour), "451 later"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		until time.Time
		limit int
		want  []string
	}{
		{"before anything", t0.Add(-time.Second), 10, nil},
		{"until is inclusive", t0.Add(2 * time.Second), 10, ids[1:3]},
		{"limit", t0.Add(time.Minute), 2, ids[1:3]},
		{"rescheduled comes last", t0.Add(2 * time.Hour), 10, append(slices.Clone(ids[1:]), ids[0])},
		{"zero limit", t0.Add(2 * time.Hour), 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := s.Due("v", "d.example", tt.until, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rs {
				got = append(got, r.MsgID)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Due = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDue_SlashAndPrefixNames_DoNotMixQueues(t *testing.T) {
	s, _ := openTest(t, nil)
	// vmta "a" + domain "b/c.example" vs vmta "a/b" + domain "c.example";
	// domain "x.example" vs "x.example.net" (one is a prefix of the other).
	puts := []struct{ vmta, rcpt string }{
		{"a", "u@b/c.example"}, {"a/b", "u@c.example"}, {"a", "u@x.example"}, {"a", "u@x.example.net"},
	}
	for _, p := range puts {
		mustPut(t, s, msg(p.vmta, p.rcpt))
	}
	for _, p := range puts {
		d, _ := domainOf(p.rcpt)
		rs, err := s.Due(p.vmta, d, time.Now().Add(time.Hour), 10)
		if err != nil || len(rs) != 1 || rs[0].Address != p.rcpt || rs[0].VMTA != p.vmta {
			t.Errorf("Due(%q, %q) = %v, %v", p.vmta, d, rs, err)
		}
	}
	if qs := s.Queues(); len(qs) != len(puts) {
		t.Fatalf("Queues = %v", qs)
	}
}

func TestQueues_TrackCountsAndEarliestDue(t *testing.T) {
	clock := newFakeClock()
	s, _ := openTest(t, clock)
	t0 := clock.Now()
	a := mustPut(t, s, msg("v", "1@d.example", "2@d.example", "3@e.example"))
	clock.Advance(time.Second)
	b := mustPut(t, s, msg("v", "4@d.example"))

	check := func(step string, want ...QueueInfo) {
		t.Helper()
		got := s.Queues()
		if len(got) != len(want) {
			t.Fatalf("%s: Queues = %v, want %v", step, got, want)
		}
		for i := range got {
			if got[i].VMTA != want[i].VMTA || got[i].Domain != want[i].Domain ||
				got[i].Recipients != want[i].Recipients || !got[i].EarliestDue.Equal(want[i].EarliestDue) {
				t.Fatalf("%s: Queues = %v, want %v", step, got, want)
			}
		}
	}
	check("after puts", QueueInfo{"v", "d.example", 3, t0}, QueueInfo{"v", "e.example", 1, t0})

	if _, err := s.Reschedule(Recipient{MsgID: a, Idx: 0}, t0.Add(time.Minute), "451"); err != nil {
		t.Fatal(err)
	}
	check("one head rescheduled", QueueInfo{"v", "d.example", 3, t0}, QueueInfo{"v", "e.example", 1, t0})
	if _, err := s.Reschedule(Recipient{MsgID: a, Idx: 1}, t0.Add(time.Minute), "451"); err != nil {
		t.Fatal(err)
	}
	check("both heads rescheduled", QueueInfo{"v", "d.example", 3, t0.Add(time.Second)}, QueueInfo{"v", "e.example", 1, t0})
	if err := s.Complete([]Recipient{{MsgID: b}, {MsgID: a, Idx: 2}}); err != nil {
		t.Fatal(err)
	}
	check("heads completed", QueueInfo{"v", "d.example", 2, t0.Add(time.Minute)})
}

func TestComplete_LastRecipient_DeletesBodyAndEnvelope(t *testing.T) {
	s, _ := openTest(t, nil)
	m := msg("v", "a@d.example", "b@d.example", "c@e.example")
	id := mustPut(t, s, m)
	single := mustPut(t, s, msg("v", "z@d.example"))

	steps := []struct {
		name     string
		complete []Recipient
		bodyGone bool
		rcpts    int64
	}{
		{"one of three", []Recipient{{MsgID: id, Idx: 1}}, false, 3},
		{"same again is a no-op", []Recipient{{MsgID: id, Idx: 1}}, false, 3},
		{"last two, one listed twice", []Recipient{{MsgID: id, Idx: 0}, {MsgID: id, Idx: 2}, {MsgID: id, Idx: 2}}, true, 1},
	}
	for _, st := range steps {
		if err := s.Complete(st.complete); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		_, berr := s.Body(id)
		_, eerr := s.Envelope(id)
		if gone := errors.Is(berr, ErrNotFound) && errors.Is(eerr, ErrNotFound); gone != st.bodyGone {
			t.Fatalf("%s: body/envelope gone = %v (%v, %v), want %v", st.name, gone, berr, eerr, st.bodyGone)
		}
		if got := s.Stats().Recipients; got != st.rcpts {
			t.Fatalf("%s: Recipients = %d, want %d", st.name, got, st.rcpts)
		}
	}
	if st := s.Stats(); st.Messages != 1 || st.BodyBytes != int64(len(m.Body)) {
		t.Fatalf("Stats = %+v", st)
	}
	if err := s.Complete([]Recipient{{MsgID: single}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Body(single); !errors.Is(err, ErrNotFound) {
		t.Fatalf("single-recipient body after Complete: %v", err)
	}
	if st := s.Stats(); st.Messages != 0 || st.Recipients != 0 || st.BodyBytes != 0 || len(st.ByDomain) != 0 || len(s.Queues()) != 0 {
		t.Fatalf("Stats after all complete = %+v, queues %v", st, s.Queues())
	}
}

func TestReschedule_CountsAttemptAndKeepsReply(t *testing.T) {
	clock := newFakeClock()
	s, _ := openTest(t, clock)
	id := mustPut(t, s, msg("v", "a@d.example"))
	next := clock.Now().Add(10 * time.Minute)
	clock.Advance(time.Second)
	r, err := s.Reschedule(Recipient{MsgID: id}, next, "451 4.7.1 try later")
	if err != nil {
		t.Fatal(err)
	}
	if r.Attempts != 1 || !r.NextDue.Equal(next) || r.LastReply != "451 4.7.1 try later" || !r.LastAttempt.Equal(clock.Now()) {
		t.Fatalf("Reschedule = %s", rcptString(r))
	}
	r, err = s.Reschedule(r, next.Add(time.Hour), "452 full")
	if err != nil || r.Attempts != 2 {
		t.Fatalf("second Reschedule = %s, %v", rcptString(r), err)
	}
	if rs := mustRecipients(t, s); len(rs) != 1 || rcptString(rs[0]) != rcptString(r) {
		t.Fatalf("stored %v, want %s", rs, rcptString(r))
	}
	if _, err := s.Reschedule(Recipient{MsgID: "0000000000000000"}, next, ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Reschedule of unknown = %v, want ErrNotFound", err)
	}
}

func TestReopen_RestoresRecipientState(t *testing.T) {
	clock := newFakeClock()
	s, o := openTest(t, clock)
	exp := clock.Now().Add(72 * time.Hour)
	var ids []string
	for i := range 4 {
		m := msg("v"+string(rune('1'+i%2)), "a@d.example", "b@e.example", "c@d.example")
		m.ExpiresAt = exp
		ids = append(ids, mustPut(t, s, m))
		clock.Advance(time.Millisecond)
	}
	if _, err := s.Reschedule(Recipient{MsgID: ids[0], Idx: 1}, clock.Now().Add(time.Hour), "421 busy"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reschedule(Recipient{MsgID: ids[2], Idx: 0}, clock.Now().Add(2*time.Hour), "450 greylisted"); err != nil {
		t.Fatal(err)
	}
	if err := s.Complete([]Recipient{{MsgID: ids[1]}, {MsgID: ids[1], Idx: 1}, {MsgID: ids[1], Idx: 2}, {MsgID: ids[3], Idx: 2}}); err != nil {
		t.Fatal(err)
	}
	wantRcpts, wantStats, wantQueues := mustRecipients(t, s), s.Stats(), s.Queues()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got := mustRecipients(t, s2)
	if len(got) != len(wantRcpts) {
		t.Fatalf("after reopen %d recipients, want %d", len(got), len(wantRcpts))
	}
	for i := range got {
		if rcptString(got[i]) != rcptString(wantRcpts[i]) {
			t.Errorf("recipient %d = %s, want %s", i, rcptString(got[i]), rcptString(wantRcpts[i]))
		}
	}
	gotStats := s2.Stats()
	gotStats.WALSyncs, wantStats.WALSyncs = 0, 0
	if !statsEqual(gotStats, wantStats) {
		t.Errorf("Stats after reopen = %+v, want %+v", gotStats, wantStats)
	}
	if !slices.Equal(s2.Queues(), wantQueues) {
		t.Errorf("Queues after reopen = %v, want %v", s2.Queues(), wantQueues)
	}
	// Completing the rest of message 0 still frees its body: refcounts came back.
	if err := s2.Complete([]Recipient{{MsgID: ids[0]}, {MsgID: ids[0], Idx: 1}, {MsgID: ids[0], Idx: 2}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Body(ids[0]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("body after last Complete: %v", err)
	}
	// New IDs after reopen sort after the old ones even if the clock went back.
	clock.Advance(-time.Hour)
	if id := mustPut(t, s2, msg("v", "x@d.example")); id <= ids[3] {
		t.Fatalf("ID after reopen %s <= %s", id, ids[3])
	}
}

func statsEqual(a, b Stats) bool {
	eq := func(x, y map[string]int64) bool {
		if len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if y[k] != v {
				return false
			}
		}
		return true
	}
	return a.Messages == b.Messages && a.Recipients == b.Recipients && a.BodyBytes == b.BodyBytes &&
		a.WALSyncs == b.WALSyncs && eq(a.ByDomain, b.ByDomain) && eq(a.ByVMTA, b.ByVMTA)
}

func TestClose_LaterCalls_ReturnErrClosed(t *testing.T) {
	s, _ := openTest(t, nil)
	id := mustPut(t, s, msg("v", "a@d.example"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	calls := map[string]func() error{
		"Put":        func() error { _, err := s.Put(context.Background(), msg("v", "a@d.example")); return err },
		"Body":       func() error { _, err := s.Body(id); return err },
		"Envelope":   func() error { _, err := s.Envelope(id); return err },
		"Recipients": func() error { return s.Recipients(func(Recipient) bool { return true }) },
		"Due":        func() error { _, err := s.Due("v", "d.example", time.Now(), 1); return err },
		"Complete":   func() error { return s.Complete([]Recipient{{MsgID: id}}) },
		"Reschedule": func() error { _, err := s.Reschedule(Recipient{MsgID: id}, time.Now(), ""); return err },
		"Close":      s.Close,
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
}

func TestRecipients_CallbackMayCallSpool_AndStopEarly(t *testing.T) {
	s, _ := openTest(t, nil)
	for range 3 {
		mustPut(t, s, msg("v", "a@d.example"))
	}
	n := 0
	err := s.Recipients(func(r Recipient) bool {
		n++
		if err := s.Complete([]Recipient{r}); err != nil {
			t.Fatal(err)
		}
		return n < 2
	})
	if err != nil || n != 2 || s.Stats().Recipients != 1 {
		t.Fatalf("n=%d err=%v stats=%+v", n, err, s.Stats())
	}
}

func TestReadOnly_ReadsWork_WritesRefused(t *testing.T) {
	s, o := openTest(t, nil)
	id := mustPut(t, s, msg("v", "a@d.example"))
	_ = s.Close()
	o.ReadOnly = true
	ro, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if rs := mustRecipients(t, ro); len(rs) != 1 || rs[0].MsgID != id {
		t.Fatalf("Recipients = %v", rs)
	}
	if _, err := ro.Put(context.Background(), msg("v", "a@d.example")); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Put = %v, want ErrReadOnly", err)
	}
	if err := ro.Complete([]Recipient{{MsgID: id}}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Complete = %v, want ErrReadOnly", err)
	}
}
