package engine

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

var errEnough = errors.New("enough")

// takeEvents subscribes after the cursor and returns the first n matching
// events (failing the test after 30 s).
func takeEvents(t *testing.T, e *Engine, after uint64, f EventFilter, n int) []Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []Event
	err := e.Events(ctx, after, f, func(ev Event) error {
		got = append(got, ev)
		if len(got) == n {
			return errEnough
		}
		return nil
	})
	if !errors.Is(err, errEnough) {
		t.Fatalf("events after %d: got %d of %d: %v (%+v)", after, len(got), n, err, got)
	}
	return got
}

func eventSummary(evs []Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Type+" "+ev.Recipient)
	}
	slices.Sort(out)
	return out
}

func TestEvents_DeliveredBouncedDeferred_InOrderWithTypes(t *testing.T) {
	w := newWorld(t, 0)
	e := w.engine(t, t.TempDir(), nil)
	defer e.Close()
	id := submit(t, e, "a@sender.example", "ok1@d1.test", "ok2@d1.test", "bounce1@d1.test", "defer1@d1.test")
	d1 := EventFilter{Domain: "D1.test"}
	got := takeEvents(t, e, 0, d1, 4)
	want := []string{"bounced bounce1@d1.test", "deferred defer1@d1.test", "delivered ok1@d1.test", "delivered ok2@d1.test"}
	if s := eventSummary(got); !slices.Equal(s, want) {
		t.Fatalf("events %v, want %v", s, want)
	}
	for i, ev := range got {
		if i > 0 && ev.Seq <= got[i-1].Seq {
			t.Fatalf("events out of order: %d after %d", ev.Seq, got[i-1].Seq)
		}
		if ev.MsgID != id || ev.VMTA != DefaultVMTA || ev.Domain != "d1.test" || ev.Reply == "" || ev.Time.IsZero() {
			t.Fatalf("event fields: %+v", ev)
		}
		if (ev.Type == EventDelivered) != (ev.Category == "") {
			t.Fatalf("category of %s: %q", ev.Type, ev.Category)
		}
	}
	bounces := takeEvents(t, e, 0, EventFilter{Types: []string{EventBounced}}, 1)
	if bounces[0].Recipient != "bounce1@d1.test" {
		t.Fatalf("type filter: %+v", bounces)
	}
	// The DSN to the sender is mail too: its delivery is an event of its own.
	dsn := takeEvents(t, e, 0, EventFilter{Domain: "sender.example", Types: []string{EventDelivered}}, 1)
	if dsn[0].Recipient != "a@sender.example" {
		t.Fatalf("DSN delivery event: %+v", dsn)
	}
	if err := e.Events(context.Background(), 0, EventFilter{Types: []string{"opened"}}, nil); err == nil {
		t.Fatal("unknown type accepted")
	}
}

func TestEvents_ResumeWithLastCursor_MissesNothingRepeatsNothing(t *testing.T) {
	w := newWorld(t, 0)
	e := w.engine(t, t.TempDir(), nil)
	defer e.Close()
	d5 := EventFilter{Domain: "d5.test"}
	submit(t, e, "a@sender.example", "ok1@d5.test", "ok2@d5.test", "ok3@d5.test", "bounce4@d5.test")
	first := takeEvents(t, e, 0, d5, 2)
	cursor := first[1].Seq

	// Resume in the background while new mail goes out.
	type result struct {
		evs []Event
		err error
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var evs []Event
		err := e.Events(ctx, cursor, d5, func(ev Event) error {
			evs = append(evs, ev)
			if len(evs) == 4 {
				return errEnough
			}
			return nil
		})
		done <- result{evs, err}
	}()
	submit(t, e, "a@sender.example", "ok5@d5.test", "ok6@d5.test")
	r := <-done
	if !errors.Is(r.err, errEnough) {
		t.Fatalf("resumed subscription: %v after %d events", r.err, len(r.evs))
	}
	all := append(first, r.evs...)
	seen := map[uint64]bool{}
	var rcpts []string
	for _, ev := range all {
		if seen[ev.Seq] {
			t.Fatalf("event %d seen twice", ev.Seq)
		}
		seen[ev.Seq] = true
		rcpts = append(rcpts, ev.Recipient)
	}
	slices.Sort(rcpts)
	want := []string{"bounce4@d5.test", "ok1@d5.test", "ok2@d5.test", "ok3@d5.test", "ok5@d5.test", "ok6@d5.test"}
	if !slices.Equal(rcpts, want) {
		t.Fatalf("recipients over both subscriptions %v, want %v", rcpts, want)
	}
	// From now: only what happens next.
	last := e.LastEventSeq()
	submit(t, e, "a@sender.example", "ok7@d5.test")
	if got := takeEvents(t, e, last, d5, 1); got[0].Recipient != "ok7@d5.test" {
		t.Fatalf("after LastEventSeq: %+v", got)
	}
}

func TestEvents_CancelAndClose_EndSubscription(t *testing.T) {
	w := newWorld(t, 0)
	e := w.engine(t, t.TempDir(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 2)
	go func() { errc <- e.Events(ctx, 0, EventFilter{}, func(Event) error { return nil }) }()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("after cancel: %v", err)
	}
	go func() { errc <- e.Events(context.Background(), 0, EventFilter{}, func(Event) error { return nil }) }()
	time.Sleep(20 * time.Millisecond)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("subscription ended without an error at Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("subscription outlived Close")
	}
}
