package dsn

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"net/mail"
	"net/textproto"
	"regexp"
	"strings"
)

// maxText bounds how much of a bounce's text ParseText reads: the
// explanation comes first, and a quoted original after it needs only its
// header block.
const maxText = 128 << 10

// ParseText reads a bounce that carries no RFC 3464 report, from the words
// of its text: qmail, Exim, Postfix and Sendmail without their report
// part, Yahoo, old Gmail, Exchange and Office 365, Lotus Notes, GroupWise
// and the like. It reads the first text/plain part (or, when there is
// none, the first text/html part, stripped of its markup) and returns a
// Report with Heuristic set: the DSN's headers as Parse reads them, the
// reporting host when the text names it, and one Recipient per failed or
// delayed address it finds (see Report.Heuristic for what they hold).
//
// The original message comes from a text/rfc822-headers or message/rfc822
// part as in Parse, or else from the copy quoted after a marker line in the
// text ("--- Below this line is a copy of the message.", "------ This is a
// copy of the message, including all the headers. ------", "Original
// message headers:" ...), whose header block goes to OriginalHeaders.
//
// A message with a delivery-status part is read from its text as well:
// call Parse, or ParseAny, to read its report. ParseText returns ErrNotDSN
// for a message that does not read as a bounce or names no recipient, an
// error for a header it cannot read, and never panics.
func ParseText(msg []byte) (*Report, error) {
	m, err := mail.ReadMessage(bytes.NewReader(msg))
	if err != nil {
		return nil, fmt.Errorf("dsn: parse text: read header: %w", err)
	}
	h := textproto.MIMEHeader(m.Header)
	r := newReport(h)
	p := parser{r: r, textOnly: true}
	p.walk(h, m.Body, 0)
	text, quoted := splitQuoted(bounceText(p.plain, p.html))
	if !looksLikeBounce(h, r.From, text) {
		return nil, ErrNotDSN
	}
	lines := strings.Split(text, "\n")
	action := textAction(h.Get("Subject"), text)
	x := extractor{r: r, lines: lines, text: text, action: action}
	r.Recipients = x.recipients(h.Get("X-Failed-Recipients"))
	if len(r.Recipients) == 0 {
		return nil, ErrNotDSN
	}
	if r.OriginalHeaders == nil && r.OriginalMessage == nil {
		r.OriginalHeaders = quotedHeaders(quoted)
	}
	if host := reportingRE.FindStringSubmatch(text); host != nil {
		r.ReportingMTA = host[1]
	}
	r.Heuristic = true
	return r, nil
}

// ParseAny reads any bounce: Parse's report when the message has a
// delivery-status part naming at least one recipient, else ParseText's
// reading of its text (which keeps the per-message fields of a report
// whose recipients were missing). It returns Parse's result when ParseText
// finds nothing in a report Parse could read, and never panics.
func ParseAny(msg []byte) (*Report, error) {
	r, err := Parse(msg)
	if err == nil && len(r.Recipients) > 0 {
		return r, nil
	}
	if err != nil && !errors.Is(err, ErrNotDSN) {
		return nil, err
	}
	t, terr := ParseText(msg)
	switch {
	case terr != nil && err == nil:
		return r, nil
	case terr != nil:
		return nil, terr
	case err == nil:
		if t.ReportingMTA == "" {
			t.ReportingMTA = r.ReportingMTA
		}
		t.EnvelopeID, t.ArrivalDate = r.EnvelopeID, r.ArrivalDate
	}
	return t, nil
}

// bounceText returns the text ParseText reads, as valid UTF-8 with LF line
// endings, at most maxText octets of it.
//
// NB: a text in another charset (ISO-8859-1 ...) keeps its ASCII; its
// other octets become U+FFFD, which the English phrases, addresses and
// reply codes that ParseText looks for do not need.
func bounceText(plain, htm []byte) string {
	b := plain
	if len(bytes.TrimSpace(b)) == 0 && len(htm) > 0 {
		b = htmlText(htm[:min(len(htm), 4*maxText)])
	}
	b = b[:min(len(b), maxText)]
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

var (
	htmlDropRE  = regexp.MustCompile(`(?is)<(?:head|style|script)\b.*?</(?:head|style|script)\s*>`)
	htmlBreakRE = regexp.MustCompile(`(?i)<(?:br|/p|/div|/tr|/li|/h[1-6]|/table)\b[^>]*>`)
	htmlTagRE   = regexp.MustCompile(`<[^>]*>`)
)

// htmlText is a crude rendering of an HTML part: a line break for each
// block end, no tags, entities decoded.
func htmlText(b []byte) []byte {
	b = htmlDropRE.ReplaceAll(b, nil)
	b = htmlBreakRE.ReplaceAll(b, []byte("\n"))
	b = htmlTagRE.ReplaceAll(b, nil)
	return []byte(html.UnescapeString(string(b)))
}

// quotedRE matches the line after which bounces quote the original.
var quotedRE = regexp.MustCompile(`(?im)^[ \t]*(?:` +
	`-*[ \t]*below this line is a copy of the message\.?` + // qmail, Yahoo
	`|-+[ \t]*this is a copy of [^\n]*` + // Exim
	`|-+[ \t]*(?:the )?(?:original|returned|undelivered) message(?: follows)?[ \t.]*-*` + // Sendmail, Gmail
	`|original message headers:?` + // Exchange, Office 365
	`)[ \t]*$`)

// splitQuoted splits text at the first quoted-original marker.
func splitQuoted(text string) (body, quoted string) {
	loc := quotedRE.FindStringIndex(text)
	if loc == nil {
		return text, ""
	}
	return text[:loc[0]], text[loc[1]:]
}

var fieldLineRE = regexp.MustCompile(`^[!-9;-~]+:`)

// quotedHeaders returns the header block at the start of a quoted
// original, with CRLF line endings, or nil when it does not start with a
// header field.
func quotedHeaders(quoted string) []byte {
	quoted = strings.TrimLeft(quoted, " \t\n")
	if !fieldLineRE.MatchString(quoted) {
		return nil
	}
	if i := strings.Index(quoted, "\n\n"); i >= 0 {
		quoted = quoted[:i]
	}
	quoted = strings.TrimRight(quoted, " \t\n")
	return []byte(strings.ReplaceAll(quoted, "\n", "\r\n") + "\r\n")
}

// bounceSigns are phrases (lower case) of which a bounce has at least one
// in its subject or text.
var bounceSigns = []string{
	"undeliver", "not be delivered", "couldn't be delivered", "was not delivered",
	"not yet been delivered", "not delivered yet", "delivery has failed", "delivery failed",
	"delivery failure", "failed permanently", "permanent error", "permanent failure",
	"temporary failure", "temporary problem", "unable to deliver", "could not deliver",
	"couldn't deliver", "delivery status notification", "mail delivery", "returned mail",
	"failure notice", "non-delivery", "did not reach", "cannot be reached",
	"delivery to the following recipient", "has been delayed", "delayed mail",
	"warning only", "warning message only", "qmail-send program", "mail system at host",
}

// looksLikeBounce reports whether a message reads as a bounce, so that
// addresses in an ordinary message are not taken for failed recipients.
func looksLikeBounce(h textproto.MIMEHeader, from, text string) bool {
	if h.Get("X-Failed-Recipients") != "" || isDaemon(from) {
		return true
	}
	s := strings.ToLower(h.Get("Subject") + "\n" + text)
	for _, sign := range bounceSigns {
		if strings.Contains(s, sign) {
			return true
		}
	}
	return false
}

// isDaemon reports whether addr is a mail system's own address.
func isDaemon(addr string) bool {
	local, _, _ := strings.Cut(strings.ToLower(addr), "@")
	switch local {
	case "mailer-daemon", "postmaster", "mail-daemon":
		return true
	}
	return false
}

// delaySigns are phrases (lower case) that make a bounce a delay warning.
var delaySigns = []string{
	"warning only", "warning message only", "not yet been delivered", "not delivered yet",
	"not been delivered yet", "has been delayed", "delivery delayed", "delayed mail",
	"still being retried", "will be retried", "will retry", "will continue to try",
	"delivery attempts will continue", "temporary problem delivering",
	"details of temporary failure", "notification (delay)",
}

// textAction is ActionDelayed for a text that says delivery goes on,
// ActionFailed otherwise.
func textAction(subject, text string) string {
	s := strings.ToLower(subject + "\n" + text)
	for _, sign := range delaySigns {
		if strings.Contains(s, sign) {
			return ActionDelayed
		}
	}
	return ActionFailed
}

// reportingRE finds the reporting host where a bounce names it.
var reportingRE = regexp.MustCompile(`(?i)(?:qmail-send program at|mail system at host|generating server:|` +
	`dsn generated by:|on the queue on)[ \t]*([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)`)
