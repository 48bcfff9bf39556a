// Package warmup holds IP warm-up plans: per-IP caps by day, hour and
// receiver group, the counters that enforce them, and the rules by which a
// plan advances.
//
// Its one job is the arithmetic of warm-up: how much may (vmta, receiver
// group) send by now, and, at each day's end, does it move to a larger cap,
// stay, or go back. It is pure policy: it must never start goroutines, read a
// clock (every method that can see a new day takes now), do I/O, write the
// spool, or import another Sluice package. The engine persists its states,
// feeds it receiver verdicts and turns its refusals into overflow or hold.
//
// # Model
//
// A Plan is a curve of daily caps (a table, or a Doubling curve; after the
// last day there is no cap), optionally spread over sending hours, optionally
// different per receiver group. Receiver groups (Groups) are named sets of MX
// host patterns; a site (its sorted MX hosts joined by ",") belongs to the
// group of its first matching host, else to Other. Each (vmta, group) has a
// State: its Step on the curve, the Day its counters belong to (a date in the
// plan's time zone) and the day's figures. A Tracker holds the states of all
// warming vmtas.
//
// # Invariant: caps are never exceeded (reserve before send)
//
// The cap counts recipients handed to the receiver. The engine reserves
// before it sends, and the reservation is the count:
//
//	r, ok := tracker.Reserve(now, vmta, site, len(rcpts))   // counts r.N now
//	if !ok { overflow (r.Overflow == pool: pick another member) or hold until r.Until }
//	send only r.N recipients; requeue the rest
//	tracker.Release(r, n)   // only for recipients the receiver never judged
//	tracker.Record(now, vmta, site, DayStats{Deferred: .., Bounced: ..})
//
// Reserve grants at most the headroom left under one lock, so any number of
// concurrent connections together never pass the cap: there is no window
// between checking and counting. There is no Commit: a reservation counts as
// sent unless Released, so a crash in flight over-counts (the safe side),
// never under-counts. A Release for a day that has closed does nothing.
// HasHeadroom (through Gate) is only a hint for pools' choice; Reserve
// decides.
//
// # Days and progression
//
// A state rolls lazily, on the first call that sees a later date in the
// plan's zone (Tick rolls all of them): the closed day is judged by Advance
// (step back when a rate reaches HealthRules.StepBack, hold when one reaches
// Hold or the state is paused, advance otherwise) and its decision, with its
// reason, is kept as Last and queued for the event stream (Tick returns
// them). With CountSendingDays a day without mail holds; without it every
// calendar day counts, idle ones too. Days are calendar dates in the plan's
// zone, so DST days (23 or 25 hours) are one day each; HourlySpread uses the
// local wall-clock hour.
//
// # Persistence
//
// State is plain JSON-tagged data. The engine saves Tracker.Changed, synced,
// after each Reserve and before sending, so after kill -9 the counters can
// only be ahead of what left (the cap's safe side), and loads them with
// Tracker.Restore at start.
//
// # Concurrency
//
// A Tracker is safe for concurrent use after its Assign and Restore calls:
// the set of vmtas is then fixed, and each vmta's states have their own small
// mutex (no global lock on the delivery path). A reload builds a new Tracker.
// Plans, Groups and the functions Advance and Simulate are values and pure.
package warmup
