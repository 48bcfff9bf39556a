// Package pools groups virtual MTAs into named, weighted pools and picks the
// member that sends each message.
//
// Its one job is the choice: Pick runs smooth weighted round-robin (nginx's
// algorithm) over the members that are eligible for the destination site
// right now. It is pure policy: it must never start goroutines, read a clock,
// do I/O, or decide eligibility itself. The engine answers Eligibility
// (disabled vmtas, suspension for the site, warm-up headroom); pools only
// declares the seams (Eligibility, Headroom) and a ready-made combination of
// them (Checks).
//
// # Smooth weighted round-robin
//
// Each member i has a weight w[i] and a credit c[i], starting at 0. For one
// pick, over the eligible members E:
//
//	for i in E: c[i] += w[i]
//	best := the i in E with the largest c[i] (the first in member order on a tie)
//	c[best] -= sum(w[i] for i in E)
//
// With every member eligible, a cycle of sum(w) picks gives each member
// exactly w[i] picks, interleaved (weights 1:2:1 pick b a b c, never b three
// times in a row). Ineligible members neither get picked nor gain credit, so
// they do not burst when they come back, and the others keep their ratio.
//
// # Warm-up
//
// Overflow to warm IPs (the warm-up plan's "overflow: pool") is Checks with a
// Headroom: a member without headroom for the site is skipped and the others
// take its share. "overflow: hold" is the engine's to do: pick without the
// headroom check, then hold the message when the chosen member lacks
// headroom. Pick does not reserve anything: the engine reserves the warm-up
// budget after Pick and picks again if the reservation fails.
//
// A Pool is immutable after New apart from its credits; a configuration
// reload builds new Pools (credits start again at zero).
package pools
