// Package webhook pushes the delivery event stream to HTTP receivers: each
// configured webhook reads the events after its own cursor, groups them into
// JSON batches and POSTs them, retrying until the receiver takes them.
//
// # Algorithm
//
//	Run:   cursor := Cursors.Load(name), or StartAfter (saved at once)
//	       loop: Source.Events(after cursor) -> bounded channel
//	             collect matching events until BatchSize, or FlushInterval
//	             after the first event of a batch
//	             post(batch) with retries; then Cursors.Save(last seq read)
//	post:  2xx                          -> done
//	       408, 429, 3xx, 5xx, timeout, connection error
//	                                    -> wait (RetryInitial doubling up to
//	                                       RetryMax, or Retry-After), retry
//	       any other status (400, 401, 404, 413, ...)
//	                                    -> logged and skipped: the receiver
//	                                       said it will never take the batch
//
// # Guarantees
//
// Delivery is at least once and in order: a batch is POSTed only after the
// one before it was taken (or skipped for a 4xx), and the cursor moves only
// after that, so a crash or restart resends at most the batch in flight.
// Receivers deduplicate on each event's cursor. Events that retention
// deleted before a stalled webhook read them are lost to it (logged).
//
// Non-matching events advance the cursor too (saved at the next flush), so a
// webhook that wants only complaints does not fall behind retention.
//
// # Security
//
// The Authorization value and the signing secret are never logged; errors name
// the webhook, not its URL (which may hold a token). With a signing secret each
// request carries X-Sluice-Timestamp (Unix seconds) and
// X-Sluice-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">; Verify
// checks one.
//
// # What it must never do
//
// Import engine (it takes a Source and Cursors), block delivery (it only reads
// the event log), or drop a batch on a temporary failure.
package webhook
