// Package warmup holds IP warm-up plans: per-IP caps by day, hour and
// receiver group, and the rules by which a plan advances. It is pure policy:
// no goroutines, no clocks read inside, no I/O.
//
// It lands with the warm-up issue.
package warmup
