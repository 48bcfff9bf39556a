// Package fakedns is an authoritative-looking DNS server for tests and
// benchmarks, built on github.com/miekg/dns. It answers over UDP and TCP on
// one loopback address, from records a test sets (MX, null MX, A/AAAA,
// CNAME) and from failure scripts (NXDOMAIN, SERVFAIL, a delay per name).
//
// It behaves like the recursive resolver an MTA talks to, not like a real
// zone: every name is its own zone, a CNAME is answered together with its
// target's records, and negative answers carry an SOA whose TTL and minimum
// are the server's negative TTL (RFC 2308). A UDP answer larger than the
// client's buffer (512 bytes, or its EDNS0 size) is truncated with TC set, so
// a client's fallback to TCP is exercised for real.
//
// Synthetic mode answers whole trees of names without per-name setup, for
// load tests: see Server.Synthetic.
//
// Every query is counted (Server.Queries), so a cache in front of it can be
// tested by the number of questions that reach it.
//
// It must never be used as a real resolver: it knows only what it is told.
package fakedns
