// Package vmta describes virtual MTAs: a named source IP with the HELO name
// it greets with, and a dialer bound to that IP.
//
// Its one job is to say where a connection leaves from and to check, at
// start-up, that it can: CheckBindable (the source IP is configured on this
// host: a clear start-up error naming the vmta otherwise) and CheckFCrDNS
// (the IP's PTR names the HELO and the HELO resolves back to the IP: a
// warning otherwise, since receivers distrust senders without it).
//
// Per-vmta traffic shaping (limits, per-domain overrides) lives in
// engine/shaping, keyed by the vmta's name; pool membership lives in pools.
//
// It must never import another sluice package, keep runtime state (a
// disabled flag is set by the engine on its own copy), or touch the network
// except in the three methods that say so: CheckBindable binds and closes a
// listener, CheckFCrDNS asks the Resolver it is given, Dialer only builds a
// net.Dialer.
package vmta
