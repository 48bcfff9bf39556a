// Package run runs a benchmark scenario (bench/scenarios) against Sluice from
// the outside and reports what it measured (`sluice bench run`).
//
// One job: set up a loopback world, offer the scenario's load, watch until
// every recipient is accounted for, and measure. It drives Sluice only as a
// user would: a child process started as `sluice serve --config F` (or a
// running server, Options.Target), SMTP in, SMTP out, GET /metrics, and
// /proc for its CPU time and memory. It must never import engine, configs
// or api.
//
// A run, step by step:
//
//	start an in-process sink (bench/sink, scripted replies, the scenario's
//	  profile if any, duplicate tracking on) on a random port of 127.0.0.1
//	  and, with sink_ips N, of 127.0.0.2 .. 127.0.0.N; and the fake DNS
//	  (every *.test domain's MX -> the sink, MX hosts spread over its IPs;
//	  dead_domains' MX -> 127.0.0.254, where nothing listens)
//	write serve's config in a temp dir: spool there, dns.resolvers = the
//	  fake DNS, delivery.mx_port = the sink's port, delivery.tls off, small
//	  min_free_space; merge the scenario's engine overrides over it
//	start `sluice serve` (with a gRPC listener for gRPC injection), wait
//	  for /healthz
//	sample /proc/<pid> (CPU, RSS, write_bytes) and /metrics
//	inject with bench/inject over SMTP, gRPC, gRPC batch or stream
//	  (X-Sluice-Bench-Sent stamped on each message; every acknowledged
//	  recipient marked in a bitmap)
//	every 200 ms until done or the scenario's timeout:
//	  read the sink's stats and the server's metrics; draw the progress
//	  line; every 5th look, a timeline point (for --chart)
//	  crashing scenario: once crash_after of the messages went in, note
//	    the server's CPU, writes and fsyncs, kill -9 it, start it again on
//	    the same config, spool and ports
//	  releasing scenario: once every recipient got a 451 once, sample RSS
//	    and make the sink accept the deferred local part
//	  done when delivered (sink) + bounced (metrics) == acknowledged
//	    recipients minus those at dead domains (which stay queued); a
//	    crashing run also waits until nothing else is queued
//	settle until the queued gauge agrees; sample /proc and metrics again;
//	  a crashing run counts acknowledged recipients the sink never got
//	  (lost); stop the server (SIGTERM, then kill)
//
// Invariants: every wait is bounded (the server's start, each scrape, the
// run by the scenario's Timeout, the stop); nothing listens or dials beyond
// 127.0.0.1; the temp dir is removed unless Options.Dir was given.
//
// Compare (`sluice bench compare`) measures, each into a fresh sink, the
// loopback limit (smtp-source straight in), a private Postfix relay
// (bench/peers) and `sluice serve` fed by the same smtp-source load, then
// runs the scenario; every rate is the sink's, from the first injection to
// the last delivery. LoadScaling summarises runs at several core counts.
//
// The sink counts DSNs the engine sends to the injector's sender
// (@sluice.test) apart, so that bounces do not look like deliveries or
// duplicates.
package run
