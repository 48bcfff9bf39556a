// Package deliver sends queued mail: it owns the outbound connection pools,
// one per (vmta, site), and turns each job into per-recipient replies.
//
// A site is a set of MX hosts (see engine/deliver/mx: domains whose MX sets
// are the same roll up into one site), so one pool of connections and one
// set of limits serve every domain hosted there.
//
// # Ownership
//
// Each connection is owned by one goroutine, which pulls jobs from its
// site's ready queue (a bounded channel), dials the site's hosts in MX order
// when it has no connection, sends, and reports a Result per job through the
// job's Done callback. No lock is held while talking to the network; the
// pool's map of sites and each site's counters are under short mutexes.
// Done is normally called from the connection's goroutine; jobs failed by
// Close (or by a Submit racing Close) get theirs from that caller.
//
// # Invariants
//
//   - A recipient is reported delivered only on a 2xx after DATA (see
//     engine/deliver/client): a connection that fails mid-transaction reports
//     every recipient of that job as a temporary failure, to be retried.
//   - Every job submitted is reported exactly once through Done, also when
//     the pool shuts down (as a temporary failure).
//   - A site never has more than Limits.MaxConnections connections open.
//
// The package decides nothing about retries or bounces: it reports what the
// receiver (or the network) said, and the engine decides.
package deliver
