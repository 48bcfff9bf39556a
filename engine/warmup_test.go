package engine

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mta/sluice/bench/fakedns"
	"github.com/sluice-mta/sluice/configs"
)

// warmWorld is a world with two receiver groups: gmail.test (MX under
// google.test, group "gmail") and other.test (group "other").
func warmWorld(t *testing.T) *world {
	w := newWorld(t, 0)
	w.dns.SetMX("gmail.test", time.Hour, fakedns.MX{Host: "mx1.google.test", Pref: 10})
	w.dns.SetA("mx1.google.test", time.Hour, netip.MustParseAddr("127.0.0.1"))
	return w
}

// warmConfig puts vmta cold (127.0.0.2) on a plan starting today beside
// warm (127.0.0.3, no plan) in the default pool, cold weighted so it gets
// all the mail it has room for.
func warmConfig(overflow string) func(*configs.Config) {
	return func(c *configs.Config) {
		c.VMTAs = []configs.VMTA{
			{Name: "cold", SourceIP: "127.0.0.2", HELO: "cold.sluice.test",
				Warmup: &configs.VMTAWarmup{Plan: "new-ip", Start: "2026-11-23"}},
			{Name: "warm", SourceIP: "127.0.0.3", HELO: "warm.sluice.test"},
		}
		c.Pools = []configs.Pool{{Name: "default", Members: []configs.PoolMember{
			{VMTA: "cold", Weight: 1000}, {VMTA: "warm", Weight: 1}}}}
		c.Warmup.Groups = map[string][]string{"gmail": {"*.google.test"}}
		c.Warmup.Plans = []configs.WarmupPlan{{
			Name:     "new-ip",
			Doubling: &configs.WarmupDoubling{Start: 5, Factor: 2, Days: 6}, // 5 10 20 40 80 160, then no cap
			Overflow: overflow,
			Groups:   map[string]configs.WarmupGroupPlan{"gmail": {Days: []int{3, 6, 12, 24, 48, 96}}},
		}}
		c.Delivery.BounceAfter = configs.Duration(2 * time.Hour) // a deferral is gone by the next day
	}
}

// submitNull submits one message from the null sender (no DSNs to count).
func submitNull(t *testing.T, e *Engine, to ...string) {
	t.Helper()
	if _, err := e.Submit(context.Background(), Envelope{From: "", To: to},
		[]byte("From: <n@sender.example>\r\nSubject: w\r\n\r\nhi\r\n")); err != nil {
		t.Fatal(err)
	}
}

func TestWarmup_30Days_CapsPerGroupExact_OverflowToWarm_DeferralsHold_RestartKeepsCounts(t *testing.T) {
	if testing.Short() {
		t.Skip("30 simulated days")
	}
	w := warmWorld(t)
	dir := t.TempDir()
	e := w.engine(t, dir, warmConfig("pool"))
	defer func() { e.Close() }()

	const demand = 100 // recipients per group per day
	otherCaps := []int{5, 10, 20, 40, 80, 160}
	// gmail: 3 6 12, then day 3's deferral holds day 4 at 12, then 24 48 96.
	gmailCaps := []int{3, 6, 12, 12, 24, 48, 96}
	capOf := func(caps []int, day int) int {
		if day <= len(caps) {
			return min(caps[day-1], demand)
		}
		return demand
	}
	start := w.clock.Now()
	var prev map[string]int64
	for day := 1; day <= 30; day++ {
		if day > 1 {
			w.clock.Advance(start.Add(time.Duration(day-1) * 24 * time.Hour).Sub(w.clock.Now()))
		}
		n := 0
		if day == 3 {
			submitNull(t, e, "defer-w3@gmail.test") // 1 deferral of 12: a poor day, the step holds
			n = 1
		}
		if day == 2 { // restart mid-day: the day's counts survive
			for i := 0; i < 4; i++ {
				submitNull(t, e, fmt.Sprintf("r%d@other.test", i))
			}
			waitFor(t, "mail before the restart", func() bool { return e.SpoolStats().Recipients == 0 })
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			e = w.engine(t, dir, warmConfig("pool"))
		}
		for i := n; i < demand; i++ {
			submitNull(t, e, fmt.Sprintf("u%d-%d@gmail.test", day, i))
		}
		for i := 0; i < demand; i++ {
			if day == 2 && i < 4 {
				continue
			}
			submitNull(t, e, fmt.Sprintf("u%d-%d@other.test", day, i))
		}
		waitFor(t, fmt.Sprintf("day %d delivered", day), func() bool {
			return e.SpoolStats().Recipients == map[bool]int64{true: 1, false: 0}[day == 3]
		})
		got := w.sink.Stats().ByPeerDomain
		delta := func(k string) int64 { return got[k] - prev[k] }
		for _, g := range []struct {
			domain string
			caps   []int
		}{{"gmail.test", gmailCaps}, {"other.test", otherCaps}} {
			cold, warm := delta("127.0.0.2 "+g.domain), delta("127.0.0.3 "+g.domain)
			accepted := int64(demand)
			if day == 3 && g.domain == "gmail.test" {
				accepted-- // the deferred one counts against the cap but was not accepted
			}
			if cold+warm != accepted {
				t.Fatalf("day %d %s: cold %d + warm %d, want %d", day, g.domain, cold, warm, accepted)
			}
			capped := day <= len(g.caps) && g.caps[day-1] < demand
			switch want := int64(capOf(g.caps, day)) - (demand - accepted); {
			case capped && cold != want: // exact: the cap is reached, never passed
				t.Fatalf("day %d %s: cold sent %d, want its cap %d (warm took %d)", day, g.domain, cold, want, warm)
			case !capped && cold < accepted-3: // uncapped: the pool's 1000:1 weights
				t.Fatalf("day %d %s: uncapped cold sent only %d of %d", day, g.domain, cold, accepted)
			}
		}
		prev = got
		if day == 4 {
			st, err := e.WarmupStatus("cold")
			if err != nil || len(st) != 1 {
				t.Fatalf("status: %v %v", st, err)
			}
			for _, g := range st[0].Groups {
				if g.Group == "gmail" && (g.Day != 3 || g.LastDecision.Action != "hold" || !strings.Contains(g.LastDecision.Reason, "deferral")) {
					t.Fatalf("gmail on day 4: %+v", g)
				}
			}
		}
	}
	evs, err := e.events.log.Read(0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var holds, advances int
	for _, ev := range evs {
		if ev.Type != EventWarmup || ev.VMTA != "cold" {
			continue
		}
		switch {
		case strings.HasPrefix(ev.Reply, "hold") && ev.Category == "gmail" && strings.Contains(ev.Reply, "deferral"):
			holds++
		case strings.HasPrefix(ev.Reply, "advance"):
			advances++
		}
	}
	if holds != 1 || advances < 10 {
		t.Fatalf("warm-up events: %d deferral holds (want 1), %d advances", holds, advances)
	}
}

func TestWarmup_OverflowHold_WaitsForTheNextDay(t *testing.T) {
	w := warmWorld(t)
	e := w.engine(t, t.TempDir(), func(c *configs.Config) {
		warmConfig("hold")(c)
		c.Delivery.BounceAfter = configs.Duration(4 * 24 * time.Hour)
	})
	defer e.Close()
	for i := 0; i < 8; i++ {
		submitNull(t, e, fmt.Sprintf("h%d@other.test", i))
	}
	waitFor(t, "the day's cap", func() bool { return w.sink.Stats().ByPeerDomain["127.0.0.2 other.test"] == 5 })
	time.Sleep(300 * time.Millisecond) // nothing more may leave today
	st := w.sink.Stats()
	if st.Recipients != 5 || e.SpoolStats().Recipients != 3 {
		t.Fatalf("cap 5: sink got %d, %d queued", st.Recipients, e.SpoolStats().Recipients)
	}
	w.clock.Advance(24 * time.Hour)
	waitFor(t, "the held mail on the next day", func() bool { return w.sink.Stats().ByPeerDomain["127.0.0.2 other.test"] == 8 })
	if n := w.sink.Stats().ByPeerIP["127.0.0.3"]; n != 0 {
		t.Fatalf("hold plan overflowed %d to the warm vmta", n)
	}
}

func TestWarmup_OperatorAdvanceAndReset(t *testing.T) {
	w := warmWorld(t)
	e := w.engine(t, t.TempDir(), warmConfig("hold"))
	defer e.Close()
	if err := e.WarmupControl(WarmupAdvance, "cold", "other"); err != nil {
		t.Fatal(err)
	}
	st, _ := e.WarmupStatus("cold")
	for _, g := range st[0].Groups {
		if want := map[string]int{"gmail": 3, "other": 10}[g.Group]; g.Cap != want {
			t.Fatalf("after advance: %s cap %d, want %d", g.Group, g.Cap, want)
		}
	}
	if err := e.WarmupControl(WarmupReset, "cold", ""); err != nil {
		t.Fatal(err)
	}
	st, _ = e.WarmupStatus("cold")
	if st[0].Groups[len(st[0].Groups)-1].Cap != 5 || st[0].Groups[0].LastDecision.Reason != "reset to day 1 by operator" {
		t.Fatalf("after reset: %+v", st[0].Groups)
	}
	if err := e.WarmupControl(WarmupPause, "warm", ""); err == nil {
		t.Fatal("pause of a vmta without a plan: no error")
	}
	if err := e.WarmupControl(WarmupPause, "cold", "nosuch"); err == nil {
		t.Fatal("unknown group: no error")
	}
}

func TestWarmup_BadAssignmentIsAConfigErrorWithItsLine(t *testing.T) {
	w := warmWorld(t)
	cfg, err := configs.Parse([]byte(`
spool: {dir: `+t.TempDir()+`}
vmtas:
  - name: cold
    source_ip: 127.0.0.2
    helo: cold.sluice.test
    warmup: {plan: new-ip, start: "2027-01-01"}
warmup:
  plans:
    - name: new-ip
      days: [5, 10]
`), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.DNS.Resolvers = []string{w.dns.Addr()}
	_, err = New(cfg, Deps{Clock: w.clock.Now, SchedClock: w.clock, Logger: testLogger(), NoBindCheck: true})
	if err == nil || !strings.Contains(err.Error(), "line 7") || !strings.Contains(err.Error(), "future") {
		t.Fatalf("start in the future: %v", err)
	}
}
