// Package spool is Sluice's durable store of queued mail, on Pebble.
//
// One job: keep every accepted message (body, envelope, and one entry per recipient
// with its delivery state) safe across crashes, and serve the scheduler's reads of
// each (vmta, domain) queue in due order. It does not decide anything: when to retry,
// when to bounce and where to deliver are the callers' business.
//
// # Key layout
//
// All keys are written by this package only. Message IDs are 16 Crockford base32
// characters (48-bit ms timestamp, 32-bit sequence), so they sort by time.
//
//	m/<id>                                   -> 0x01 | body bytes (0x01 = inline body, v1)
//	e/<id>                                   -> v1 | from, vmta, pool, campaign, tenant, source,
//	                                            received ms, expires ms, body size, recipient count
//	q/<vmta> 0x00 <domain> 0x00 <due> <id> <idx> -> v1 | address, attempts, expires ms,
//	                                            last attempt ms, last reply
//	r/<id><idx>                              -> v3 | recipient count, body size, pool, campaign, tenant, current q/ key
//	i/<key>                                  -> expiry ms | value (API idempotency records; see records.go)
//	v/<seq 8 bytes BE>                       -> an event (delivery outcomes; see events.go)
//	v!hw                                     -> the event numbering high-water mark
//
// <due> is the due time in ms since the Unix epoch as 8 big-endian bytes and <idx>
// the recipient's index as 4 big-endian bytes. vmta and domain end in a 0x00 byte,
// which Put refuses inside them, so "q/<vmta>0x00<domain>0x00" is exactly one queue's
// range whatever bytes ('/', '.') the names hold, and each range is in due order:
// Due is a bounded range read from its head. Strings in values are uvarint
// length-prefixed; times are varint ms, 0 meaning unset. Every value starts with a
// version byte.
//
// # Invariants
//
//   - When Put returns an ID, the body, envelope and every recipient entry are in the
//     Pebble WAL and fsynced (one batch, pebble.Sync): a crash, kill -9 or power loss
//     after that loses none of it. Reschedule is also a single synced batch: after it
//     returns, the change survives a crash; before, the old state does. Complete is a
//     single batch that is not synced on its own: the next synced commit, or the lazy
//     syncer within Options.CompletionSyncDelay (50 ms), makes it durable, and a crash
//     before that brings the recipients back. Either way a recipient is delivered at
//     least once, maybe twice, never zero times.
//   - Each pending recipient has exactly one q/ key and one r/ key naming it. A message
//     has m/ and e/ keys while, and only while, it has at least one r/ key.
//   - The in-memory counters (Stats, Queues, per-message remaining counts) equal what
//     a scan of the keys gives; Open rebuilds them with one scan of r/ and q/.
//     Queues' EarliestDue is the due time of the queue's first key.
//   - Concurrent Puts are not serialised: Pebble's commit pipeline lets one WAL fsync
//     cover every batch queued behind it (group commit), which is what makes many
//     injecting connections fast. Writers of one message (its Put, Complete,
//     Reschedule) are serialised by a lock striped by message ID.
//
// # Disk space
//
// Pebble treats a failed WAL write as fatal and exits the process (by design; pebble
// issue #3427). So the spool must never let the disk fill:
//
//   - Put returns ErrLowSpace while the file system has less than
//     Options.MinFreeSpace free (statfs, re-read every Options.FreeSpaceInterval; in
//     between, each admitted Put's footprint is deducted from the last reading).
//   - Open preallocates a ballast file, <Dir>/ballast (Options.BallastSize). An
//     operator facing a full disk stops sluice, deletes the ballast, starts it and lets
//     the queue drain; the next Open recreates it. If Pebble hits ENOSPC anyway, the
//     spool deletes the ballast itself (vfs.OnDiskFull) and the write is retried once.
//
// # Storage errors
//
// Pebble also exits on an I/O error under a WAL write. A probe writes and
// syncs <Dir>/probe every Options.HealthInterval, and Pebble's background
// errors (flushes, compactions) are watched; while either fails, Healthy and
// CheckSpace return ErrUnavailable and Put refuses before touching the WAL,
// so injectors shed load (421 at the SMTP greeting, UNAVAILABLE on the API)
// until a probe succeeds again. Open syncs the directories above Dir, so a
// spool directory it has just created survives a power cut.
//
// # Never
//
//   - Never acknowledge, or write, with pebble.NoSync: every Put and Reschedule
//     commits with pebble.Sync. The exceptions lose nothing a sender was told:
//     Complete (see lazysync.go: a lost removal means a second delivery) and the
//     event log, appended with NoSync just before the write of the same outcome,
//     whose sync covers it (events.go).
//   - Never hold a lock shared by unrelated messages across Commit: that would defeat
//     group commit. (A Put holds only its new message's stripe, one of 4096, so two
//     Puts wait on each other only when their IDs' hashes collide.)
//   - Never scan the whole store outside Open (and Recipients, which callers use for
//     inspection): counters are incremental, the scheduler reads queue heads.
//   - Never let another package write these keys, or open the directory with Pebble
//     while a Spool has it open.
package spool
