// Package inject is an SMTP load generator: it sends Count generated messages
// to one target over Concurrency parallel sessions and reports throughput,
// the latency of the reply to DATA, and the failures by reply code
// (`sluice inject`).
//
// One job: offer load and measure what came back. It keeps no state between
// runs and never retries a failed message: a failure is a result.
//
// How it sends:
//   - Each worker owns one SMTP connection at a time and claims message
//     numbers from a shared atomic counter until Count is reached, so work
//     spreads evenly however fast each connection is.
//   - A connection carries MessagesPerConnection messages and is then closed
//     with QUIT. After a successful DATA no RSET is sent (the transaction is
//     already over); after a rejected MAIL, RCPT or DATA command the worker
//     sends RSET. NB: go-smtp's Client.Reset makes the next MAIL re-send EHLO,
//     so an RSET after every message would cost two round trips each.
//   - On a network error, a timeout or a 421 the message counts as failed,
//     the connection is dropped and the next message dials again. There is
//     no backoff: against a dead target the run fails fast (each message
//     costs one dial, at most Timeout) instead of stretching out.
//   - Every command and the message data are bounded by Config.Timeout, and
//     cancelling the context closes the connections: Run never hangs.
//   - Message text is generated once per worker; per message only a short
//     header block (Message-ID, To, X-Sluice-Seq, and X-Sluice-Bench-Sent
//     with StampHeader) is formatted.
//
// It must never import another Sluice package.
package inject
