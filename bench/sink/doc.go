// Package sink is an SMTP server that accepts mail, counts it and throws it
// away: the far end of every Sluice benchmark (`sluice sink`). It can also
// play a difficult receiver, scripted by recipient, and serve the fake DNS
// that points every *.test domain at it (StartDNS, on bench/fakedns).
//
// One job: answer as cheaply as possible, as scripted, and keep counters a
// benchmark can read (Stats, or GET /stats from Handler).
//
// Scripted replies (Config.Behaviours; `sluice sink` turns them on): the
// reply to RCPT TO is chosen by the longest rule prefix (case-insensitive)
// that starts the recipient's local part. The default rules:
//
//	bounce*    550 5.1.1 <addr>: Recipient address rejected: User unknown
//	defer*     451 4.7.1 <addr>: Try again later
//	throttle*  421 4.7.0 Too many messages, slow down, then the connection closes
//	slow*      Config.SlowDelay (2s), then 250
//	anyone     250
//
// A test flips them at run time, on open connections too: SetBehaviour(
// "defer", Accept) makes deferred recipients deliverable on their retry,
// SetBehaviour("defer7", Accept) only defer7*, SetAcceptAll(true) switches
// the script off (POST /behaviour and POST /accept-all over HTTP). The RCPT
// path loads the rule table with one atomic load and compares a few short
// prefixes; writers publish a new table (copy-on-write).
//
// Profiles (Config.Profile, `sluice sink --profile`): a YAML file (or a
// shipped one: gmail, yahoo, outlook, providers; ParseProfile, LoadProfile)
// that answers by recipient domain instead of local part:
//
//	seed: 1                      # reply order and delays replay exactly
//	limits:
//	  max_messages_per_connection: 100   # then 421 at MAIL, hang up
//	  max_connections_per_ip: 20         # then 421 as the greeting, hang up
//	  messages_reply: "421 4.7.0 Try again later, closing connection."
//	latency:                     # per command: connect ehlo mail rcpt data
//	  connect: 2ms               # fixed
//	  rcpt: {dist: uniform, min: 1ms, max: 5ms}
//	  data: {dist: lognormal, p50: 20ms, p99: 250ms}
//	groups:                      # first match by glob on the rcpt domain
//	  - name: gmail
//	    domains: ["gmail.test", "*.gmail.test"]
//	    replies: {defer: 3%, bounce: 1%, throttle: 1%}   # accept: the rest
//	    texts: {throttle: "421 4.7.28 ... rate limited. - gsmtp"}  # or a list, in turn
//	    latency: {rcpt: 5ms}     # rcpt and data may be set per group
//
// Shares are exact, not drawn: a group's n-th RCPT gets entry n mod P of a
// seeded shuffle of one period (P = 10000 / gcd of the shares in basis
// points: 100 for whole percents), so every P consecutive replies of a
// group hold exactly the shares, and the same seed gives the same order.
// Delays are drawn from a generator per connection seeded by the profile's
// seed and the connection's accept order. Recipients in no group get the
// local-part script. A bad profile is an error naming its line and key.
//
// Invariants:
//   - Message bodies are never kept: DATA is drained into io.Discard and only
//     its length is counted.
//   - A recipient is delivered only if it was accepted at RCPT and its
//     message got 250 to DATA; only delivered recipients count (Messages,
//     Recipients, Bytes, ByPeerIP, ByDomain, Duplicates). ByCode counts
//     every reply the sink gives to RCPT and DATA, refusals included;
//     Connections counts every accepted TCP connection, including ones that
//     never say EHLO; connections refused for the per-IP cap are counted
//     apart (RefusedConnections, Peers) and their 421 in ByCode.
//   - After a 421 the connection is closed once the reply is written, and
//     commands the client had already pipelined behind it are neither
//     answered nor counted.
//   - Totals are atomics. The per-peer and per-domain maps live in shards,
//     each under its own mutex, and are updated once per accepted message,
//     never per byte or per command; reply codes and transactions are
//     per-shard atomics. A connection always uses the same shard. The
//     delivered-address set (Config.TrackDuplicates only) is sharded by
//     address, since a duplicate usually comes on another connection.
//   - One Sink may serve many listeners at once (one per loopback address, say)
//     and its counters are shared by all of them.
//   - Close cuts Slow delays short, so it never waits SlowDelay.
//
// Latency: a message whose header block (the first HeaderScanBytes) has an
// X-Sluice-Bench-Sent field (StampField, Unix nanoseconds, written by
// bench/inject with StampHeader) adds a sample of now minus that time to a
// log-linear histogram (16 buckets per power of two of microseconds, about
// 3% resolution, fixed size), read as Stats.LatencyP50Ms/P90Ms/P99Ms. The
// header block is read into one buffer per connection and scanned line by
// line; the body goes to io.Discard unseen. Stats.Arrivals counts delivered
// recipients per second since the first message, at most MaxArrivalSeconds.
//
// PipelinedTransactions counts transactions whose MAIL, RCPTs and DATA the
// sink got in a single read from the socket (its connection wrapper counts
// reads): a pipelining client on loopback scores one per message, one that
// waits for each reply scores none.
//
// The reply to each RCPT and to each message's DATA goes through an
// unexported hook (replier, see session.go); the script is the Sink's own,
// and tests may plug in another without touching the counting path.
//
// It must never import another Sluice package except bench/fakedns, never
// store mail, and never do per-byte work beyond reading the stream.
package sink
