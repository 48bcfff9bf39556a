package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mta/sluice/bench/sink"
	"github.com/sluice-mta/sluice/engine/dsn"
)

func TestAdmin_PauseThenResume_LosesAndDuplicatesNothing(t *testing.T) {
	w := newWorld(t, 0)
	e := w.engine(t, t.TempDir(), nil)
	defer e.Close()
	if n := e.Pause(QueueFilter{Domain: "p1.test"}); n != 0 {
		t.Fatalf("paused %d existing queues, want 0", n)
	}
	for i := 0; i < 50; i++ {
		submit(t, e, "a@sender.example", fmt.Sprintf("u%d@p1.test", i))
		submit(t, e, "a@sender.example", fmt.Sprintf("u%d@p2.test", i))
	}
	waitFor(t, "the unpaused domain", func() bool { return w.sink.Stats().ByDomain["p2.test"] == 50 })
	time.Sleep(100 * time.Millisecond)
	if got := w.sink.Stats().ByDomain["p1.test"]; got != 0 {
		t.Fatalf("paused domain received %d", got)
	}
	qs := e.Queues(QueueFilter{Domain: "p1.test"})
	if len(qs) != 1 || qs[0].Recipients != 50 || !qs[0].Paused {
		t.Fatalf("paused queue: %+v", qs)
	}
	if n := e.Resume(QueueFilter{Domain: "p1.test"}); n != 1 {
		t.Fatalf("resumed %d queues", n)
	}
	waitFor(t, "the resumed domain", func() bool { return w.sink.Stats().ByDomain["p1.test"] == 50 })
	if st := w.sink.Stats(); st.Duplicates != 0 || st.Recipients != 100 {
		t.Fatalf("after resume: %d recipients, %d duplicates", st.Recipients, st.Duplicates)
	}
}

func TestAdmin_Flush_RetriesDeferredNow(t *testing.T) {
	w := newWorld(t, 0)
	e := w.engine(t, t.TempDir(), nil)
	defer e.Close()
	for i := 0; i < 5; i++ {
		submit(t, e, "a@sender.example", fmt.Sprintf("defer%d@f.test", i))
	}
	waitFor(t, "five deferrals", func() bool { return w.sink.Stats().ByCode["451"] == 5 && e.SpoolStats().Recipients == 5 })
	waitFor(t, "the queue to settle", func() bool { return e.Queues(QueueFilter{Domain: "f.test"})[0].EarliestDue.After(w.clock.Now()) })
	w.sink.SetBehaviour("defer", sink.Accept)
	n, err := e.Flush(context.Background(), QueueFilter{Domain: "f.test"})
	if err != nil || n != 5 {
		t.Fatalf("flush moved %d, %v", n, err)
	}
	waitFor(t, "delivery after flush", func() bool { return w.sink.Stats().Recipients == 5 })
}

func TestAdmin_PurgeWithDSN_BouncesToSender(t *testing.T) {
	w := newWorld(t, 0)
	e := w.engine(t, t.TempDir(), nil)
	defer e.Close()
	e.Pause(QueueFilter{Domain: "g.test"})
	submit(t, e, "gina@sender.example", "x@g.test", "y@g.test")
	submit(t, e, "hal@sender.example", "z@h.test")
	waitFor(t, "h.test delivered", func() bool { return w.sink.Stats().Recipients == 1 })
	n, err := e.Purge(context.Background(), QueueFilter{Domain: "g.test"}, true)
	if err != nil || n != 2 {
		t.Fatalf("purged %d, %v", n, err)
	}
	waitFor(t, "the purge DSN", func() bool { return w.capture.count() == 1 })
	rep, err := dsn.Parse(w.capture.messages()[0].data)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Recipients) != 2 || rep.Recipients[0].Status != "5.0.0" {
		t.Fatalf("purge DSN: %+v", rep.Recipients)
	}
	waitFor(t, "an empty spool (the DSN's own delivery written back)", func() bool { return e.SpoolStats().Recipients == 0 })
}

func TestTraceRecipient_DeferredThenPaused_ThenGone(t *testing.T) {
	w := newWorld(t, 0)
	e := w.engine(t, t.TempDir(), nil)
	defer e.Close()
	id := submit(t, e, "a@sender.example", "defer1@tr.test", "ok1@tr.test")
	waitFor(t, "the deferral", func() bool {
		tr, err := e.TraceRecipient(id, "defer1@tr.test")
		return err == nil && tr[0].State == "deferred"
	})
	tr, _ := e.TraceRecipient(id, "")
	if len(tr) != 1 || tr[0].Attempts != 1 || !contains(tr[0].LastReply, "451") ||
		tr[0].HeldBy != "waiting for its retry time (retry_after)" {
		t.Fatalf("trace of a deferred recipient: %+v", tr)
	}
	e.Pause(QueueFilter{Domain: "tr.test"})
	if tr, _ := e.TraceRecipient(strings.ToLower(id), "DEFER1@tr.test"); tr[0].State != "paused" {
		t.Fatalf("after pause: %+v", tr)
	}
	if _, err := e.TraceRecipient(id, "ok1@tr.test"); !errors.Is(err, ErrNotQueued) {
		t.Fatalf("delivered recipient: %v, want ErrNotQueued", err)
	}
	if _, err := e.TraceRecipient("NOPE", ""); !errors.Is(err, ErrNotQueued) {
		t.Fatalf("unknown message: %v", err)
	}
}

func TestMetrics_StateGaugesAfterDelivery(t *testing.T) {
	w := newWorld(t, 0)
	e := w.engine(t, t.TempDir(), nil)
	defer e.Close()
	e.Pause(QueueFilter{Domain: "m2.test"})
	submit(t, e, "a@sender.example", "x@m1.test")
	submit(t, e, "a@sender.example", "y@m2.test")
	gather := func() map[string]float64 {
		mfs, err := e.Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				name := mf.GetName()
				for _, l := range m.GetLabel() {
					name += "/" + l.GetValue()
				}
				got[name] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
			}
		}
		return got
	}
	// NB: the sink counts a delivery at its 250; the engine writes the
	// result back a moment later, so wait for the engine's own counter.
	waitFor(t, "one delivery written back", func() bool { return gather()["sluice_delivered_recipients_total"] == 1 })
	got := gather()
	for name, want := range map[string]float64{
		"sluice_queued_recipients_by_vmta/default": 1, "sluice_queued_recipients_by_pool/default": 1,
		"sluice_delivered_recipients_total": 1, "sluice_connections_open/default": 1,
	} {
		if got[name] != want {
			t.Errorf("%s = %v, want %v", name, got[name], want)
		}
	}
	if got["sluice_spool_wal_syncs_total"] < 1 {
		t.Errorf("no WAL syncs counted: %v", got)
	}
}

func TestOutcomeStats_CountsAndRatesPerVMTAAndDomain(t *testing.T) {
	w := newWorld(t, 0)
	e := w.engine(t, t.TempDir(), nil)
	defer e.Close()
	submit(t, e, "a@sender.example", "ok1@o1.test", "ok2@o1.test", "defer1@o1.test")
	submit(t, e, "a@sender.example", "bounce1@o2.test")
	waitFor(t, "four outcomes", func() bool {
		vs, _ := e.OutcomeStats(0)
		return len(vs) == 1 && vs[0].Delivered >= 2 && vs[0].Deferred == 1 && vs[0].Bounced == 1
	})
	vs, ds := e.OutcomeStats(1)
	if vs[0].Key != DefaultVMTA || vs[0].DeliveredPerMin < 2 || vs[0].BouncedPerMin != 1 {
		t.Fatalf("vmta outcomes %+v", vs)
	}
	if len(ds) != 1 || ds[0].Key != "o1.test" || ds[0].Delivered != 2 || ds[0].Deferred != 1 {
		t.Fatalf("busiest domain %+v, want o1.test first (limit 1)", ds)
	}
	waitFor(t, "the bounce's DSN written back", func() bool { return e.SpoolStats().Recipients == 1 }) // defer1 stays
	w.clock.Advance(2 * time.Minute)                                                                   // the window slides past: totals stay, rates drop
	vs, _ = e.OutcomeStats(0)
	if vs[0].DeliveredPerMin != 0 || vs[0].Delivered < 2 {
		t.Fatalf("after a quiet minute %+v", vs[0])
	}
}
