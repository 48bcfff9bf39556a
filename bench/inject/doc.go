// Package inject is a load generator for mail injection (`sluice inject`):
// it sends Count generated messages to one target over Concurrency parallel
// SMTP sessions or gRPC callers and reports throughput, the latency of the
// acknowledgement, and the failures by reply or status code.
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
// gRPC modes (Config.Mode; the Injector service of proto/sluice/v1, over
// plaintext, one connection per worker, Config.APIKey as a Bearer token):
//   - grpc: one Inject call per message, raw_mime content, the same text as
//     SMTP mode. Sent counts messages whose every recipient is QUEUED.
//   - grpc-batch: InjectBatch calls of BatchSize recipients and one raw_mime
//     body each. Count, Sent and Failed count recipients, not messages;
//     latency is per call.
//   - grpc-stream: each worker keeps one InjectStream open and sends the
//     messages it claims while a second goroutine reads the acks, which
//     must come in request order; latency is from Send to its ack. At most
//     streamWindow messages are unacknowledged per stream. A stream that
//     fails (or whose ack is out of order, or that makes no progress for
//     Timeout) fails its unacknowledged messages and the worker opens the
//     next, claiming a message first, so a dead server ends the run fast.
//   - A call's error status counts under its code's name ("Unauthenticated"),
//     a refused recipient or ack under its code, for every unit it covers.
//     Nothing is retried and no idempotency key is sent.
//
// It must never import another Sluice package; the generated proto client
// is not one.
package inject
