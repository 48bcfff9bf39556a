package mx

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Resolver turns domains into delivery plans. It is safe for concurrent use;
// its cache lives as long as it does. It starts no goroutine that outlives a
// lookup's DNS queries, and needs no Close.
type Resolver struct {
	cfg      Config
	udp, tcp *dns.Client
	routes   routeTable
	shuffle  func(n int, swap func(i, j int))
	cache    cache
}

// New returns a Resolver for cfg, after SetDefaults and Validate.
func New(cfg Config) (*Resolver, error) {
	cfg.Resolvers = slices.Clone(cfg.Resolvers)
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Resolver{
		cfg:     cfg,
		udp:     &dns.Client{Net: "udp", Timeout: cfg.Timeout, UDPSize: ednsSize},
		tcp:     &dns.Client{Net: "tcp", Timeout: cfg.Timeout},
		routes:  newRouteTable(cfg.Routes, cfg.Port),
		shuffle: rand.Shuffle,
	}
	if cfg.Rand != nil {
		var mu sync.Mutex
		r.shuffle = func(n int, swap func(i, j int)) {
			mu.Lock()
			defer mu.Unlock()
			cfg.Rand.Shuffle(n, swap)
		}
	}
	r.cache.entries = make(map[question]*answer)
	r.cache.flights = make(map[question]*flight)
	return r, nil
}

// Lookup returns the delivery plan for domain: a static route when one
// matches, else its MX hosts, else (no MX records) the domain itself.
//
// Permanent outcomes are ErrNullMX, ErrNoSuchDomain, ErrNoMailHosts and
// ErrInvalidDomain; every other error wraps ErrTemporary. Answers, negative
// ones included, come from the cache while their TTLs last, so calling
// Lookup per batch of mail is cheap; concurrent lookups share queries.
func (r *Resolver) Lookup(ctx context.Context, domain string) (*Plan, error) {
	d := normalize(domain)
	if _, ok := dns.IsDomainName(d); !ok || d == "" || d[0] == '[' {
		return nil, fmt.Errorf("mx: lookup %q: %w", domain, ErrInvalidDomain)
	}
	if rt, ok := r.routes.match(d); ok {
		return r.routePlan(ctx, d, rt)
	}
	ans, err := r.get(ctx, question{d, dns.TypeMX})
	if err != nil {
		return nil, fmt.Errorf("mx: lookup %s: %w", d, err)
	}
	mxa := ans[0]
	switch {
	case mxa.err != nil:
		return nil, fmt.Errorf("mx: lookup %s: %w", d, mxa.err)
	case mxa.nxdomain:
		return nil, fmt.Errorf("mx: lookup %s: %w", d, ErrNoSuchDomain)
	case len(mxa.mx) == 1 && mxa.mx[0].host == "":
		return nil, fmt.Errorf("mx: lookup %s: %w", d, ErrNullMX)
	case len(mxa.mx) == 0:
		return r.implicitPlan(ctx, d, mxa.expires)
	}
	return r.mxPlan(ctx, d, mxa)
}

// mxPlan resolves the MX hosts of d in parallel and orders them.
func (r *Resolver) mxPlan(ctx context.Context, d string, mxa *answer) (*Plan, error) {
	byPref := slices.Clone(mxa.mx)
	slices.SortStableFunc(byPref, func(a, b mxRecord) int { return a.pref - b.pref })
	var names []string
	var prefs []int // sorted, so a name's first record has its lowest preference
	for _, m := range byPref {
		if m.host != "" && !slices.Contains(names, m.host) { // a "." among real MX is ignored
			names, prefs = append(names, m.host), append(prefs, m.pref)
		}
	}
	hosts, expires, err := r.resolveHosts(ctx, names, prefs, r.cfg.Port, true)
	expires = earliest(expires, mxa.expires)
	if err != nil {
		return nil, fmt.Errorf("mx: lookup %s: %w", d, err)
	}
	r.shuffleEqualPrefs(hosts)
	return &Plan{Domain: d, Hosts: hosts, Site: siteOf(names), Expires: expires}, nil
}

// implicitPlan is the plan of a domain without MX records: the domain is its
// own mail host, with preference 0 (RFC 5321 section 5.1).
func (r *Resolver) implicitPlan(ctx context.Context, d string, mxExpires time.Time) (*Plan, error) {
	hosts, expires, err := r.resolveHosts(ctx, []string{d}, []int{0}, r.cfg.Port, false)
	if err != nil {
		return nil, fmt.Errorf("mx: lookup %s (no MX): %w", d, err)
	}
	return &Plan{Domain: d, Hosts: hosts, Site: d, Implicit: true, Expires: earliest(expires, mxExpires)}, nil
}

// resolveHosts asks A and AAAA for every name at once and returns the hosts
// that have addresses, in the order given, with the earliest expiry of the
// answers used. Aliases (CNAME) are skipped when skipAliases is set, as MX
// targets must not be aliases (RFC 2181 section 10.3). With no host left the
// error wraps ErrTemporary if any question failed temporarily, else it is
// ErrNoMailHosts.
func (r *Resolver) resolveHosts(ctx context.Context, names []string, prefs []int, port int, skipAliases bool) ([]Host, time.Time, error) {
	qs := make([]question, 0, 2*len(names))
	for _, n := range names {
		qs = append(qs, question{n, dns.TypeA}, question{n, dns.TypeAAAA})
	}
	ans, err := r.get(ctx, qs...)
	if err != nil {
		return nil, time.Time{}, err
	}
	var (
		hosts   []Host
		expires time.Time
		tempErr error
	)
	for i, n := range names {
		a4, a6 := ans[2*i], ans[2*i+1]
		expires = earliest(expires, earliest(a4.expires, a6.expires))
		tempErr = cmpOr(tempErr, a4.err, a6.err)
		if skipAliases && (a4.aliased || a6.aliased) {
			continue
		}
		addrs := slices.Concat(a4.addrs, a6.addrs)
		if len(addrs) > 0 {
			hosts = append(hosts, Host{Name: n, Pref: prefs[i], Addrs: addrs, Port: port})
		}
	}
	switch {
	case len(hosts) > 0:
		return hosts, expires, nil
	case tempErr != nil:
		return nil, expires, tempErr
	}
	return nil, expires, ErrNoMailHosts
}

// earliest returns the earlier of two times, a zero time counting as none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// cmpOr returns the first non-nil error.
func cmpOr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
