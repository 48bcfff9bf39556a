// Package sink is an SMTP server that accepts all mail, counts it and throws
// it away: the far end of every Sluice benchmark (`sluice sink`).
//
// One job: say 250 to everything as cheaply as possible and keep counters a
// benchmark can read (Stats, or GET /stats from Handler).
//
// Invariants:
//   - Message bodies are never kept: DATA is drained into io.Discard and only
//     its length is counted.
//   - Totals are atomics. The per-peer and per-domain maps live in shards,
//     each under its own mutex, and are updated once per accepted message,
//     never per byte or per command. A connection always uses the same shard.
//   - Only accepted messages are counted (Messages, Recipients, Bytes,
//     ByPeerIP, ByDomain); Connections counts every accepted TCP connection,
//     including ones that never say EHLO.
//   - One Sink may serve many listeners at once (one per loopback address, say)
//     and its counters are shared by all of them.
//
// The reply to each RCPT and to each message's DATA goes through an
// unexported hook (replier, see session.go), nil today: later behaviour
// profiles (defer and bounce shares, added latency, 421 throttling) plug in
// there without touching the counting path.
//
// It must never import another Sluice package, never store mail, and never
// do per-byte work beyond reading the stream.
package sink
