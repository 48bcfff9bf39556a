// Package vmta describes virtual MTAs: a source IP with its HELO name and
// per-vmta overrides, and a dialer bound to that IP.
//
// It lands with the pools issue; until then every message leaves from the
// engine's "default" vmta (the host's default source address).
package vmta
