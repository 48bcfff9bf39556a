package dsn

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"regexp"
	"strings"
	"time"
)

// maxDepth bounds how deeply Parse descends into nested multiparts.
const maxDepth = 8

// Parse reads a DSN: a message holding a message/delivery-status (or RFC
// 6533 message/global-delivery-status) part, normally inside
// multipart/report. It fills the Report from the DSN's headers (From, To,
// Date as Now, Message-ID), the per-message fields, one Recipient per
// per-recipient block, and the returned original (text/rfc822-headers into
// OriginalHeaders, message/rfc822 into OriginalMessage, neither decoded
// further).
//
// Parse is lenient, to read what other MTAs send: field names and actions
// in any case, folded or LF-terminated lines, comments after the status,
// missing optional fields, a missing per-message block, and the report
// nested in other multiparts. Typed values are returned bare for the
// common types (rfc822 and utf-8 addresses, dns host names, smtp
// diagnostics) and as "type; value" otherwise. A date it cannot read is
// left zero. It returns ErrNotDSN when no delivery-status part is found
// (ParseAny then reads the bounce's text), and never panics.
func Parse(msg []byte) (*Report, error) {
	m, err := mail.ReadMessage(bytes.NewReader(msg))
	if err != nil {
		return nil, fmt.Errorf("dsn: parse: read header: %w", err)
	}
	h := textproto.MIMEHeader(m.Header)
	r := newReport(h)
	p := parser{r: r}
	p.walk(h, m.Body, 0)
	if !p.found {
		return nil, ErrNotDSN
	}
	return r, nil
}

// newReport starts a Report from the header of a received DSN.
func newReport(h textproto.MIMEHeader) *Report {
	return &Report{
		From:      headerAddress(h.Get("From")),
		To:        headerAddress(h.Get("To")),
		MessageID: strings.TrimSpace(h.Get("Message-Id")),
		Now:       parseDate(h.Get("Date")),
	}
}

// parser accumulates what walk finds.
type parser struct {
	r     *Report
	found bool
	// textOnly (ParseText) makes walk keep the first text/plain and
	// text/html parts and skip delivery-status parts.
	textOnly    bool
	plain, html []byte
}

// walk visits one entity: it descends into multiparts (never into an
// attached message, which may itself be a DSN) and reads the parts a DSN
// is made of; the first of each kind wins.
func (p *parser) walk(h textproto.MIMEHeader, body io.Reader, depth int) {
	ct := h.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	switch {
	case strings.TrimSpace(ct) == "":
		mt = "text/plain" // RFC 2045 5.2
	case err != nil && mt == "":
		return
	}
	if strings.HasPrefix(mt, "multipart/") {
		if depth >= maxDepth || params["boundary"] == "" {
			return
		}
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextPart()
			if err != nil {
				return
			}
			p.walk(part.Header, part, depth+1)
		}
	}
	switch mt {
	case "message/delivery-status", "message/global-delivery-status":
		if !p.found && !p.textOnly {
			p.found = true
			parseStatus(p.r, readBody(h, body))
		}
	case "text/rfc822-headers", "message/rfc822-headers":
		if p.r.OriginalHeaders == nil {
			p.r.OriginalHeaders = readBody(h, body)
		}
	case "message/rfc822", "message/global":
		if p.r.OriginalMessage == nil && depth > 0 {
			p.r.OriginalMessage = readBody(h, body)
		}
	case "text/plain":
		if p.textOnly && p.plain == nil {
			p.plain = readBody(h, body)
		}
	case "text/html":
		if p.textOnly && p.html == nil {
			p.html = readBody(h, body)
		}
	}
}

// readBody reads a part, undoing base64 and quoted-printable (which
// multipart.Reader already undoes for parts, removing the header, but not
// for a top-level body); a truncated part yields what could be read.
func readBody(h textproto.MIMEHeader, body io.Reader) []byte {
	switch strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))) {
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	}
	data, _ := io.ReadAll(body)
	return data
}

// statusField is one "name: value" of a delivery-status block.
type statusField struct{ name, value string }

// splitGroups splits a delivery-status body into blocks of unfolded fields.
// Lines without a colon are skipped; a line of white space ends a block.
func splitGroups(data []byte) [][]statusField {
	text := strings.ReplaceAll(strings.ReplaceAll(string(data), "\r\n", "\n"), "\r", "\n")
	var groups [][]statusField
	var cur []statusField
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.TrimSpace(line) == "":
			if len(cur) > 0 {
				groups = append(groups, cur)
				cur = nil
			}
		case line[0] == ' ' || line[0] == '\t':
			if len(cur) > 0 {
				cur[len(cur)-1].value += line
			}
		default:
			name, value, ok := strings.Cut(line, ":")
			if ok && strings.TrimSpace(name) != "" {
				cur = append(cur, statusField{strings.ToLower(strings.TrimSpace(name)), value})
			}
		}
	}
	if len(cur) > 0 {
		groups = append(groups, cur)
	}
	return groups
}

// parseStatus fills r from a delivery-status body.
func parseStatus(r *Report, data []byte) {
	groups := splitGroups(data)
	if len(groups) > 0 && !isRecipientGroup(groups[0]) {
		for _, f := range groups[0] {
			v := strings.TrimSpace(f.value)
			switch f.name {
			case "reporting-mta":
				r.ReportingMTA = untype(v, "dns")
			case "original-envelope-id":
				r.EnvelopeID = v
			case "arrival-date":
				r.ArrivalDate = parseDate(v)
			}
		}
		groups = groups[1:]
	}
	for _, g := range groups {
		if rc, ok := parseRecipient(g); ok {
			r.Recipients = append(r.Recipients, rc)
		}
	}
}

// isRecipientGroup reports whether g holds per-recipient fields.
func isRecipientGroup(g []statusField) bool {
	for _, f := range g {
		switch f.name {
		case "final-recipient", "original-recipient", "action", "status":
			return true
		}
	}
	return false
}

var statusInRE = regexp.MustCompile(`[245]\.[0-9]{1,3}\.[0-9]{1,3}`)

// parseRecipient reads one per-recipient block; ok is false for a block
// that names no recipient.
func parseRecipient(g []statusField) (Recipient, bool) {
	var rc Recipient
	for _, f := range g {
		v := strings.TrimSpace(f.value)
		switch f.name {
		case "original-recipient":
			rc.Original = recipientAddress(v)
		case "final-recipient":
			rc.Final = recipientAddress(v)
		case "action":
			rc.Action = strings.ToLower(firstWord(v))
		case "status":
			if s := statusInRE.FindString(v); s != "" {
				rc.Status = s
			} else {
				rc.Status = firstWord(v)
			}
		case "remote-mta":
			rc.RemoteMTA = hostName(untype(v, "dns"))
		case "diagnostic-code":
			rc.Diagnostic = decodeWords(untype(v, "smtp"))
		case "last-attempt-date":
			rc.LastAttempt = parseDate(v)
		case "will-retry-until":
			rc.WillRetryUntil = parseDate(v)
		}
	}
	if rc.Final == "" {
		rc.Final = rc.Original
	}
	return rc, rc.Final != ""
}

// untype strips "want;" from a typed value and returns other types as
// "type; value".
func untype(v, want string) string {
	typ, rest, ok := typed(v)
	switch {
	case !ok:
		return v
	case typ == want:
		return rest
	default:
		return typ + "; " + rest
	}
}

// hostName drops comments and a trailing root dot from a Remote-MTA value,
// as in Gmail's "mx.example.com. (192.0.2.1, the server for ...)".
func hostName(v string) string {
	v = strings.TrimSpace(commentRE.ReplaceAllString(v, ""))
	return strings.TrimSuffix(v, ".")
}

// recipientAddress reads an Original- or Final-Recipient value.
func recipientAddress(v string) string {
	typ, rest, ok := typed(v)
	if !ok {
		return strings.Trim(v, "<> ")
	}
	rest = strings.Trim(rest, "<> ")
	switch typ {
	case "rfc822":
		return rest
	case "utf-8":
		return decodeUTF8Addr(rest)
	default:
		return typ + "; " + rest
	}
}

// firstWord returns v up to its first white space or comment.
func firstWord(v string) string {
	if i := strings.IndexAny(v, " \t("); i >= 0 {
		return v[:i]
	}
	return v
}

// decodeWords decodes RFC 2047 encoded words, keeping v when they are
// malformed.
func decodeWords(v string) string {
	if !strings.Contains(v, "=?") {
		return v
	}
	d, err := new(mime.WordDecoder).DecodeHeader(v)
	if err != nil {
		return v
	}
	return d
}

var commentRE = regexp.MustCompile(`\([^()]*\)`)

// parseDate reads an RFC 5322 date leniently (comments, RFC 3339); zero
// when it cannot.
func parseDate(v string) time.Time {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}
	}
	if t, err := mail.ParseDate(v); err == nil {
		return t
	}
	stripped := strings.Join(strings.Fields(commentRE.ReplaceAllString(v, " ")), " ")
	if t, err := mail.ParseDate(stripped); err == nil {
		return t
	}
	for _, layout := range []string{time.RFC3339Nano, "Mon, 2 Jan 2006 15:04:05 MST", "Mon, 2 Jan 2006 15:04:05"} {
		if t, err := time.Parse(layout, stripped); err == nil {
			return t
		}
	}
	return time.Time{}
}

// headerAddress returns the address of a From: or To: value, or the value
// without angle brackets and comments when it does not parse.
func headerAddress(v string) string {
	if v = strings.TrimSpace(v); v == "" {
		return ""
	}
	if a, err := mail.ParseAddress(v); err == nil {
		return a.Address
	}
	if l, err := mail.ParseAddressList(v); err == nil && len(l) > 0 {
		return l[0].Address
	}
	v = strings.TrimSpace(commentRE.ReplaceAllString(v, ""))
	if i, j := strings.LastIndexByte(v, '<'), strings.LastIndexByte(v, '>'); i >= 0 && j > i {
		return strings.TrimSpace(v[i+1 : j])
	}
	return v
}

// OriginalHeader returns the first value of the named field (any case) in
// the header block of the returned original: OriginalHeaders, or else the
// start of OriginalMessage; "" when neither holds it. It matches a bounce
// back to what was sent, by "Message-ID" or a header of the sender's own.
// The value is unfolded and trimmed, not otherwise decoded.
func (r *Report) OriginalHeader(key string) string {
	block := r.OriginalHeaders
	if len(bytes.TrimSpace(block)) == 0 {
		block = r.OriginalMessage
	}
	block = bytes.TrimLeft(block, "\r\n")
	in := io.MultiReader(bytes.NewReader(block), strings.NewReader("\r\n\r\n"))
	h, _ := textproto.NewReader(bufio.NewReader(in)).ReadMIMEHeader()
	return strings.TrimSpace(h.Get(key))
}
