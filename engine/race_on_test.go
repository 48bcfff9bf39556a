//go:build race

package engine

// raceEnabled: the race detector slows everything ~10x, so tests that
// measure rates skip under it; `make test` runs them again without -race.
const raceEnabled = true
