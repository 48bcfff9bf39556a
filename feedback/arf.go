package feedback

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// ErrNotARF is returned by ParseARF for a message that holds no
// message/feedback-report part.
var ErrNotARF = errors.New("feedback: not an ARF report")

// arfMaxDepth bounds how deeply ParseARF descends into nested multiparts.
const arfMaxDepth = 8

// Complaint is what an ARF feedback report (RFC 5965) says: who complained
// about which message, and what Sluice wrote into that message to find it
// again (its Message-ID, its VERP return path, its X-Sluice-* headers).
type Complaint struct {
	// FeedbackType is the report's Feedback-Type, lower case: abuse, fraud,
	// virus, not-spam, auth-failure, other.
	FeedbackType string
	// UserAgent and Version are the reporting software and ARF version.
	UserAgent, Version string
	// OriginalMailFrom is the original envelope sender, bare (a VERP
	// return path when Sluice sent it).
	OriginalMailFrom string
	// OriginalRcptTo are the original envelope recipients, bare. Many
	// receivers redact or omit them.
	OriginalRcptTo []string
	// ArrivalDate is when the receiver got the original (Arrival-Date, or
	// the older Received-Date); zero when absent or unreadable.
	ArrivalDate time.Time
	// ReportedDomain are the domains the report is about.
	ReportedDomain []string
	// SourceIP is the IP the original came from (one of Sluice's vmtas).
	SourceIP string
	// ReportingMTA is the receiver that produced the report.
	ReportingMTA string
	// Incidents is the Incidents count; 1 when absent.
	Incidents int
	// MessageID, ReturnPath, From, To and Subject are from the original's
	// header, when the report returned it.
	MessageID, ReturnPath, From, To, Subject string
	// Sluice holds the original's X-Sluice-* header fields, canonical keys.
	Sluice map[string]string
	// ReportMessageID is the Message-ID of the report itself.
	ReportMessageID string
}

// Recipient returns the best guess of the complaining recipient: the first
// Original-Rcpt-To, else the original's To. The VERP return path (see
// VERP) is more reliable when present, as receivers redact addresses.
func (c *Complaint) Recipient() string {
	if len(c.OriginalRcptTo) > 0 {
		return c.OriginalRcptTo[0]
	}
	return c.To
}

// VERP decodes the original's return path (Return-Path, else
// Original-Mail-From) with key; see DecodeVERP.
func (c *Complaint) VERP(key []byte) (msgID string, idx uint32, ok bool) {
	for _, a := range []string{c.ReturnPath, c.OriginalMailFrom} {
		if msgID, idx, ok = DecodeVERP(a, key); ok {
			return msgID, idx, true
		}
	}
	return "", 0, false
}

// ParseARF reads an ARF report: a message holding a message/feedback-report
// part, normally in multipart/report; report-type=feedback-report, with the
// original as message/rfc822 or text/rfc822-headers. It is lenient (field
// names in any case, LF or CRLF, base64 or quoted-printable parts, the
// report nested in other multiparts, missing optional fields), returns
// ErrNotARF when no feedback-report part is found, and never panics.
func ParseARF(msg []byte) (*Complaint, error) {
	m, err := mail.ReadMessage(bytes.NewReader(msg))
	if err != nil {
		return nil, fmt.Errorf("feedback: ARF: read header: %w", err)
	}
	p := arfParser{c: &Complaint{ReportMessageID: strings.TrimSpace(m.Header.Get("Message-Id")), Incidents: 1}}
	p.walk(textproto.MIMEHeader(m.Header), m.Body, 0)
	if !p.found {
		return nil, ErrNotARF
	}
	return p.c, nil
}

// arfParser accumulates what walk finds; the first part of each kind wins.
type arfParser struct {
	c           *Complaint
	found, orig bool
}

// walk visits one entity, descending into multiparts but never into an
// attached message (which may itself be a report).
func (p *arfParser) walk(h textproto.MIMEHeader, body io.Reader, depth int) {
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil && mt == "" {
		return
	}
	body = decodeTransfer(h, body)
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		if depth >= arfMaxDepth || params["boundary"] == "" {
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
	case mt == "message/feedback-report" && !p.found:
		p.found = true
		p.fields(body)
	case (mt == "message/rfc822" || mt == "text/rfc822-headers" || mt == "message/rfc822-headers") && !p.orig:
		p.orig = true
		p.original(body)
	}
}

// decodeTransfer undoes a base64 or quoted-printable transfer encoding
// (multipart.Reader undoes quoted-printable itself, and drops the header).
func decodeTransfer(h textproto.MIMEHeader, body io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &stripSpace{r: body})
	case "quoted-printable":
		return quotedprintable.NewReader(body)
	}
	return body
}

// fields reads the machine-readable part.
func (p *arfParser) fields(body io.Reader) {
	h := readFields(body)
	c := p.c
	c.FeedbackType = strings.ToLower(strings.TrimSpace(h.Get("Feedback-Type")))
	c.UserAgent = strings.TrimSpace(h.Get("User-Agent"))
	c.Version = strings.TrimSpace(h.Get("Version"))
	c.OriginalMailFrom = bareAddress(h.Get("Original-Mail-From"))
	for _, v := range h.Values("Original-Rcpt-To") {
		if a := bareAddress(v); a != "" {
			c.OriginalRcptTo = append(c.OriginalRcptTo, a)
		}
	}
	date := h.Get("Arrival-Date")
	if date == "" {
		date = h.Get("Received-Date")
	}
	if t, err := mail.ParseDate(strings.TrimSpace(date)); err == nil {
		c.ArrivalDate = t
	}
	for _, v := range h.Values("Reported-Domain") {
		if d := strings.ToLower(strings.TrimSpace(v)); d != "" {
			c.ReportedDomain = append(c.ReportedDomain, d)
		}
	}
	c.SourceIP = strings.Trim(strings.TrimSpace(h.Get("Source-Ip")), "[]")
	c.ReportingMTA = typedValue(h.Get("Reporting-Mta"))
	if n, err := strconv.Atoi(strings.TrimSpace(h.Get("Incidents"))); err == nil && n > 0 {
		c.Incidents = n
	}
}

// original reads the returned message's header.
func (p *arfParser) original(body io.Reader) {
	h := readFields(body)
	c := p.c
	c.MessageID = strings.TrimSpace(h.Get("Message-Id"))
	c.ReturnPath = bareAddress(h.Get("Return-Path"))
	c.From = headerAddress(h.Get("From"))
	c.To = headerAddress(h.Get("To"))
	c.Subject = decodeWords(h.Get("Subject"))
	for k, v := range h {
		if strings.HasPrefix(k, "X-Sluice-") && len(v) > 0 {
			if c.Sluice == nil {
				c.Sluice = map[string]string{}
			}
			c.Sluice[k] = strings.TrimSpace(v[0])
		}
	}
}

// maxFieldsBytes bounds how much of a part readFields reads.
const maxFieldsBytes = 1 << 20

// readFields reads a header block (the fields of a report part, or the
// header of a returned message) leniently: LF or CRLF, folded lines, a
// missing blank line at the end, and stops at the first line that is not a
// field (the original's body).
func readFields(body io.Reader) textproto.MIMEHeader {
	data, _ := io.ReadAll(io.LimitReader(body, maxFieldsBytes))
	data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	if i := bytes.Index(data, []byte("\n\n")); i >= 0 {
		data = data[:i+1]
	}
	data = bytes.TrimLeft(data, "\n")
	data = append(data, '\n', '\n')
	h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(data))).ReadMIMEHeader()
	if err != nil && h == nil {
		return textproto.MIMEHeader{}
	}
	return h
}

// bareAddress strips angle brackets and white space: "<a@b>" -> "a@b".
func bareAddress(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j >= 0 {
			return strings.TrimSpace(v[i+1 : i+j])
		}
	}
	return v
}

// headerAddress returns the first address of an address header, bare.
func headerAddress(v string) string {
	if v = strings.TrimSpace(v); v == "" {
		return ""
	}
	if l, err := mail.ParseAddressList(v); err == nil && len(l) > 0 {
		return l[0].Address
	}
	return bareAddress(v)
}

// typedValue strips an RFC 3464 type: "dns; mx.example.net" -> "mx.example.net".
func typedValue(v string) string {
	if _, after, ok := strings.Cut(v, ";"); ok {
		return strings.TrimSpace(after)
	}
	return strings.TrimSpace(v)
}

// decodeWords decodes RFC 2047 encoded words, leaving the text as is when
// it cannot.
func decodeWords(v string) string {
	if s, err := new(mime.WordDecoder).DecodeHeader(v); err == nil {
		return strings.TrimSpace(s)
	}
	return strings.TrimSpace(v)
}

// stripSpace drops white space, which base64 bodies carry between lines.
type stripSpace struct{ r io.Reader }

func (s *stripSpace) Read(p []byte) (int, error) {
	for {
		n, err := s.r.Read(p)
		j := 0
		for _, b := range p[:n] {
			if b != ' ' && b != '\t' && b != '\r' && b != '\n' {
				p[j] = b
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}
