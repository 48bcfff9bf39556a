// Package mx resolves where mail for a domain goes: a Plan of hosts to try,
// with their addresses and the site (MX rollup key) the domain belongs to.
// It talks DNS (github.com/miekg/dns) to the configured recursive resolvers;
// it never dials SMTP, never decides the fate of mail (it returns sentinel
// errors for the caller to map to bounce or defer) and imports no other
// Sluice package.
//
// # Lookup
//
//	route for the domain?          -> the route's hosts, Site "route:<hosts>"
//	MX query: NXDOMAIN             -> ErrNoSuchDomain
//	          only "." (RFC 7505)  -> ErrNullMX (its preference is not checked;
//	                                  a "." beside real MX records is ignored)
//	          no MX (NODATA)       -> implicit MX: the domain's own A/AAAA
//	          MX records           -> A and AAAA of every target, in parallel
//	hosts without an address, and MX targets that are CNAMEs, are left out;
//	none left                      -> ErrNoMailHosts, or ErrTemporary if a
//	                                  query failed temporarily
//	order: preference ascending, shuffled among equal preferences
//
// Timeouts, SERVFAIL, REFUSED and network errors are tried on the next
// resolver (Config.Attempts passes over Config.Resolvers) and then returned
// wrapping ErrTemporary. A truncated UDP answer is asked again over TCP.
//
// Domain names are lowercased and lose a trailing dot. Internationalised
// names must arrive as A-labels ("xn--..."): IDNA conversion is out of
// scope, and so are address literals ("[192.0.2.1]"), which are
// ErrInvalidDomain.
//
// # Cache
//
// The cache holds DNS answers, one per (name, type), not plans: MX hosts
// shared by many domains are resolved once. Plans are rebuilt from cached
// answers on every Lookup (cheap, and it reshuffles equal preferences).
//
//   - A positive answer lives for the smallest TTL of the records used
//     (CNAMEs included), within [MinTTL, MaxTTL].
//   - NXDOMAIN and NODATA live for the SOA's negative TTL (the smaller of
//     its TTL and minimum, RFC 2308), within [MinTTL, NegativeTTL].
//   - A temporary failure lives TempFailTTL (default 5s): long enough that
//     a burst of lookups for a failing name sends one query, short enough
//     that the next retry of deferred mail asks again.
//   - Concurrent misses for one question share one query. The query runs on
//     a context detached from the callers' (bounded by the timeouts), so a
//     caller that gives up does not fail the others.
//   - Plan.Expires is the earliest expiry among the answers behind a plan.
//   - At MaxEntries answers, expired ones are dropped, then arbitrary ones.
//
// # Rollup
//
// A site is the set of hosts that serve a domain; connection pools and
// limits attach to (vmta, site), so domains of one provider (gmail.com and
// googlemail.com) share connections and one throttle, as the receiver sees
// them. Plan.Site is the sorted, de-duplicated list of the MX host names of
// the domain's MX RRset joined with "," (preferences ignored), e.g.
// "alt1.gmail-smtp-in.l.google.com,...,gmail-smtp-in.l.google.com".
//
// Names, not addresses, because names are stable: resolvers rotate and
// geo-balance A records, so an address key would flap between lookups and
// split one receiver's pools. The key is built from every MX name, also
// those whose addresses failed to resolve this time, for the same reason.
// The price: a provider that gives each customer its own MX name (Microsoft
// 365's <tenant>.mail.protection.outlook.com) does not roll up; that needs
// a configured domain group, not DNS.
//
// An implicit MX's site is the domain name itself (so it rolls up with any
// domain whose MX names that host); a route's site is "route:" followed by
// its hosts as "host:port", in configured order.
package mx
