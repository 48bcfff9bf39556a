package engine

import (
	"net/netip"
	"testing"
	"time"

	"github.com/sluice-mta/sluice/bench/fakedns"
	"github.com/sluice-mta/sluice/configs"
	"github.com/sluice-mta/sluice/engine/dsn"
)

// TestReliability09_RetrySchedule_OnTimeThenBounceAtExpiry is row 9 over
// simulated time: one message to a recipient the receiver always defers
// (451) and one it rejects (550). The 550 bounces at once (a DSN before
// the clock moves). Each retry of the 451 comes at its retry_after step
// (5m, 10m, 20m, then 20m again; ±10% jitter) and never earlier, and at
// bounce_after (1h) the recipient bounces with 4.4.7 and is not tried again.
func TestReliability09_RetrySchedule_OnTimeThenBounceAtExpiry(t *testing.T) {
	w := newWorld(t, 0)
	e := w.engine(t, t.TempDir(), func(c *configs.Config) {
		c.Delivery.RetryAfter = []configs.Duration{configs.Duration(5 * time.Minute), configs.Duration(10 * time.Minute), configs.Duration(20 * time.Minute)}
		c.Delivery.BounceAfter = configs.Duration(time.Hour)
	})
	defer e.Close()
	start := w.clock.Now()
	submit(t, e, "sched@sender.example", "defer7@d7.test", "bounce7@d7.test")
	waitFor(t, "the first attempt and the 5xx DSN", func() bool {
		return w.sink.Stats().ByCode["451"] == 1 && w.capture.count() == 1
	})
	rep, err := dsn.Parse(w.capture.messages()[0].data)
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Recipients[0]; r.Final != "bounce7@d7.test" || r.Action != "failed" || r.Status[0] != '5' {
		t.Fatalf("the 550 recipient's DSN: %+v", r)
	}
	// Step the clock a minute at a time and note when each attempt happens.
	attempts := []time.Duration{0}
	for step := 0; step < 75; step++ {
		w.clock.Advance(time.Minute)
		// Settled: the recipient is scheduled in the future again (or gone),
		// so an attempt due by now has happened and is counted at this minute.
		waitFor(t, "the queue to settle", func() bool {
			settled := true
			_ = e.spool.Recipients(func(r spoolRecipient) bool { settled = r.NextDue.After(w.clock.Now()); return false })
			return settled
		})
		if n := int(w.sink.Stats().ByCode["451"]); n > len(attempts) {
			attempts = append(attempts, w.clock.Now().Sub(start))
		}
	}
	waitFor(t, "the expiry DSN", func() bool { return w.capture.count() == 2 })
	rep, err = dsn.Parse(w.capture.messages()[1].data)
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Recipients[0]; r.Final != "defer7@d7.test" || r.Status != "4.4.7" || r.Action != "failed" {
		t.Fatalf("the expiry DSN: %+v", r)
	}
	t.Logf("attempts at %v", attempts)
	// NB: how many retries fit before the expiry depends on the jitter (and
	// on the minute steps, since each retry is timed from the attempt before
	// it): 5m+10m+20m+20m is 55m nominally, 60.5m with +10% every time. So
	// the test holds every gap to its step and every attempt to the expiry,
	// not the count.
	if len(attempts) < 4 {
		t.Fatalf("attempts at %v: want at least the first and 5m, 10m, 20m after it before the 1h expiry", attempts)
	}
	steps := []time.Duration{5 * time.Minute, 10 * time.Minute, 20 * time.Minute}
	for i := 1; i < len(attempts); i++ {
		want := steps[min(i-1, len(steps)-1)]
		gap := attempts[i] - attempts[i-1]
		// ±10% jitter, plus the 1-minute steps of the simulated clock.
		if gap < want*9/10 || gap > want*11/10+2*time.Minute {
			t.Errorf("retry %d came %v after the previous attempt, want %v ±10%%", i, gap, want)
		}
		if attempts[i] >= time.Hour {
			t.Errorf("attempt %d at %v: at or after the 1h expiry", i, attempts[i])
		}
	}
	if n := int(w.sink.Stats().ByCode["451"]); n != len(attempts) {
		t.Errorf("%d attempts in all, %d seen before the expiry: tried after it", n, len(attempts))
	}
	waitFor(t, "an empty spool", func() bool { return e.SpoolStats().Recipients == 0 })
}

// TestReliability11_DNSTimeout_Defers is the timeout case of row 11 (the
// others: TestDelivery_DNSServfail_DefersNotBounces,
// TestDelivery_NullMXAndNXDomain_BounceAtOnce): an MX query that is never
// answered in time defers the recipient (no DSN) and delivery follows once
// DNS answers again.
func TestReliability11_DNSTimeout_Defers(t *testing.T) {
	w := newWorld(t, 0)
	w.dns.SetDelay("slowdns.test", 3*time.Second)
	e := w.engine(t, t.TempDir(), func(c *configs.Config) { c.DNS.Timeout = configs.Duration(200 * time.Millisecond) })
	defer e.Close()
	submit(t, e, "t@sender.example", "u@slowdns.test")
	waitFor(t, "a deferral", func() bool {
		var got bool
		_ = e.spool.Recipients(func(r spoolRecipient) bool { got = r.Attempts == 1; return false })
		return got
	})
	if w.capture.count() != 0 {
		t.Fatal("a DNS timeout produced a DSN")
	}
	w.dns.Clear("slowdns.test")
	w.clock.Advance(6 * time.Minute)
	waitFor(t, "delivery after DNS answers", func() bool { return w.sink.Stats().Recipients == 1 })
}

// TestReliability10_FirstMXDead_DeliveredViaSecond is row 10 end to end:
// the domain's preferred MX (10) resolves to an address where nothing
// listens, the second (20) to the receiver. The message is delivered on
// the first attempt, through the second MX, without a retry or a DSN.
// (engine/deliver's TestPool_FirstMXDead_FallsBackToNextHost checks the
// same inside the connection pool.)
func TestReliability10_FirstMXDead_DeliveredViaSecond(t *testing.T) {
	w := newWorld(t, 0)
	w.dns.SetMX("twomx.test", time.Hour, fakedns.MX{Host: "dead.twomx.test", Pref: 10}, fakedns.MX{Host: "live.twomx.test", Pref: 20})
	w.dns.SetA("dead.twomx.test", time.Hour, netip.MustParseAddr("127.0.0.2"))
	w.dns.SetA("live.twomx.test", time.Hour, netip.MustParseAddr("127.0.0.1"))
	e := w.engine(t, t.TempDir(), nil)
	defer e.Close()
	submit(t, e, "m@sender.example", "u@twomx.test")
	// The clock never moves: a delivery that needed a retry would never come.
	waitFor(t, "delivery via the second MX", func() bool { return w.sink.Stats().Recipients == 1 })
	waitFor(t, "an empty spool", func() bool { return e.SpoolStats().Recipients == 0 })
	if w.capture.count() != 0 {
		t.Fatal("a DSN for a message the second MX took")
	}
}
