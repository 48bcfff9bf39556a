package mx

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestLookup_MXRecords_OrderedByPreferenceWithAddressesAndPort(t *testing.T) {
	e := newEnv(t)
	e.dns.SetMX("example.com", time.Hour, mxs("b.mx.example.com", 20, "a.mx.example.com", 10, "c.mx.example.com", 30)...)
	e.dns.SetA("a.mx.example.com", time.Hour, addr("192.0.2.1"), addr("2001:db8::1"))
	e.dns.SetA("b.mx.example.com", time.Hour, addr("192.0.2.2"))
	e.dns.SetA("c.mx.example.com", time.Hour, addr("2001:db8::3"))

	p := e.lookup(t, "example.com")
	if got, want := hostNames(p), []string{"a.mx.example.com", "b.mx.example.com", "c.mx.example.com"}; !slices.Equal(got, want) {
		t.Errorf("hosts %v, want %v", got, want)
	}
	wantPrefs := []int{10, 20, 30}
	for i, h := range p.Hosts {
		if h.Port != testPort || h.Pref != wantPrefs[i] {
			t.Errorf("host %s: port %d pref %d, want %d and %d", h.Name, h.Port, h.Pref, testPort, wantPrefs[i])
		}
	}
	if got := fmt.Sprint(p.Hosts[0].Addrs); got != "[192.0.2.1 2001:db8::1]" {
		t.Errorf("addrs of a: %s, want IPv4 then IPv6", got)
	}
	if got := fmt.Sprint(p.Hosts[2].Addrs); got != "[2001:db8::3]" {
		t.Errorf("addrs of the IPv6-only host: %s", got)
	}
	if p.Implicit || p.Route || p.Domain != "example.com" {
		t.Errorf("plan %+v", p)
	}
	if want := "a.mx.example.com,b.mx.example.com,c.mx.example.com"; p.Site != want {
		t.Errorf("Site %q, want %q", p.Site, want)
	}
}

func TestLookup_EqualPreferences_ShuffledRoughlyEvenly(t *testing.T) {
	e := newEnv(t)
	e.dns.SetMX("example.com", time.Hour, mxs("a.example.com", 10, "b.example.com", 10, "c.example.com", 10, "backup.example.com", 20)...)
	for _, h := range []string{"a", "b", "c", "backup"} {
		e.dns.SetA(h+".example.com", time.Hour, addr("192.0.2.1"))
	}

	const n = 3000
	first := map[string]int{}
	for range n {
		p := e.lookup(t, "example.com")
		first[p.Hosts[0].Name]++
		if last := p.Hosts[3].Name; last != "backup.example.com" {
			t.Fatalf("the preference-20 host is at the end, got %v", hostNames(p))
		}
	}
	for _, h := range []string{"a.example.com", "b.example.com", "c.example.com"} {
		if c := first[h]; c < n/3-200 || c > n/3+200 {
			t.Errorf("%s first in %d of %d lookups, want about %d: %v", h, c, n, n/3, first)
		}
	}
}

func TestLookup_NoMX_ImplicitMXFromAddressRecords(t *testing.T) {
	e := newEnv(t)
	e.dns.SetA("plain.example", time.Hour, addr("192.0.2.7"), addr("2001:db8::7"))

	p := e.lookup(t, "plain.example")
	if !p.Implicit || p.Site != "plain.example" || len(p.Hosts) != 1 {
		t.Fatalf("plan %+v, want implicit with one host", p)
	}
	if h := p.Hosts[0]; h.Name != "plain.example" || h.Pref != 0 || h.Port != testPort || len(h.Addrs) != 2 {
		t.Errorf("host %+v", h)
	}
}

func TestLookup_PermanentFailures(t *testing.T) {
	e := newEnv(t)
	e.dns.SetNullMX("nomail.example")
	e.dns.SetA("empty.example", time.Hour) // exists, no MX, no address
	e.dns.SetMX("deadmx.example", time.Hour, mxs("gone.example", 10, "noaddr.example", 20)...)
	e.dns.SetA("noaddr.example", time.Hour)
	e.dns.SetMX("aliasmx.example", time.Hour, mxs("alias.example", 10)...)
	e.dns.SetCNAME("alias.example", "real.example", time.Hour)
	e.dns.SetA("real.example", time.Hour, addr("192.0.2.9"))

	tests := []struct {
		domain string
		want   error
	}{
		{"nomail.example", ErrNullMX},
		{"unknown.example", ErrNoSuchDomain},
		{"empty.example", ErrNoMailHosts},
		{"deadmx.example", ErrNoMailHosts},
		{"aliasmx.example", ErrNoMailHosts}, // an MX target that is a CNAME is skipped
		{"", ErrInvalidDomain},
		{"[192.0.2.1]", ErrInvalidDomain},
		{"bad..example", ErrInvalidDomain},
	}
	for _, tt := range tests {
		t.Run(tt.domain, func(t *testing.T) {
			p, err := e.r.Lookup(context.Background(), tt.domain)
			if !errors.Is(err, tt.want) || errors.Is(err, ErrTemporary) {
				t.Errorf("Lookup = %+v, %v; want %v and not temporary", p, err, tt.want)
			}
		})
	}
}

func TestLookup_NXDomain_CachedNegativelyForSOATTL(t *testing.T) {
	e := newEnv(t)
	e.dns.SetNegativeTTL(2 * time.Minute)

	for range 2 {
		if _, err := e.r.Lookup(context.Background(), "nowhere.example"); !errors.Is(err, ErrNoSuchDomain) {
			t.Fatalf("Lookup: %v, want ErrNoSuchDomain", err)
		}
	}
	if q := e.dns.Queries(); q != 1 {
		t.Errorf("two lookups sent %d queries, want 1 (the second from the negative cache)", q)
	}
	e.clock.Advance(2*time.Minute + time.Second)
	e.r.Lookup(context.Background(), "nowhere.example")
	if q := e.dns.Queries(); q != 2 {
		t.Errorf("after the SOA's negative TTL: %d queries, want 2", q)
	}
}

func TestLookup_ServFail_TemporaryAndCachedOnlyBriefly(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Attempts = 1 })
	e.dns.SetServFail("flaky.example")

	for range 2 {
		_, err := e.r.Lookup(context.Background(), "flaky.example")
		if !errors.Is(err, ErrTemporary) {
			t.Fatalf("Lookup: %v, want ErrTemporary", err)
		}
	}
	if q := e.dns.Queries(); q != 1 {
		t.Errorf("a burst of lookups sent %d queries, want 1", q)
	}

	e.dns.Clear("flaky.example")
	e.dns.SetMX("flaky.example", time.Hour, mxs("mx.flaky.example", 10)...)
	e.dns.SetA("mx.flaky.example", time.Hour, addr("192.0.2.1"))
	e.clock.Advance(DefaultTempFailTTL + time.Second)
	if p := e.lookup(t, "flaky.example"); len(p.Hosts) != 1 {
		t.Errorf("after TempFailTTL the domain resolves: %+v", p)
	}
}

func TestLookup_ServFailOnFirstResolver_NextResolverAnswers(t *testing.T) {
	e := newEnv(t)
	good := newEnv(t)
	good.dns.SetMX("example.com", time.Hour, mxs("mx.example.com", 10)...)
	good.dns.SetA("mx.example.com", time.Hour, addr("192.0.2.1"))
	e.dns.SetServFail("example.com")
	e.dns.SetServFail("mx.example.com")
	r, err := New(Config{Resolvers: []string{e.dns.Addr(), good.dns.Addr()}, Port: testPort})
	if err != nil {
		t.Fatal(err)
	}

	if _, err := r.Lookup(context.Background(), "example.com"); err != nil {
		t.Fatalf("Lookup: %v", err)
	}
}

func TestLookup_Timeout_Temporary(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Timeout = 50 * time.Millisecond })
	e.dns.SetMX("slow.example", time.Hour, mxs("mx.slow.example", 10)...)
	e.dns.SetDelay("slow.example", time.Minute)

	_, err := e.r.Lookup(context.Background(), "slow.example")
	if !errors.Is(err, ErrTemporary) {
		t.Errorf("Lookup: %v, want ErrTemporary", err)
	}
	if q := e.dns.Queries(); q != DefaultAttempts {
		t.Errorf("%d queries, want %d attempts", q, DefaultAttempts)
	}
}

func TestLookup_CallerGivesUp_QueryStillCompletesForOthers(t *testing.T) {
	e := newEnv(t)
	e.dns.SetMX("slow.example", time.Hour, mxs("mx.slow.example", 10)...)
	e.dns.SetA("mx.slow.example", time.Hour, addr("192.0.2.1"))
	e.dns.SetDelay("slow.example", 200*time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := e.r.Lookup(ctx, "slow.example"); !errors.Is(err, ErrTemporary) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lookup with a short context: %v, want temporary deadline", err)
	}
	e.lookup(t, "slow.example") // joins the flight still under way
	if q := e.dns.Queries(); q != 3 {
		t.Errorf("%d queries, want 3 (MX once, A, AAAA)", q)
	}
}

func TestLookup_TTLExpiry_QueriesAgain(t *testing.T) {
	e := newEnv(t)
	start := e.clock.Now()
	e.dns.SetMX("example.com", 5*time.Minute, mxs("mx.example.com", 10)...)
	e.dns.SetA("mx.example.com", 10*time.Minute, addr("192.0.2.1"))

	p := e.lookup(t, "example.com") // MX, A, AAAA (NODATA: cached for the negative TTL, 5m)
	if want := start.Add(5 * time.Minute); !p.Expires.Equal(want) {
		t.Errorf("Expires %v, want %v (the smallest TTL)", p.Expires, want)
	}
	e.clock.Advance(5*time.Minute - time.Second)
	e.lookup(t, "example.com")
	if q := e.dns.Queries(); q != 3 {
		t.Fatalf("within the TTL: %d queries, want 3", q)
	}
	e.clock.Advance(2 * time.Second)
	p = e.lookup(t, "example.com")
	if q := e.dns.Queries(); q != 5 {
		t.Errorf("past the MX TTL: %d queries, want 5 (MX and AAAA again; A still cached)", q)
	}
	if want := start.Add(10 * time.Minute); !p.Expires.Equal(want) {
		t.Errorf("Expires %v, want %v (the A record's)", p.Expires, want)
	}
}

func TestLookup_TTLs_ClampedToMinAndMax(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MinTTL = time.Minute; c.MaxTTL = 10 * time.Minute })
	start := e.clock.Now()
	e.dns.SetMX("zero.example", 0, mxs("mx.example.com", 10)...)
	e.dns.SetMX("long.example", 24*time.Hour, mxs("mx.example.com", 10)...)
	e.dns.SetA("mx.example.com", 24*time.Hour, addr("192.0.2.1"), addr("2001:db8::1"))

	if p := e.lookup(t, "zero.example"); !p.Expires.Equal(start.Add(time.Minute)) {
		t.Errorf("TTL 0: expires %v, want MinTTL", p.Expires.Sub(start))
	}
	if p := e.lookup(t, "long.example"); !p.Expires.Equal(start.Add(10 * time.Minute)) {
		t.Errorf("TTL 24h: expires %v, want MaxTTL", p.Expires.Sub(start))
	}
}

func TestLookup_SameMXHosts_ShareSite(t *testing.T) {
	e := newEnv(t)
	google := mxs("gmail-smtp-in.l.google.com", 5, "alt1.gmail-smtp-in.l.google.com", 10, "alt2.gmail-smtp-in.l.google.com", 20)
	e.dns.SetMX("gmail.com", time.Hour, google...)
	reversed := slices.Clone(google)
	slices.Reverse(reversed)
	e.dns.SetMX("googlemail.com", time.Hour, reversed...) // other order, same hosts
	e.dns.SetMX("other.example", time.Hour, mxs("gmail-smtp-in.l.google.com", 5)...)
	for _, m := range google {
		e.dns.SetA(m.Host, time.Hour, addr("192.0.2.1"))
	}

	gmail, googlemail, other := e.lookup(t, "gmail.com"), e.lookup(t, "googlemail.com"), e.lookup(t, "other.example")
	if gmail.Site != googlemail.Site {
		t.Errorf("same MX hosts, sites %q and %q", gmail.Site, googlemail.Site)
	}
	if want := "alt1.gmail-smtp-in.l.google.com,alt2.gmail-smtp-in.l.google.com,gmail-smtp-in.l.google.com"; gmail.Site != want {
		t.Errorf("Site %q, want %q", gmail.Site, want)
	}
	if other.Site == gmail.Site {
		t.Errorf("a subset of the hosts is another site, got %q for both", other.Site)
	}
}

func TestLookup_OneHostFailsTemporarily_OthersUsedAndPlanExpiresSoon(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Attempts = 1 })
	start := e.clock.Now()
	e.dns.SetMX("example.com", time.Hour, mxs("primary.example.com", 10, "backup.example.com", 20)...)
	e.dns.SetServFail("primary.example.com")
	e.dns.SetA("backup.example.com", time.Hour, addr("192.0.2.2"))

	p := e.lookup(t, "example.com")
	if got := hostNames(p); !slices.Equal(got, []string{"backup.example.com"}) {
		t.Errorf("hosts %v, want the backup only", got)
	}
	if !p.Expires.Equal(start.Add(DefaultTempFailTTL)) {
		t.Errorf("Expires in %v, want TempFailTTL", p.Expires.Sub(start))
	}
	if want := "backup.example.com,primary.example.com"; p.Site != want {
		t.Errorf("Site %q, want %q: every MX name, resolvable or not", p.Site, want)
	}
	e.dns.SetServFail("backup.example.com")
	e.clock.Advance(2 * time.Hour)
	if _, err := e.r.Lookup(context.Background(), "example.com"); !errors.Is(err, ErrTemporary) {
		t.Errorf("every host failing temporarily: %v, want ErrTemporary", err)
	}
}

func TestLookup_DomainIsCNAME_Followed(t *testing.T) {
	e := newEnv(t)
	e.dns.SetCNAME("alias.example", "target.example", time.Hour)
	e.dns.SetMX("target.example", time.Hour, mxs("mx.target.example", 10)...)
	e.dns.SetA("mx.target.example", time.Hour, addr("192.0.2.1"))

	p := e.lookup(t, "Alias.Example.")
	if p.Domain != "alias.example" || p.Site != "mx.target.example" {
		t.Errorf("plan %+v", p)
	}
}

func TestLookup_TruncatedAnswer_RetriedOverTCP(t *testing.T) {
	e := newEnv(t)
	var records []any
	for i := range 100 {
		h := fmt.Sprintf("mail-exchanger-%03d.example.net", i)
		records = append(records, h, i)
		e.dns.SetA(h, time.Hour, addr("192.0.2.1"))
	}
	e.dns.SetMX("big.example", time.Hour, mxs(records...)...)

	if p := e.lookup(t, "big.example"); len(p.Hosts) != 100 {
		t.Errorf("%d hosts, want all 100 (over TCP)", len(p.Hosts))
	}
}

func TestLookup_ConcurrentLookups_ShareQueries(t *testing.T) {
	e := newEnv(t)
	e.dns.SetMX("example.com", time.Hour, mxs("mx.example.com", 10)...)
	e.dns.SetA("mx.example.com", time.Hour, addr("192.0.2.1"))
	e.dns.SetDelay("example.com", 50*time.Millisecond) // keep the flight open while all join

	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 100 {
		wg.Go(func() {
			if _, err := e.r.Lookup(context.Background(), "example.com"); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if q := e.dns.Queries(); q != 3 {
		t.Errorf("100 concurrent lookups sent %d queries, want 3 (MX, A, AAAA)", q)
	}
}

func TestLookup_CacheFull_EvictsAndStaysBounded(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxEntries = 16 })
	for i := range 50 {
		e.r.Lookup(context.Background(), fmt.Sprintf("d%d.example", i))
		e.r.cache.mu.Lock()
		n := len(e.r.cache.entries)
		e.r.cache.mu.Unlock()
		if n > 16 {
			t.Fatalf("cache holds %d answers, MaxEntries 16", n)
		}
	}
}
