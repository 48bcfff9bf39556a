// Package shaping resolves the traffic-shaping directives (max_smtp_out,
// max_msg_per_connection, max_rcpt_per_msg, max_msg_rate, max_conn_rate,
// retry_after, bounce_after, tls, mx_rollup, route) that apply to mail from
// one vmta to one domain through one MX site.
//
// Its one job is the lookup: NewTable validates the defaults and the rules
// once; Table.Resolve merges them by precedence into a Limits value. It is
// pure policy: it must never start goroutines, read a clock, do I/O, hold
// limiter state or import another sluice package. The engine owns the rate
// limiters (Rate.NewLimiter builds one) and the connection counts.
//
// # Precedence
//
// Issue 5 names the layers "by domain pattern (exact, *.example.com), by MX
// site, and per vmta, resolved in that order": each layer applies over the
// one before it, so a later layer wins field by field.
//
//	defaults
//	  < domains:   "*" < "*.com" < "*.example.com" < "a.example.com"
//	  < sites:     the rules matching any MX host of the site, same order
//	  < the vmta's own rules: "" or "*" (its plain override) < its domain patterns
//
// Every matching rule applies (the less specific first), so a rule sets only
// the fields it names and inherits the rest. Why this order: a site rule
// describes what the receiving hosts tolerate, so no domain pattern may
// loosen it (a catch-all "*" domain rule would otherwise override every
// site); the vmta layer describes the sending IP (a cold IP's low rate must
// hold everywhere), so it comes last. NB: a domain therefore cannot loosen
// or tighten a field that a site rule sets for its site; shape that field
// per domain in a vmta's rules, or not per site.
//
// # Example
//
//	defaults:          max_smtp_out 20, max_msg_rate unlimited, tls opportunistic
//	domains:
//	  - {match: "*",            max_rcpt_per_msg: 50}
//	  - {match: "*.test",       max_msg_rate: 100/s, max_smtp_out: 3}
//	  - {match: "a.b.test",     max_smtp_out: 5}
//	sites:
//	  - {match: "*.google.com", max_smtp_out: 10, tls: require}
//	vmtas:
//	  ip2: [{max_msg_rate: 10/m}]      # a cold IP
//
//	Resolve("ip3", "a.b.test", "mx.b.test")
//	  -> max_smtp_out 5 (exact beats *.test), max_msg_rate 100/s (*.test),
//	     max_rcpt_per_msg 50 (*), tls opportunistic (defaults)
//	Resolve("ip3", "x.test", "alt1.aspmx.l.google.com,aspmx.l.google.com")
//	  -> max_smtp_out 10 (the site beats *.test), tls require, max_msg_rate 100/s
//	Resolve("ip2", "x.test", "mx.x.test")
//	  -> max_msg_rate 10/m (the vmta beats *.test), max_smtp_out 3
//
// mx_rollup and route decide how the site is found, so site rules may not
// set them; the engine resolves them with site "" before the MX lookup and
// the answer does not change once the site is known.
//
// # Rates
//
// Rate is "N/interval" (100/s, 50/m, 1000/h, 20000/d, 5/10s). A limiter
// built from it has a burst of 100 ms worth (at least 1), so the count over
// any minute stays within 0.2% of N × minute/interval: the issue's ±2% holds
// with room for scheduling jitter. Limits are per source IP: the engine
// keeps one limiter per (vmta, site, Scope), never one per site shared by
// vmtas.
package shaping
