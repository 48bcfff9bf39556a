package dsn

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
)

// Build renders r as a complete RFC 5322 message: multipart/report;
// report-type=delivery-status (RFC 6522) with three parts:
//
//  1. text/plain: what happened to which recipient and why, in plain words;
//  2. message/delivery-status (RFC 3464): the per-message fields, then one
//     block per recipient;
//  3. message/rfc822 with r.OriginalMessage (RET=FULL) or
//     text/rfc822-headers with r.OriginalHeaders (RET=HDRS); left out when
//     both are empty.
//
// The Subject is SubjectFailed when any recipient failed, else
// SubjectDelayed when any is delayed, else SubjectDelivered. The message
// carries Auto-Submitted: auto-replied (RFC 3834) and must be sent with a
// null envelope sender (MAIL FROM:<>).
//
// The output has CRLF line endings only and no line over MaxLineLen. An
// original message whose lines cannot be returned within that limit is
// returned as its headers only. Build fails only for a Report that cannot
// be rendered (errors wrap ErrInvalid).
func Build(r *Report) ([]byte, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	text, textCTE := encodeText(humanText(r))
	status := deliveryStatus(r)
	origType, orig := originalPart(r)

	boundary := chooseBoundary(r, text, status, orig)
	var b bytes.Buffer
	writeHeader(&b, r, boundary)
	b.WriteString("This is a MIME-encapsulated delivery status notification.\r\n")

	writePartHeader(&b, boundary, "text/plain; charset=utf-8", "Notification", textCTE)
	b.Write(text)
	writePartHeader(&b, boundary, "message/delivery-status", "Delivery report", "")
	b.Write(status)
	if orig != nil {
		desc := "Undelivered message headers"
		if origType == "message/rfc822" {
			desc = "Undelivered message"
		}
		cte := ""
		if !isASCII(string(orig)) {
			cte = "8bit"
		}
		writePartHeader(&b, boundary, origType, desc, cte)
		b.Write(orig)
	}
	b.WriteString("\r\n--" + boundary + "--\r\n")
	return b.Bytes(), nil
}

// writeHeader writes the DSN's own header block, ending in the empty line.
func writeHeader(b *bytes.Buffer, r *Report, boundary string) {
	from := r.From
	if from == "" {
		from = "MAILER-DAEMON@" + r.ReportingMTA
	}
	if a, err := mail.ParseAddress(from); err == nil {
		from = a.Address
	}
	writeField(b, "From", "Mail Delivery System <"+strings.Trim(clean(from), "<>")+">")
	writeField(b, "To", "<"+clean(r.To)+">")
	writeField(b, "Subject", r.subject())
	writeField(b, "Date", r.Now.Format(time.RFC1123Z))
	writeField(b, "Message-ID", messageID(r))
	writeField(b, "Auto-Submitted", "auto-replied")
	writeField(b, "MIME-Version", "1.0")
	writeField(b, "Content-Type", `multipart/report; report-type=delivery-status; boundary="`+boundary+`"`)
	b.WriteString("\r\n")
}

// writePartHeader opens a body part; cte "" means 7bit (and is not written).
func writePartHeader(b *bytes.Buffer, boundary, ctype, desc, cte string) {
	b.WriteString("\r\n--" + boundary + "\r\n")
	writeField(b, "Content-Type", ctype)
	writeField(b, "Content-Description", desc)
	if cte != "" {
		writeField(b, "Content-Transfer-Encoding", cte)
	}
	b.WriteString("\r\n")
}

// messageID returns r.MessageID in angle brackets, or one derived from the
// report's hash.
func messageID(r *Report) string {
	if id := clean(r.MessageID); id != "" {
		return "<" + strings.Trim(id, "<>") + ">"
	}
	sum := reportHash(r, 0)
	return "<dsn." + hex.EncodeToString(sum[:16]) + "@" + r.ReportingMTA + ">"
}

// reportHash hashes what identifies r, salted with n.
func reportHash(r *Report, n int) [sha256.Size]byte {
	h := sha256.New()
	fmt.Fprintf(h, "%d\x00%s\x00%s\x00%s\x00%s\x00%d\x00%d\x00", n, r.ReportingMTA, r.EnvelopeID, r.From, r.To,
		r.Now.UnixNano(), r.ArrivalDate.UnixNano())
	for _, rc := range r.Recipients {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s\x00%s\x00", rc.Original, rc.Final, rc.Action, rc.Status, rc.RemoteMTA, rc.Diagnostic)
	}
	h.Write(r.OriginalHeaders)
	h.Write(r.OriginalMessage)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// chooseBoundary returns a boundary that occurs in none of the parts. It
// starts with "=_", which quoted-printable output never contains, and is
// derived from the report, so Build stays deterministic.
func chooseBoundary(r *Report, parts ...[]byte) string {
	for n := 1; ; n++ {
		sum := reportHash(r, n)
		boundary := "=_sluice_dsn_" + hex.EncodeToString(sum[:12])
		clash := false
		for _, p := range parts {
			if bytes.Contains(p, []byte(boundary)) {
				clash = true
				break
			}
		}
		if !clash {
			return boundary
		}
	}
}

// deliveryStatus renders the message/delivery-status body.
func deliveryStatus(r *Report) []byte {
	var b bytes.Buffer
	writeField(&b, "Reporting-MTA", "dns; "+r.ReportingMTA)
	if r.EnvelopeID != "" {
		writeField(&b, "Original-Envelope-Id", envelopeIDField(r.EnvelopeID))
	}
	if !r.ArrivalDate.IsZero() {
		writeField(&b, "Arrival-Date", r.ArrivalDate.Format(time.RFC1123Z))
	}
	for _, rc := range r.Recipients {
		b.WriteString("\r\n")
		writeRecipient(&b, rc)
	}
	return b.Bytes()
}

// writeRecipient renders one per-recipient block (RFC 3464 2.3).
func writeRecipient(b *bytes.Buffer, rc Recipient) {
	action := strings.ToLower(rc.Action)
	if rc.Original != "" {
		writeField(b, "Original-Recipient", addressField(rc.Original))
	}
	writeField(b, "Final-Recipient", addressField(rc.Final))
	writeField(b, "Action", action)
	writeField(b, "Status", rc.Status)
	if mta := clean(rc.RemoteMTA); mta != "" {
		if _, _, ok := typed(mta); !ok {
			mta = "dns; " + mta
		}
		writeField(b, "Remote-MTA", mta)
	}
	if d := headerText(rc.Diagnostic); d != "" {
		if typ, rest, ok := typed(d); ok && !isDigits(typ) {
			d = typ + "; " + rest
		} else {
			d = "smtp; " + d
		}
		writeField(b, "Diagnostic-Code", d)
	}
	if !rc.LastAttempt.IsZero() {
		writeField(b, "Last-Attempt-Date", rc.LastAttempt.Format(time.RFC1123Z))
	}
	if action == ActionDelayed && !rc.WillRetryUntil.IsZero() {
		writeField(b, "Will-Retry-Until", rc.WillRetryUntil.Format(time.RFC1123Z))
	}
}

// isDigits reports whether s is all ASCII digits.
func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// originalPart returns the third part's content type and body, CRLF
// terminated, or nil when there is nothing to return. RET=FULL falls back
// to the headers when the message has a line longer than MaxLineLen.
func originalPart(r *Report) (string, []byte) {
	if len(r.OriginalMessage) > 0 {
		msg := toCRLF(r.OriginalMessage)
		if maxLine(msg) <= MaxLineLen {
			return "message/rfc822", msg
		}
		return "text/rfc822-headers", headerBlock(msg)
	}
	if len(r.OriginalHeaders) > 0 {
		return "text/rfc822-headers", headerBlock(toCRLF(r.OriginalHeaders))
	}
	return "", nil
}

// toCRLF returns p with every line ending CRLF, including the last.
func toCRLF(p []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(p) + len(p)/32 + 2)
	for len(p) > 0 {
		i := bytes.IndexAny(p, "\r\n")
		if i < 0 {
			b.Write(p)
			break
		}
		b.Write(p[:i])
		b.WriteString("\r\n")
		if p[i] == '\r' && i+1 < len(p) && p[i+1] == '\n' {
			i++
		}
		p = p[i+1:]
	}
	out := b.Bytes()
	if !bytes.HasSuffix(out, []byte("\r\n")) {
		out = append(out, '\r', '\n')
	}
	return out
}

// maxLine returns the length of the longest CRLF-terminated line in p.
func maxLine(p []byte) int {
	longest := 0
	for len(p) > 0 {
		i := bytes.Index(p, []byte("\r\n"))
		if i < 0 {
			i = len(p)
		}
		longest = max(longest, i)
		p = p[min(i+2, len(p)):]
	}
	return longest
}

// headerBlock returns the header lines of a CRLF message (without the empty
// line that ends them); a line too long is folded at MaxLineLen-1.
func headerBlock(msg []byte) []byte {
	if i := bytes.Index(msg, []byte("\r\n\r\n")); i >= 0 {
		msg = msg[:i+2]
	} else if bytes.HasPrefix(msg, []byte("\r\n")) {
		return nil
	}
	if maxLine(msg) <= MaxLineLen {
		return msg
	}
	var b bytes.Buffer
	for _, line := range strings.SplitAfter(string(msg), "\r\n") {
		line = strings.TrimSuffix(line, "\r\n")
		for len(line) > MaxLineLen {
			b.WriteString(line[:MaxLineLen-1] + "\r\n")
			line = " " + line[MaxLineLen-1:]
		}
		if line != "" {
			b.WriteString(line + "\r\n")
		}
	}
	return b.Bytes()
}

// encodeText returns the human-readable part's body and its transfer
// encoding: 7bit ("") when it is ASCII with short lines, quoted-printable
// otherwise.
func encodeText(text string) ([]byte, string) {
	body := toCRLF([]byte(text))
	if isASCII(text) && maxLine(body) <= MaxLineLen {
		return body, ""
	}
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	w.Write(body)
	w.Close()
	return toCRLF(b.Bytes()), "quoted-printable"
}
