package mx

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Errors for which a caller decides the fate of mail. A permanent one is
// returned as itself or wrapped; test with errors.Is.
var (
	// ErrNullMX: the domain publishes a null MX (RFC 7505), it accepts no
	// mail. Bounce at once (5.1.10).
	ErrNullMX = errors.New("domain accepts no mail (null MX)")

	// ErrNoSuchDomain: the domain does not exist (NXDOMAIN). Bounce (5.1.2).
	ErrNoSuchDomain = errors.New("no such domain")

	// ErrNoMailHosts: the domain exists but names no host that has an
	// address: it has no MX and no A/AAAA (bounce 5.1.2), or none of its MX
	// hosts has an address and none failed temporarily (bounce 5.4.4).
	ErrNoMailHosts = errors.New("no mail host with an address")

	// ErrInvalidDomain: the name cannot be a domain (empty, too long, an
	// address literal). Bounce (5.1.3).
	ErrInvalidDomain = errors.New("invalid domain name")

	// ErrTemporary is wrapped by every error that may clear up on its own:
	// timeouts, SERVFAIL, REFUSED, network errors, a cancelled context, a
	// route whose hosts do not resolve. Defer and retry later.
	ErrTemporary = errors.New("temporary DNS failure")
)

// Plan is where mail for one domain goes: the hosts to try, in order. A Plan
// is the caller's to keep until Expires; its Addrs slices are shared with the
// cache and must not be modified.
type Plan struct {
	// Domain is the looked-up domain, lowercased, without trailing dot.
	Domain string

	// Hosts in try order: MX preference ascending, shuffled among equal
	// preferences (for routes: the configured order). Hosts without an
	// address, and MX targets that are aliases (CNAME), are left out.
	Hosts []Host

	// Site is the rollup key: domains with the same Site are served by the
	// same hosts, so they share connection pools and limits. For an MX plan
	// it is the sorted, de-duplicated MX host names of the MX RRset joined
	// with "," (all of them, resolvable or not, so the key does not flap when
	// one host's address lookup fails); for an implicit MX the domain's own
	// name; for a route "route:" and the route's hosts as configured.
	Site string

	// Implicit is true when the domain has no MX records and its own A/AAAA
	// records stand in (RFC 5321 section 5.1).
	Implicit bool

	// Route is true when a static route, not DNS, chose the hosts.
	Route bool

	// Expires is when the shortest-lived DNS answer behind the plan expires;
	// look the domain up again after it.
	Expires time.Time
}

// Host is one mail server to try.
type Host struct {
	// Name is the MX target (or domain, for an implicit MX; or route host),
	// lowercased without trailing dot. Empty for a route to an IP address.
	Name string

	// Pref is the MX preference (lower first); for routes, the host's index.
	Pref int

	// Addrs are the host's IPv4 addresses (A) then IPv6 addresses (AAAA), in
	// DNS order. The dialer picks those of its source address's family.
	Addrs []netip.Addr

	// Port is the SMTP port to dial.
	Port int
}

// siteOf is the rollup key of a set of host names: sorted, de-duplicated,
// joined with ",".
func siteOf(names []string) string {
	s := slices.Clone(names)
	slices.Sort(s)
	return strings.Join(slices.Compact(s), ",")
}

// shuffleEqualPrefs shuffles each run of hosts with equal Pref, in place.
// hosts must be sorted by Pref.
func (r *Resolver) shuffleEqualPrefs(hosts []Host) {
	for i := 0; i < len(hosts); {
		j := i + 1
		for j < len(hosts) && hosts[j].Pref == hosts[i].Pref {
			j++
		}
		if j-i > 1 {
			run := hosts[i:j]
			r.shuffle(len(run), func(a, b int) { run[a], run[b] = run[b], run[a] })
		}
		i = j
	}
}
