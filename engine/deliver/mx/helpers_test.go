package mx

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/sluice-mta/sluice/bench/fakedns"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testPort is the SMTP port test resolvers put on every host.
const testPort = 2525

// fakeClock is a Clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is a Resolver wired to a fake DNS server on loopback and a fake clock.
type env struct {
	r     *Resolver
	dns   *fakedns.Server
	clock *fakeClock
}

// newEnv starts a fake DNS server and a Resolver asking it; mods adjust the
// Config before New.
func newEnv(t *testing.T, mods ...func(*Config)) *env {
	t.Helper()
	srv, err := fakedns.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	cfg := Config{
		Resolvers: []string{srv.Addr()},
		Port:      testPort,
		Timeout:   2 * time.Second,
		Clock:     clock.Now,
		Rand:      rand.New(rand.NewPCG(1, 2)),
	}
	for _, mod := range mods {
		mod(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{r: r, dns: srv, clock: clock}
}

// lookup looks domain up and fails the test on error.
func (e *env) lookup(t *testing.T, domain string) *Plan {
	t.Helper()
	p, err := e.r.Lookup(context.Background(), domain)
	if err != nil {
		t.Fatalf("Lookup(%q): %v", domain, err)
	}
	return p
}

// hostNames lists the names of p's hosts in order.
func hostNames(p *Plan) []string {
	names := make([]string, len(p.Hosts))
	for i, h := range p.Hosts {
		names[i] = h.Name
	}
	return names
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// mxs builds MX records from "host", pref pairs.
func mxs(hostPrefs ...any) []fakedns.MX {
	var out []fakedns.MX
	for i := 0; i < len(hostPrefs); i += 2 {
		out = append(out, fakedns.MX{Host: hostPrefs[i].(string), Pref: hostPrefs[i+1].(int)})
	}
	return out
}
