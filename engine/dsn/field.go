package dsn

import (
	"bytes"
	"fmt"
	"mime"
	"strings"
	"unicode/utf8"
)

// softLineLen is where writeField prefers to fold (RFC 5322 2.1.1 SHOULD).
const softLineLen = 78

// writeField writes "name: value" CRLF, folded so that no line exceeds
// MaxLineLen octets and, where white space allows, softLineLen.
//
// NB: a fold is a CRLF inserted before an existing space or tab, so
// unfolding (deleting the CRLF) gives back the value exactly. Only a run of
// more than MaxLineLen-1 octets without white space gets a fold with an
// added space.
func writeField(b *bytes.Buffer, name, value string) {
	line := name + ": " + value
	for len(line) > softLineLen {
		i := foldPoint(line, softLineLen)
		if i < 0 {
			i = firstSpaceAfter(line, softLineLen, MaxLineLen)
		}
		if i < 0 && len(line) <= MaxLineLen {
			break
		}
		if i < 0 {
			b.WriteString(line[:MaxLineLen-1])
			b.WriteString("\r\n")
			line = " " + line[MaxLineLen-1:]
			continue
		}
		b.WriteString(line[:i])
		b.WriteString("\r\n")
		line = line[i:]
	}
	b.WriteString(line)
	b.WriteString("\r\n")
}

// foldPoint returns the index of the white space at which line is best
// folded so that the first piece is at most limit octets and holds
// something other than white space; or -1 when there is none. A line
// shorter than limit still folds at its last usable white space when
// limit is the soft limit, so the caller passes limit < len(line).
func foldPoint(line string, limit int) int {
	if limit >= len(line) {
		limit = len(line) - 1
	}
	for i := limit; i > 0; i-- {
		if line[i] == ' ' || line[i] == '\t' {
			if strings.TrimLeft(line[:i], " \t") != "" {
				return i
			}
			return -1
		}
	}
	return -1
}

// firstSpaceAfter returns the index of the first space or tab in
// line[from:limit+1] with something other than white space before it, or
// -1.
func firstSpaceAfter(line string, from, limit int) int {
	for i := from; i <= limit && i < len(line); i++ {
		if (line[i] == ' ' || line[i] == '\t') && strings.TrimLeft(line[:i], " \t") != "" {
			return i
		}
	}
	return -1
}

// clean makes v a single line: CR, LF, tabs and other control characters
// become spaces, invalid UTF-8 becomes U+FFFD, and surrounding white space
// goes. A multi-line SMTP reply thereby becomes its lines joined by spaces.
func clean(v string) string {
	v = strings.ToValidUTF8(v, "\uFFFD")
	v = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, v)
	return strings.TrimSpace(v)
}

// isASCII reports whether s is all US-ASCII.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// headerText is v cleaned and, when not ASCII, RFC 2047 encoded.
func headerText(v string) string {
	v = clean(v)
	if isASCII(v) {
		return v
	}
	return mime.QEncoding.Encode("utf-8", v)
}

// typed splits "type; value" when v starts with an atom-like type, as in
// "rfc822; a@b", "dns;mx.example.com" or "X-Postfix; host said" (letters,
// digits and "-"). It
// returns the type lowercased and the trimmed value, or ok false.
func typed(v string) (typ, rest string, ok bool) {
	i := strings.IndexByte(v, ';')
	if i <= 0 {
		return "", v, false
	}
	t := strings.TrimSpace(v[:i])
	if t == "" {
		return "", v, false
	}
	for _, c := range t {
		if !(c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return "", v, false
		}
	}
	return strings.ToLower(t), strings.TrimSpace(v[i+1:]), true
}

// addressField renders an address for Original-Recipient and
// Final-Recipient: "rfc822; addr", or for a non-ASCII address the RFC 6533
// "utf-8; " type in utf-8-addr-xtext, which keeps the part ASCII. A value
// that already carries a type is kept (normalised to "type; value").
func addressField(v string) string {
	v = clean(v)
	if typ, rest, ok := typed(v); ok {
		return typ + "; " + rest
	}
	v = strings.TrimSuffix(strings.TrimPrefix(v, "<"), ">")
	if isASCII(v) {
		return "rfc822; " + v
	}
	return "utf-8; " + encodeUTF8Addr(v)
}

// encodeUTF8Addr encodes s as RFC 6533 utf-8-addr-xtext: printable ASCII
// other than "+", "=" and "\" as is, everything else as \x{HEX}.
func encodeUTF8Addr(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r > 0x20 && r < 0x7f && r != '+' && r != '=' && r != '\\' {
			b.WriteRune(r)
			continue
		}
		fmt.Fprintf(&b, `\x{%X}`, r)
	}
	return b.String()
}

// decodeUTF8Addr undoes encodeUTF8Addr; malformed escapes are kept as they
// are. Raw UTF-8 (as message/global-delivery-status allows) passes through.
func decodeUTF8Addr(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, `\x{`)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		s = s[i:]
		j := strings.IndexByte(s, '}')
		var r rune
		if j < 4 || j > 9 || !parseHexRune(s[3:j], &r) {
			b.WriteString(s[:3])
			s = s[3:]
			continue
		}
		b.WriteRune(r)
		s = s[j+1:]
	}
}

// parseHexRune parses 1 to 6 hex digits as a valid rune.
func parseHexRune(h string, r *rune) bool {
	var v rune
	for _, c := range h {
		switch {
		case c >= '0' && c <= '9':
			v = v*16 + c - '0'
		case c >= 'a' && c <= 'f':
			v = v*16 + c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = v*16 + c - 'A' + 10
		default:
			return false
		}
	}
	if !utf8.ValidRune(v) {
		return false
	}
	*r = v
	return true
}

// envelopeIDField renders an ENVID. RFC 3461 4.4 makes it printable ASCII;
// anything else (which an xtext-decoded value may contain) is re-encoded as
// xtext ("+HH") rather than refused, so an odd ENVID never stops a bounce.
func envelopeIDField(v string) string {
	ok := true
	for i := 0; i < len(v); i++ {
		if v[i] < 0x21 || v[i] > 0x7e {
			ok = false
			break
		}
	}
	if ok {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x21 || c > 0x7e || c == '+' || c == '=' {
			fmt.Fprintf(&b, "+%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
