// Package engine wires Sluice together: it owns the spool and, as later parts
// land, the scheduler, the delivery core and the policy packages (vmta,
// pools, warmup, feedback).
//
// Submit is the one door every injector (SMTP, gRPC, REST) uses. It
// validates the envelope, fills in what the engine decides (expiry,
// default vmta) and writes the message to the spool. It returns only after
// the spool has made the message durable: an injector may acknowledge the
// message (250, gRPC OK) as soon as Submit returns nil, and must not before.
//
// The engine never speaks a wire protocol itself; adapters such as
// SMTPSubmitter translate its errors into protocol replies.
package engine
