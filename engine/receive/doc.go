// Package receive is Sluice's SMTP injection listener: marketing platforms
// connect to it to hand over mail, which it passes to a Submitter (the
// engine) and acknowledges only once the Submitter has stored it durably.
//
// It is built on github.com/emersion/go-smtp and adds what an injection
// point of a bulk MTA needs: AUTH PLAIN/LOGIN against bcrypt hashes (only
// over TLS unless explicitly allowed), per-user sender domains, relay
// networks, connection caps (global and per client IP), an absolute session
// deadline, an absolute DATA deadline, a minimum DATA rate, a bad-command
// limit, header rewriting (Received:, Message-ID:, Date:, X-Sluice-*
// directives) and line-ending normalisation.
//
// # Invariants
//
//   - Never an open relay. A client that is neither authenticated nor in
//     Config.RelayNetworks gets 554 5.7.1 at every RCPT, and Data checks
//     again; Validate refuses a /0 relay network. An authenticated user may
//     use only the MAIL FROM domains of its User.FromDomains (553 5.7.1),
//     and AUTH is refused inside a transaction so the check cannot be skipped.
//   - 250 only after a durable Submit. The reply to DATA/BDAT LAST is
//     "250 2.0.0 Ok: queued as <id>", written after Submit returned nil and
//     never otherwise; any Submit error that is not an *smtp.SMTPError is
//     answered 451 4.3.0 so that the client keeps the message.
//   - The body handed to Submit has CRLF line endings only. go-smtp ends
//     DATA only at <CRLF>.<CRLF> but passes bare LF and bare CR through;
//     this package rewrites each bare LF and bare CR to CRLF rather than
//     reject the message, because injecting applications commonly emit bare
//     LF (rejecting would bounce real mail) while normalising is just as
//     safe against SMTP smuggling (CVE-2023-51764 class): a "<LF>.<LF>"
//     smuggling attempt becomes an ordinary "." line that the outbound client
//     dot-stuffs, so no later hop can see an end of data this server did
//     not. Outside the header block the payload is otherwise byte-identical.
//   - Only the header block is rewritten: a Received: field is prepended,
//     Message-ID: and Date: are added when missing, and X-Sluice-VMTA,
//     X-Sluice-Pool and X-Sluice-Campaign are removed and their values put
//     on the Envelope.
//   - The header block is bounded before it is parsed: more than
//     Config.MaxHeaderLines lines get 552 5.3.4 (a parse per field would
//     otherwise cost ~50x the bytes sent), more than Config.MaxHops
//     Received: fields get 554 5.4.6 (a mail loop ends there).
//   - Password guessing is cut: Config.MaxAuthFailures failures on one
//     connection, or Config.AuthFailuresPerIP from one address within
//     Config.AuthFailureWindow, answer 421 4.7.0 and close; the address is
//     then refused AUTH until its window ends. STARTTLS never accepts TLS
//     below 1.2.
//   - A deadline that passes while waiting for a command is final: the 421
//     is the last reply, and a command line trickled in pieces is never
//     answered piece by piece.
//   - Logs carry client IP, HELO, user, envelope sender, counts and results,
//     never message content.
//
// # What it must never do
//
// Import other Sluice packages (the engine adapts to Submitter), write to
// the spool itself, or acknowledge a message before Submit returned.
//
// # Limits and how they are enforced
//
// go-smtp enforces SIZE (552 5.3.4), the recipient cap (452 4.5.3), the
// line length and the per-command read timeout. Everything else lives in a
// net.Listener wrapper (connection caps, answered "421 4.7.0" on the raw
// connection before go-smtp sees it) and a net.Conn wrapper (limitedConn):
// it intercepts go-smtp's read deadlines and arms, before every read, the
// earliest of the session deadline, the command deadline, the DATA deadline
// and the moment the DATA average rate would drop below MinDataRate. Before
// STARTTLS the wrapper counts 5xx replies for MaxBadCommands; after it, it
// sees only ciphertext, so the session counts its own rejections, and
// go-smtp still closes after 4 unparsable commands.
package receive
