// Package compose builds the RFC 5322 / MIME message one recipient receives
// from a batch's template and that recipient's variables.
//
// A batch is parsed once (Parse), so that a template syntax error is reported
// at request time, before anything is queued; the resulting Template is then
// rendered once per recipient (Render), concurrently if the caller wishes.
//
// # Templates
//
// Subject, header values and the text part are Go text/template; the HTML
// part is html/template, so a variable rendered into HTML is escaped for its
// context. The data (".") of every template is the recipient's Vars map:
// {{.first_name}}. Templates run with missingkey=error: a variable the
// template names but the recipient lacks fails that recipient's Render
// (rather than mailing "<no value>" to a customer); a template marks a value
// optional with index, which never fails: {{or (index . "nick") "friend"}}.
// One template's output for one recipient is capped at MaxPartSize, so a
// runaway template fails that recipient rather than the process.
// RawMIME is the alternative to templates: a complete message sent as is,
// except that its line endings are normalised to CRLF.
//
// # Output
//
// Render writes From, To, Subject, Date, Message-ID, MIME-Version, the extra
// Headers (sorted by name), then Content-Type and Content-Transfer-Encoding,
// and a body that is text/plain, text/html or multipart/alternative (text
// first). Bodies are UTF-8, normalised to CRLF and ending in CRLF, and are
// quoted-printable, or base64 when more than a third of their bytes are not
// ASCII. Header values with non-ASCII text become RFC 2047 encoded-words;
// header lines are folded at spaces near 78 columns and never exceed 998.
// Every line of the output ends in CRLF; no line is longer than 998 octets.
//
// # Invariants
//
//   - Nothing a recipient's variables contain can add a header field or a
//     MIME part. In a header value, every CR, LF, other control character,
//     NEL and Unicode line or paragraph separator that the rendered template
//     contains is replaced by a space (sanitised, not an error: a stray
//     newline in a name from a CRM must not fail the recipient), and the
//     value is then folded by this package alone. Header names come from the
//     Content, are validated at Parse and are never templates. Bodies are
//     always quoted-printable or base64, so a variable cannot write a line
//     of the message verbatim; the multipart boundary starts with "=_",
//     which neither encoding can produce.
//   - The From and To addresses are parsed (net/mail) and re-formatted; one
//     with a control character is an error, not sanitised, because an
//     address must be exact.
//   - Extra Headers may not name a field this package writes (From, To,
//     Subject, Date, Message-ID, MIME-Version, Content-Type,
//     Content-Transfer-Encoding).
//   - A Template is immutable after Parse and safe for concurrent Render.
//
// # What it must never do
//
// Import other Sluice packages, read configuration or the clock (a zero
// Message.Date is the one exception: it means now), write a header line
// that a variable's bytes can end early, or emit a bare CR or LF.
package compose
