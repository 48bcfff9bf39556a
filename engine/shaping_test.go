package engine

import (
	"fmt"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-mta/sluice/configs"
)

func intp(n int) *int { return &n }

func TestPool_Weights121_SplitBySourceIPWithin2Percent(t *testing.T) {
	if testing.Short() {
		t.Skip("8,000 messages")
	}
	w := newWorld(t, 1)
	e := w.engine(t, t.TempDir(), func(c *configs.Config) {
		c.VMTAs = []configs.VMTA{
			{Name: "ip2", SourceIP: "127.0.0.2", HELO: "mta2.sluice.test"},
			{Name: "ip3", SourceIP: "127.0.0.3", HELO: "mta3.sluice.test"},
			{Name: "ip4", SourceIP: "127.0.0.4", HELO: "mta4.sluice.test"},
		}
		c.Pools = []configs.Pool{{Name: "default", Members: []configs.PoolMember{
			{VMTA: "ip2", Weight: 1}, {VMTA: "ip3", Weight: 2}, {VMTA: "ip4", Weight: 1}}}}
	})
	defer e.Close()
	for i := 0; i < 8000; i++ {
		submit(t, e, "w@sender.example", fmt.Sprintf("u%d@d%d.test", i, i%20))
	}
	waitFor(t, "8,000 deliveries", func() bool { return w.sink.Stats().Recipients == 8000 })
	by := w.sink.Stats().ByPeerIP
	for ip, want := range map[string]float64{"127.0.0.2": 2000, "127.0.0.3": 4000, "127.0.0.4": 2000} {
		if got := float64(by[ip]); math.Abs(got-want)/want > 0.02 {
			t.Errorf("%s sent %v, want %v ±2%% (all: %v)", ip, got, want, by)
		}
	}
}

// deliveredTo polls the sink's count for one domain.
func (w *world) deliveredTo(domain string) int64 { return w.sink.Stats().ByDomain[domain] }

// measureRate counts deliveries to domain over d, starting at the first one.
func (w *world) measureRate(t *testing.T, domain string, d time.Duration) float64 {
	t.Helper()
	waitFor(t, "the first delivery to "+domain, func() bool { return w.deliveredTo(domain) > 0 })
	n0, t0 := w.deliveredTo(domain), time.Now()
	time.Sleep(d)
	n1, t1 := w.deliveredTo(domain), time.Now()
	return float64(n1-n0) / t1.Sub(t0).Seconds()
}

func TestShaping_MaxMsgRate100PerSecond_Within2PercentOver30s_OtherDomainUnthrottled(t *testing.T) {
	if raceEnabled {
		t.Skip("measures a rate: run without -race (make test does)")
	}
	if testing.Short() {
		t.Skip("30 s")
	}
	w := newWorld(t, 0)
	e := w.engine(t, t.TempDir(), func(c *configs.Config) {
		c.Domains = []configs.Rule{{Match: "slow.test", MaxMsgRate: "100/s"}}
	})
	defer e.Close()
	for i := 0; i < 3400; i++ {
		submit(t, e, "r@sender.example", fmt.Sprintf("u%d@slow.test", i))
	}
	for i := 0; i < 2000; i++ {
		submit(t, e, "r@sender.example", fmt.Sprintf("u%d@fast.test", i))
	}
	start := time.Now()
	waitFor(t, "the unthrottled domain", func() bool { return w.deliveredTo("fast.test") == 2000 })
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("unthrottled domain took %v: held back by the other's rate", took)
	}
	got := w.measureRate(t, "slow.test", 30*time.Second)
	if math.Abs(got-100)/100 > 0.02 {
		t.Fatalf("slow.test received %.1f msgs/s over 30 s, want 100 ±2%%", got)
	}
}

func TestShaping_MaxSMTPOut3_NeverExceeded(t *testing.T) {
	w := newWorld(t, 0)
	e := w.engine(t, t.TempDir(), func(c *configs.Config) {
		c.Domains = []configs.Rule{{Match: "*.test", MaxSMTPOut: intp(3), MaxRcptPerMsg: intp(1)}}
	})
	defer e.Close()
	var peak atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if n := w.sink.Stats().ActiveConnections; n > peak.Load() {
				peak.Store(n)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	for i := 0; i < 30; i++ {
		submit(t, e, "c@sender.example", fmt.Sprintf("slow%d@conn.test", i))
	}
	waitFor(t, "30 slow deliveries", func() bool { return w.deliveredTo("conn.test") == 30 })
	close(stop)
	<-done
	if p := peak.Load(); p != 3 {
		t.Fatalf("peak concurrent connections %d, want exactly max_smtp_out 3 (used, never exceeded)", p)
	}
}

func TestReload_RateChangesMidRun(t *testing.T) {
	if raceEnabled {
		t.Skip("measures a rate: run without -race (make test does)")
	}
	if testing.Short() {
		t.Skip("10 s")
	}
	w := newWorld(t, 0)
	dir := t.TempDir()
	mutate := func(rate string) func(*configs.Config) {
		return func(c *configs.Config) { c.Domains = []configs.Rule{{Match: "re.test", MaxMsgRate: rate}} }
	}
	e := w.engine(t, dir, mutate("50/s"))
	defer e.Close()
	for i := 0; i < 1500; i++ {
		submit(t, e, "r@sender.example", fmt.Sprintf("u%d@re.test", i))
	}
	before := w.measureRate(t, "re.test", 4*time.Second)
	cfg := *e.cfg
	mutate("200/s")(&cfg)
	if err := e.Reload(&cfg); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // jobs already queued under the old rate drain
	after := w.measureRate(t, "re.test", 4*time.Second)
	if math.Abs(before-50)/50 > 0.05 || math.Abs(after-200)/200 > 0.05 {
		t.Fatalf("rate %.1f/s before the reload (want 50), %.1f/s after (want 200)", before, after)
	}
}

func TestReload_BadConfigRejectedWhole_OldKeepsRunning(t *testing.T) {
	w := newWorld(t, 0)
	e := w.engine(t, t.TempDir(), nil)
	defer e.Close()
	cfg := *e.cfg
	cfg.VMTAs = []configs.VMTA{{Name: "ghost", SourceIP: "192.0.2.77", HELO: "ghost.sluice.test"}}
	err := e.Reload(&cfg)
	if err == nil || !contains(err.Error(), "vmta ghost") {
		t.Fatalf("reload with an unbindable source IP: %v", err)
	}
	submit(t, e, "a@sender.example", "ok@still.test")
	waitFor(t, "delivery on the old config", func() bool { return w.deliveredTo("still.test") == 1 })
}

func TestVMTA_DisableHoldsItsMail_EnableReleases(t *testing.T) {
	w := newWorld(t, 0)
	e := w.engine(t, t.TempDir(), func(c *configs.Config) {
		c.VMTAs = []configs.VMTA{{Name: "ip5", SourceIP: "127.0.0.5", HELO: "mta5.sluice.test"}}
	})
	defer e.Close()
	if err := e.SetVMTADisabled("ip5", true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Submit(t.Context(), Envelope{From: "a@sender.example", To: []string{"x@dis.test"}}, []byte("Subject: x\r\n\r\nx\r\n")); err == nil {
		t.Fatal("a pool whose only member is disabled accepted mail")
	}
	if _, err := e.Submit(t.Context(), Envelope{From: "a@sender.example", To: []string{"x@dis.test"}, VMTA: "ip5"}, []byte("Subject: x\r\n\r\nx\r\n")); err != nil {
		t.Fatalf("mail naming the disabled vmta: %v", err)
	}
	time.Sleep(100 * time.Millisecond)
	if w.deliveredTo("dis.test") != 0 {
		t.Fatal("a disabled vmta delivered")
	}
	if err := e.SetVMTADisabled("ip5", false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery after enable", func() bool { return w.deliveredTo("dis.test") == 1 })
	if by := w.sink.Stats().ByPeerIP; by["127.0.0.5"] != 1 {
		t.Fatalf("sent from %v, want 127.0.0.5", by)
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || len(s) >= len(sub) && (s == sub || indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestReload_RemovedVMTA_DrainsItsQueue_TakesNoNewMail(t *testing.T) {
	w := newWorld(t, 0)
	two := []configs.VMTA{{Name: "ip6", SourceIP: "127.0.0.6", HELO: "mta6.sluice.test"}}
	e := w.engine(t, t.TempDir(), func(c *configs.Config) { c.VMTAs = two })
	defer e.Close()
	e.Pause(QueueFilter{VMTA: "ip6"})
	submit(t, e, "a@sender.example", "x@drain.test")
	cfg := *e.cfg
	cfg.VMTAs = []configs.VMTA{{Name: "ip7", SourceIP: "127.0.0.7", HELO: "mta7.sluice.test"}}
	if err := e.Reload(&cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Submit(t.Context(), Envelope{From: "a@sender.example", To: []string{"y@drain.test"}, VMTA: "ip6"},
		[]byte("Subject: x\r\n\r\nx\r\n")); err == nil {
		t.Fatal("a removed vmta took new mail")
	}
	e.Resume(QueueFilter{VMTA: "ip6"})
	waitFor(t, "the removed vmta's queue to drain", func() bool { return w.deliveredTo("drain.test") == 1 })
	if by := w.sink.Stats().ByPeerIP; by["127.0.0.6"] != 1 {
		t.Fatalf("drained from %v, want 127.0.0.6", by)
	}
	submit(t, e, "a@sender.example", "z@drain.test")
	waitFor(t, "new mail through the new vmta", func() bool { return w.sink.Stats().ByPeerIP["127.0.0.7"] == 1 })
}
