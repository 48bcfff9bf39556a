// Package bench is Sluice's benchmark harness: the SMTP sink (bench/sink),
// the injection load generator (bench/inject) and, as the harness grows,
// fake DNS, scenarios, reports and peer comparison.
//
// It is a client of Sluice from the outside: it may import the generated
// protobuf client code, never the engine.
package bench
