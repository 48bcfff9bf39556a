// Package peers runs the mail servers Sluice is compared against, on
// loopback, for `sluice bench compare`.
//
// One job: start a peer MTA configured as a relay into the benchmark's sink,
// say where it listens and how much CPU it used, and stop it leaving nothing
// behind. Measuring is bench/run's job: the sink counts what the peer
// delivers.
//
// Postfix is the peer today. postfix.sh (embedded, so that the binary needs
// no checkout) writes a private instance under a directory of ours: its own
// config_directory, queue_directory and data_directory, its own smtpd port
// on 127.0.0.1, every recipient relayed to the sink (`relayhost =
// [127.0.0.1]:PORT`, DNS off), with the concurrency, connection reuse and
// recipients per transaction that Sluice gets, no content filter and no
// local delivery. Every setting is commented in the script. Postfix must be
// installed (Debian's postfix package: `make bench-deps`) and started as
// root; Check says what is missing.
//
// Invariants: nothing outside Dir is written, the system's Postfix (if any)
// is never read, started or stopped; Stop waits for every process of the
// instance (found by the MAIL_CONFIG that master passes to its daemons) and
// kills what is left after 10 s.
package peers
