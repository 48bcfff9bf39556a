// Package bench is Sluice's benchmark harness: the SMTP sink (bench/sink),
// the injection load generator (bench/inject), the fake DNS
// (bench/fakedns), the shipped scenarios (bench/scenarios) and the runner
// that plays them against a `sluice serve` child process and reports, with
// the comparison against the loopback limit and a private Postfix relay
// (bench/run, bench/peers, `sluice bench`), and the multi-core scaling
// bundle's script (bench/scaling, `make bench-static`).
//
// It is a client of Sluice from the outside: it may import the generated
// protobuf client code, never the engine.
package bench
