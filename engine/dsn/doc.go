// Package dsn builds and parses delivery status notifications: the bounce
// and delay reports an MTA sends back to the envelope sender (RFC 3464 for
// the message/delivery-status format, RFC 3461 for the SMTP DSN extension
// and its NOTIFY/RET/ENVID/ORCPT parameters, RFC 6522 for the
// multipart/report container).
//
// Its one job is the wire format. Deciding that a recipient failed, choosing
// the sender of the report, and spooling the report for delivery belong to
// the engine; classifying foreign bounces belongs to feedback, which uses
// Parse, or ParseAny for bounces that may not follow RFC 3464.
//
// # Invariants
//
//   - Pure functions: no I/O, no clock read, no randomness. Build's output
//     is a function of its Report alone (the MIME boundary and, when the
//     caller leaves it empty, the Message-ID are derived from a hash of the
//     inputs), so the same Report always renders the same bytes.
//   - Build emits CRLF line endings only, no line longer than 998 octets
//     (RFC 5322 2.1.1), and no raw non-ASCII in the header block except
//     internationalised addresses (see below). Long values are folded at
//     white space, which unfolds back to the same value; only a run of
//     text without white space too long for one line is broken by a fold
//     that adds one space to the unfolded value.
//   - The boundary never occurs in any part it encloses.
//   - Parse never panics and accepts what real MTAs send (Postfix, Exim,
//     Sendmail, Gmail, Exchange): case-insensitive field names and values,
//     folded fields, LF or CRLF, comments after Status, missing optional
//     fields, the report nested inside other multiparts, and
//     message/global-delivery-status (RFC 6533).
//   - ParseText and ParseAny never panic either, take time about linear in
//     the message, and mark what they guess (Report.Heuristic). The fuzz
//     target FuzzParse runs all three over the samples in testdata.
//   - ShouldNotify never allows a DSN to the null sender (RFC 3461 6.2,
//     RFC 5321 4.5.5): a bounce of a bounce would loop.
//
// # Internationalised addresses
//
// A recipient address that is not ASCII is written in the delivery-status
// part as the RFC 6533 "utf-8" address type in its utf-8-addr-xtext form
// (\x{HEX}), which keeps that part ASCII; Parse decodes it back. The To:
// header of the DSN carries such an address as raw UTF-8 (RFC 6532): an
// address cannot be RFC 2047-encoded, and a non-ASCII envelope sender can
// only be reached over SMTPUTF8 anyway.
//
// # Bounces without a report
//
// Many receivers still bounce in free text: qmail ("Hi. This is the
// qmail-send program at ..."), Exim and Postfix set up without the
// report part, Sendmail's "----- The following addresses had permanent
// fatal errors -----", Yahoo ("Sorry, we were unable to deliver your
// message to the following address."), old Gmail ("Delivery to the
// following recipient failed permanently:"), Exchange ("Diagnostic
// information for administrators: ... #550 5.1.1 ...##"), Office 365
// ("Your message to x couldn't be delivered"), Lotus Notes, GroupWise.
// ParseText reads those: it takes the text part, cuts it at the line that
// introduces the quoted original (whose header block becomes
// OriginalHeaders), refuses a message that reads as no bounce (no
// MAILER-DAEMON or postmaster sender, no X-Failed-Recipients, no
// bounce phrase), then finds recipients as lines that start with an
// address, each with the reply code and text under it (textrcpt.go says
// how). It understands English only; the result is a best guess, marked
// Heuristic, with a Status of a bare class ("5.0.0") where the text gives
// no enhanced code. ParseAny tries Parse first and falls back to
// ParseText. Report.OriginalHeader reads a field of the returned original
// (Message-ID, the sender's own tracking header) to match a bounce of
// either kind back to what was sent.
//
// # What it must never do
//
// Import other Sluice packages, read the clock, or send anything.
package dsn
