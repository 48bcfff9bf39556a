package receive

import (
	"bytes"
	"strings"
	"time"
)

// Header field names this package reads and removes (compared case-insensitively).
const (
	HeaderVMTA     = "X-Sluice-VMTA"
	HeaderPool     = "X-Sluice-Pool"
	HeaderCampaign = "X-Sluice-Campaign"
)

// stamp is what rewriteHeaders adds to a message.
type stamp struct {
	// Received is the complete, already folded Received: field without its
	// final CRLF; it is prepended to the header block.
	Received string
	// MessageID is the value ("<...@host>") of the Message-ID: field added
	// when the message has none.
	MessageID string
	// Date is the time written into the Date: field added when the message
	// has none.
	Date time.Time
}

// directives are the values of the X-Sluice-* headers found in a message.
type directives struct {
	VMTA, Pool, Campaign string
}

// headerField is one field of the header block: its lines (each without a
// line terminator) and its name.
type headerField struct {
	name  string
	lines [][]byte
}

// rewriteHeaders returns msg with st.Received prepended, the X-Sluice-*
// fields removed (their values are returned; the first occurrence of each
// wins), and Message-ID: and Date: appended to the header block when missing.
//
// The header block is the run of header fields at the start of msg; it ends
// at the first empty line or at the first line that is neither a field nor a
// continuation. Output header lines end in CRLF and the block is always
// followed by an empty line (one is inserted when msg had none). Everything
// after the block (the body) is copied byte for byte.
//
// rewriteHeaders is pure and never fails; the caller normalises line endings
// first (see normalizeCRLF), so a CRLF-only input gives a CRLF-only output.
func rewriteHeaders(msg []byte, st stamp) ([]byte, directives) {
	fields, body := splitHeader(msg)

	var d directives
	var hasMsgID, hasDate bool
	out := make([]byte, 0, len(msg)+len(st.Received)+256)
	out = append(out, st.Received...)
	out = append(out, "\r\n"...)
	for _, f := range fields {
		var dst *string
		switch {
		case strings.EqualFold(f.name, HeaderVMTA):
			dst = &d.VMTA
		case strings.EqualFold(f.name, HeaderPool):
			dst = &d.Pool
		case strings.EqualFold(f.name, HeaderCampaign):
			dst = &d.Campaign
		case strings.EqualFold(f.name, "Message-ID"):
			hasMsgID = true
		case strings.EqualFold(f.name, "Date"):
			hasDate = true
		}
		if dst != nil {
			if *dst == "" {
				*dst = f.value()
			}
			continue
		}
		for _, l := range f.lines {
			out = append(out, l...)
			out = append(out, "\r\n"...)
		}
	}
	if !hasMsgID {
		out = append(out, "Message-ID: "+st.MessageID+"\r\n"...)
	}
	if !hasDate {
		out = append(out, "Date: "+st.Date.Format(time.RFC1123Z)+"\r\n"...)
	}
	out = append(out, "\r\n"...)
	out = append(out, body...)
	return out, d
}

// splitHeader parses the header block of msg and returns its fields and the
// body: the bytes after the empty line that ends the block, or, when the
// block ends at a line that is not a header line, the bytes from that line on.
// Only LF ends a line here; a CR just before it is dropped.
func splitHeader(msg []byte) ([]headerField, []byte) {
	var fields []headerField
	pos := 0
	for pos < len(msg) {
		next := len(msg)
		if i := bytes.IndexByte(msg[pos:], '\n'); i >= 0 {
			next = pos + i + 1
		}
		line := bytes.TrimSuffix(bytes.TrimSuffix(msg[pos:next], []byte("\n")), []byte("\r"))
		switch {
		case len(line) == 0: // empty line: end of the block
			return fields, msg[next:]
		case (line[0] == ' ' || line[0] == '\t') && len(fields) > 0:
			last := &fields[len(fields)-1]
			last.lines = append(last.lines, line)
		default:
			name, ok := fieldName(line)
			if !ok {
				return fields, msg[pos:]
			}
			fields = append(fields, headerField{name: name, lines: [][]byte{line}})
		}
		pos = next
	}
	return fields, nil
}

// headerCounts walks the header block of msg as splitHeader does, without
// allocating, and returns its line count (fields and continuation lines) and
// its number of Received: fields. It stops counting lines past stopAt, so
// that a giant header costs no more than the limit it breaks.
func headerCounts(msg []byte, stopAt int) (lines, received int) {
	pos, fields := 0, 0
	for pos < len(msg) && lines <= stopAt {
		next := len(msg)
		if i := bytes.IndexByte(msg[pos:], '\n'); i >= 0 {
			next = pos + i + 1
		}
		line := bytes.TrimSuffix(bytes.TrimSuffix(msg[pos:next], []byte("\n")), []byte("\r"))
		switch {
		case len(line) == 0:
			return lines, received
		case (line[0] == ' ' || line[0] == '\t') && fields > 0:
		default:
			i := bytes.IndexByte(line, ':')
			if i <= 0 || !validFieldName(bytes.TrimRight(line[:i], " \t")) {
				return lines, received
			}
			fields++
			if bytes.EqualFold(bytes.TrimRight(line[:i], " \t"), []byte("Received")) {
				received++
			}
		}
		lines++
		pos = next
	}
	return lines, received
}

// validFieldName reports whether name is printable US-ASCII without ':'.
func validFieldName(name []byte) bool {
	if len(name) == 0 {
		return false
	}
	for _, c := range name {
		if c < 33 || c > 126 {
			return false
		}
	}
	return true
}

// fieldName returns the name of the header field that starts with line:
// printable US-ASCII other than ':' and then ':', optionally after white space
// (the obsolete syntax of RFC 5322 4.5.3).
func fieldName(line []byte) (string, bool) {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return "", false
	}
	name := bytes.TrimRight(line[:i], " \t")
	if !validFieldName(name) {
		return "", false
	}
	return string(name), true
}

// value returns the unfolded, trimmed value of f.
func (f headerField) value() string {
	var b strings.Builder
	for i, l := range f.lines {
		if i == 0 {
			l = l[bytes.IndexByte(l, ':')+1:]
		}
		b.Write(l)
	}
	return strings.TrimSpace(b.String())
}

// normalizeCRLF returns b with every bare LF and every bare CR replaced by
// CRLF. It returns b itself when there is nothing to replace.
//
// NB: this is the package's answer to SMTP smuggling (CVE-2023-51764 class).
// go-smtp ends DATA only at <CRLF>.<CRLF>, so "<LF>.<LF>" or "<CR>.<CR>" arrive
// here as content; after normalisation they are ordinary "." lines that any
// later hop dot-stuffs to "..", so no downstream parser can be made to see an
// end of data that this server did not.
// crlfOnly reports whether every CR and every LF in b is part of a CRLF,
// the common case, with vectorised counts and one search per line: every LF
// preceded by a CR, and as many CRs as LFs.
func crlfOnly(b []byte) bool {
	if bytes.Count(b, []byte{'\r'}) != bytes.Count(b, []byte{'\n'}) {
		return false
	}
	for i := 0; ; i++ {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return true
		}
		if i += j; i == 0 || b[i-1] != '\r' {
			return false
		}
	}
}

func normalizeCRLF(b []byte) []byte {
	if crlfOnly(b) {
		return b
	}
	bare := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '\r':
			if i+1 < len(b) && b[i+1] == '\n' {
				i++
				continue
			}
			bare++
		case '\n':
			bare++
		}
	}
	out := make([]byte, 0, len(b)+bare)
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '\r':
			if i+1 < len(b) && b[i+1] == '\n' {
				i++
			}
			out = append(out, '\r', '\n')
		case '\n':
			out = append(out, '\r', '\n')
		default:
			out = append(out, c)
		}
	}
	return out
}
