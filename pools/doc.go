// Package pools groups virtual MTAs into named pools and picks a member per
// message (weights, health, warm-up headroom). It is pure policy: it takes
// values and returns decisions, with no goroutines, clocks or I/O.
//
// It lands with the pools issue.
package pools
