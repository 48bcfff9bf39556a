// Package feedback turns what receivers say into decisions: the bounce
// category of an SMTP reply, the action a receiver's reply calls for, the
// adaptive rate of a (vmta, site), the complaint in an ARF report, the VERP
// return path that ties an asynchronous bounce to its recipient, and the
// suppression list.
//
// Its one job is the policy. The engine feeds it plain values (replies,
// times, report bytes) and carries out what it returns; only feedback turns
// replies into decisions.
//
// # Pieces
//
//	Classify(reply, rules)            -> Category            (category.go)
//	Decide(group, reply, rules, now)  -> Category, *Action   (action.go)
//	Rules: ParseRules, DefaultRules, Extend, Group(mx...)    (rules.go, rules.yaml)
//	Adaptive: OnReply, OnConnectFailure, Backoff, Current    (rate.go, window.go)
//	ParseARF(msg)                     -> *Complaint          (arf.go)
//	EncodeVERP / DecodeVERP                                  (verp.go)
//	Suppression: Add, Contains, Lookup, Remove, List         (suppression.go)
//
// Classification: an enhanced status code that receivers use consistently
// (5.1.1, 5.2.2, 4.4.7, ...) decides alone; otherwise the first text rule
// of the site's receiver group, then of the "other" group, decides;
// otherwise the code's class gives a fallback. A rule's action applies
// whichever decided the category.
//
// # Invariants
//
//   - Pure: no goroutines, no clock read (every time is a parameter), no
//     randomness, no I/O beyond reading a rules file the caller hands in.
//     Adaptive is therefore testable over simulated days in milliseconds.
//   - Rules are immutable once built and may be shared by every delivery
//     goroutine; Extend returns a new value, and a rules file that fails
//     to parse (bad regexp, unknown key or category) is an error naming
//     its line, so a reload keeps the old rules.
//   - Adaptive never goes above the configured ceiling, nor below its
//     floor; it holds state for one (vmta, site) and is not safe for
//     concurrent use: its owner, the goroutine of that (vmta, site), calls
//     it. The same holds for Suppression, whose owner also persists it.
//   - A reply made up locally (Reply.Local) is classified but never
//     triggers an action, a decrease, or a window count: it says nothing
//     about the receiver.
//   - ParseARF never panics on any input (fuzzed); DecodeVERP accepts only
//     addresses whose MAC the key made.
//
// # What it must never do
//
// Import another sluice package (the engine imports feedback, never the
// reverse; a test in cmd/sluice enforces it), start a goroutine, read the
// clock, touch the spool or the network, or log: it returns decisions and
// the engine records them.
package feedback
