package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluice-mta/sluice/configs"
	"github.com/sluice-mta/sluice/engine/deliver"
)

// siteLimits returns the deliver pool limits in force for domain's site.
func siteLimits(e *Engine, domain string) (deliver.SiteStats, bool) {
	for _, s := range e.conns.Stats() {
		if s.Site == "domain:"+domain || strings.Contains(s.Site, domain) {
			return s, true
		}
	}
	return deliver.SiteStats{}, false
}

func TestFeedback_421sCutTheRateAtOnce_QuietPeriodClimbsBackToTheCeiling(t *testing.T) {
	w := newWorld(t, 0)
	e := w.engine(t, t.TempDir(), func(c *configs.Config) {
		c.Domains = []configs.Rule{{Match: "thr.test", MaxMsgRate: "100/s", MaxSMTPOut: intp(8)}}
		c.Feedback.Adaptive.IncreaseEvery = configs.Duration(10 * time.Second)
	})
	defer e.Close()
	submitNull(t, e, "ok0@thr.test")
	waitFor(t, "the site's first delivery", func() bool { return w.deliveredTo("thr.test") == 1 })
	if s, _ := siteLimits(e, "thr.test"); s.MsgRate != 100 || s.MaxConnections != 8 {
		t.Fatalf("before throttling: %+v", s)
	}
	for i := 0; i < 5; i++ {
		submitNull(t, e, "throttle"+string(rune('a'+i))+"@thr.test")
	}
	// The simulated clock does not move: the cut comes with the 421s
	// themselves (one cut per decrease hold, however many 421s).
	waitFor(t, "the rate cut", func() bool { s, _ := siteLimits(e, "thr.test"); return s.MsgRate < 100 })
	// NB: the sink counts a 421 when it sends it; the engine's verdict
	// follows, and a late one would reset the quiet period below.
	waitFor(t, "all 421s written back", func() bool { return testutil.ToFloat64(e.metrics.deferred) >= 5 })
	s, _ := siteLimits(e, "thr.test")
	if s.MsgRate != 50 || s.MaxConnections != 4 {
		t.Fatalf("after a run of 421s within one second: rate %v conns %d, want 50 and 4", s.MsgRate, s.MaxConnections)
	}
	// Quiet: each 2xx after increase_every without a 421 adds 10% of the ceiling.
	for i := 1; i <= 6; i++ {
		w.clock.Advance(11 * time.Second)
		submitNull(t, e, "ok"+string(rune('a'+i))+"@thr.test")
		waitFor(t, "a quiet delivery", func() bool { return w.deliveredTo("thr.test") == int64(1+i) })
		want := min(50+10*float64(i), 100)
		waitFor(t, "the climb", func() bool { s, _ := siteLimits(e, "thr.test"); return s.MsgRate == want })
	}
	if s, _ := siteLimits(e, "thr.test"); s.MsgRate != 100 || s.MaxConnections != 8 {
		t.Fatalf("after the quiet period: %+v, want the ceiling 100/s and 8 connections", s)
	}
}

func writeRules(t *testing.T, text string) string {
	p := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFeedback_PatternSuspendsTheQueue_UntilItExpires(t *testing.T) {
	w := newWorld(t, 0)
	rules := writeRules(t, `
groups:
  - name: other
    rules:
      - pattern: 'Try again later'
        category: policy-related
        action: suspend
        duration: 10m
        source: "test: suspend on deferral"
`)
	e := w.engine(t, t.TempDir(), func(c *configs.Config) {
		c.Feedback.RulesFile = rules
		c.Feedback.Adaptive.Off = true
		c.Delivery.RetryAfter = []configs.Duration{configs.Duration(time.Hour)}
	})
	defer e.Close()
	submitNull(t, e, "defer1@sus.test")
	waitFor(t, "the suspension", func() bool { return len(e.Actions()) == 1 })
	a := e.Actions()[0]
	if a.Kind != "suspend" || !strings.Contains(a.Cause, "test: suspend on deferral") || a.Expiry.Sub(a.Start) != 10*time.Minute {
		t.Fatalf("action: %+v", a)
	}
	submitNull(t, e, "ok1@sus.test")
	time.Sleep(300 * time.Millisecond)
	if n := w.deliveredTo("sus.test"); n != 0 {
		t.Fatalf("%d delivered while suspended", n)
	}
	w.clock.Advance(11 * time.Minute)
	waitFor(t, "delivery after the suspension expired", func() bool { return w.deliveredTo("sus.test") == 1 })
	if len(e.Actions()) != 0 {
		t.Fatalf("expired action still listed: %+v", e.Actions())
	}
	evs, _ := e.events.log.Read(0, 1000)
	found := false
	for _, ev := range evs {
		found = found || (ev.Type == EventAction && strings.HasPrefix(ev.Reply, "suspend until"))
	}
	if !found {
		t.Fatal("no action event")
	}
}

func TestFeedback_OperatorLiftsASuspension(t *testing.T) {
	w := newWorld(t, 0)
	rules := writeRules(t, `
groups:
  - name: other
    rules:
      - {pattern: 'Try again later', category: transient, action: suspend, duration: 1h, source: test}
`)
	e := w.engine(t, t.TempDir(), func(c *configs.Config) {
		c.Feedback.RulesFile = rules
		c.Delivery.RetryAfter = []configs.Duration{configs.Duration(time.Hour)}
	})
	defer e.Close()
	submitNull(t, e, "defer1@lift.test")
	waitFor(t, "the suspension", func() bool { return len(e.Actions()) > 0 })
	submitNull(t, e, "ok1@lift.test")
	time.Sleep(200 * time.Millisecond)
	if _, err := e.LiftAction("default", "", "bogus", "test"); err == nil {
		t.Fatal("unknown kind lifted")
	}
	if n, err := e.LiftAction("default", "", "suspend", "operator"); err != nil || n != 1 {
		t.Fatalf("lift: %d %v", n, err)
	}
	waitFor(t, "delivery once lifted", func() bool { return w.deliveredTo("lift.test") == 1 })
	if _, err := e.LiftAction("default", "", "suspend", "operator"); err != ErrNoAction {
		t.Fatalf("second lift: %v", err)
	}
}

func TestFeedback_BadRulesFileIsAConfigError(t *testing.T) {
	w := newWorld(t, 0)
	rules := writeRules(t, "groups:\n  - name: other\n    rules:\n      - pattern: '(unclosed'\n        category: transient\n")
	cfg, err := configs.Load("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Spool.Dir = t.TempDir()
	cfg.Feedback.RulesFile = rules
	_, err = New(cfg, Deps{Clock: w.clock.Now, SchedClock: w.clock, Logger: testLogger(), NoDelivery: true})
	if err == nil || !strings.Contains(err.Error(), "feedback.rules_file") || !strings.Contains(err.Error(), "line 4") {
		t.Fatalf("bad regexp: %v", err)
	}
}
