// Package client is Sluice's outbound SMTP client: it opens a session to one
// MX host (greeting, EHLO, STARTTLS per policy) and runs mail transactions on
// it, many recipients each, with PIPELINING (RFC 2920) when the server offers
// it. It is the hot path of delivery: a transaction is one write of
// [RSET] MAIL, RCPT... DATA, the replies read back in order, then the
// message streamed through a bufio.Writer in blocks of 64 KiB; identical
// replies (the usual "250 2.1.5 Ok" per recipient) cost no allocation.
//
// It only talks to the network. It does not resolve MX hosts, pick source
// IPs, pool connections, retry or classify replies: it returns every reply,
// per recipient, and the caller (engine/deliver, then feedback) decides.
//
// Invariants:
//
//   - No recipient is counted delivered without a 2xx to its RCPT and a 2xx
//     after the end of data (Result.Delivered). An error from Send means the
//     session broke before that reply arrived: retry everyone (at-least-once;
//     the server may have taken the message and the reply been lost).
//   - Only CRLF line endings and dot-stuffed lines go on the wire: a bare LF
//     or bare CR in a body becomes CRLF, a line starting with "." gets
//     another, and the data ends with CRLF ".\r\n" exactly once; a body that
//     cannot be read to its end is never terminated (the connection is
//     closed instead, so no truncated message is delivered).
//   - No CR, LF, space or angle bracket from an address reaches a command:
//     such an address gets a Local reply instead (no command injection).
//   - TLS below 1.2 is never negotiated, whatever Options.TLSConfig says:
//     under TLSOpportunistic such a server gets plain text instead.
//   - A DSN parameter a receiver would refuse (RET other than FULL or HDRS,
//     an ENVID that is not 1-100 printable ASCII characters, a NOTIFY that
//     is not RFC 3461) is left out rather than sent: optional metadata must
//     not bounce the message.
//   - A Conn that returned an error, or got a 421, is dead: it closes itself
//     and every later call returns ErrClosed. It is never reused.
//   - Timeouts are per phase (RFC 5321 4.5.3.2) and set on the connection
//     before every read and every block written; a context cancels any
//     phase.
//
// A Conn belongs to one goroutine at a time; only Close may be called
// concurrently.
package client
