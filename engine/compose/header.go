package compose

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"
)

const (
	foldAt     = 78  // RFC 5322 2.1.1: lines SHOULD be at most 78 characters
	maxLine    = 998 // RFC 5322 2.1.1: lines MUST be at most 998 characters
	maxWordLen = 75  // RFC 2047 2: an encoded-word is at most 75 characters
)

// sanitizeValue makes a rendered header value safe to place after "Name: ":
// invalid UTF-8 becomes U+FFFD; every control character (CR and LF included),
// NEL and the Unicode line and paragraph separators become a space; leading
// and trailing spaces are trimmed. The result holds no byte that could end
// or fold a header line.
func sanitizeValue(s string) string {
	if !needsSanitizing(s) {
		return strings.TrimSpace(s)
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if isBreakingRune(r) {
			return ' '
		}
		return r
	}, s)
	return strings.Trim(s, " ")
}

func isBreakingRune(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == '\u2028' || r == '\u2029'
}

// needsSanitizing is the fast path: plain printable ASCII needs nothing.
func needsSanitizing(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// writeField writes "Name: value" CRLF, value already sanitised. A value with
// non-ASCII text, with a word too long to fold under 998 octets, or with
// "=?" is written as RFC 2047 encoded-words; the line is folded before
// spaces.
//
// NB: "=?" forces encoding because a variable may itself hold an
// encoded-word ("=?utf-8?q?x=0D=0ABcc:...?=") that a reader would decode
// into a line break; encoded again, it decodes to its literal text.
func writeField(b *bytes.Buffer, name, value string) {
	if !isASCII(value) || strings.Contains(value, "=?") || longestWord(value)+len(name)+2 > maxLine {
		value = encodeWords(value)
	}
	b.WriteString(name)
	b.WriteString(": ")
	fold(b, len(name)+2, value)
	b.WriteString("\r\n")
}

// writeAddressField writes a From or To field whose value formatAddress
// produced: already encoded where needed (an encoded-word may not appear in
// an addr-spec, so the value is never encoded again), only folded.
func writeAddressField(b *bytes.Buffer, name, value string) {
	b.WriteString(name)
	b.WriteString(": ")
	fold(b, len(name)+2, value)
	b.WriteString("\r\n")
}

func longestWord(s string) int {
	longest := 0
	for _, w := range strings.Split(s, " ") {
		longest = max(longest, len(w))
	}
	return longest
}

// fold writes value, starting at column col, inserting CRLF before a space
// whenever the next word would pass column 78. A continuation line therefore
// starts with white space and holds at least one non-space character.
func fold(b *bytes.Buffer, col int, value string) {
	for value != "" {
		// The next chunk is the run of spaces (none at the start) plus a word.
		i := 0
		for i < len(value) && value[i] == ' ' {
			i++
		}
		j := strings.IndexByte(value[i:], ' ')
		if j < 0 {
			j = len(value)
		} else {
			j += i
		}
		if i > 0 && col+j > foldAt {
			b.WriteString("\r\n")
			col = 0
		}
		b.WriteString(value[:j])
		col += j
		value = value[j:]
	}
}

// encodeWords encodes s as a sequence of UTF-8 encoded-words separated by
// spaces (which decoders drop between adjacent encoded-words), each at most
// 75 characters and split on rune boundaries. Mostly-ASCII text uses the Q
// encoding, which stays readable; other text uses B.
func encodeWords(s string) string {
	nonASCII := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			nonASCII++
		}
	}
	if nonASCII*3 > len(s) {
		return encodeB(s)
	}
	return encodeQ(s)
}

const (
	qPrefix = "=?utf-8?q?"
	bPrefix = "=?utf-8?b?"
	suffix  = "?="
)

func encodeB(s string) string {
	var out strings.Builder
	// 45 bytes of input -> 60 of base64: 10 + 60 + 2 = 72 <= 75.
	const chunk = 45
	for s != "" {
		n := min(chunk, len(s))
		for n < len(s) && !utf8.RuneStart(s[n]) {
			n--
		}
		if out.Len() > 0 {
			out.WriteByte(' ')
		}
		out.WriteString(bPrefix)
		out.WriteString(base64.StdEncoding.EncodeToString([]byte(s[:n])))
		out.WriteString(suffix)
		s = s[n:]
	}
	return out.String()
}

// qSafe reports whether c may appear literally in a Q-encoded word anywhere
// in a header (RFC 2047 5(3), the strictest context).
func qSafe(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '!' || c == '*' || c == '+' || c == '-' || c == '/'
}

func encodeQ(s string) string {
	const hex = "0123456789ABCDEF"
	const room = maxWordLen - len(qPrefix) - len(suffix)
	var out strings.Builder
	word := make([]byte, 0, room)
	flush := func() {
		if out.Len() > 0 {
			out.WriteByte(' ')
		}
		out.WriteString(qPrefix)
		out.Write(word)
		out.WriteString(suffix)
		word = word[:0]
	}
	for _, r := range s {
		var enc [4 * 3]byte
		n := 0
		var rb [utf8.UTFMax]byte
		for _, c := range rb[:utf8.EncodeRune(rb[:], r)] {
			switch {
			case c == ' ':
				enc[n] = '_'
				n++
			case qSafe(c):
				enc[n] = c
				n++
			default:
				enc[n], enc[n+1], enc[n+2] = '=', hex[c>>4], hex[c&15]
				n += 3
			}
		}
		if len(word)+n > room {
			flush()
		}
		word = append(word, enc[:n]...)
	}
	if len(word) > 0 || out.Len() == 0 {
		flush()
	}
	return out.String()
}

var errControl = errors.New("contains a control character")

// formatAddress parses one RFC 5322 address (with or without a display
// name) and formats it again, so that what is written is well formed. It
// returns the formatted address and its domain.
func formatAddress(s string) (string, string, error) {
	for _, r := range s {
		if isBreakingRune(r) {
			return "", "", fmt.Errorf("address %q: %w", s, errControl)
		}
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", "", fmt.Errorf("address %q: %w", s, err)
	}
	// NB: net/mail decodes encoded-words in the display name, so check the
	// decoded name too: "=?utf-8?q?x=0D=0A?=" must not come back as a break.
	if strings.IndexFunc(a.Name, isBreakingRune) >= 0 {
		return "", "", fmt.Errorf("address %q: display name %w", s, errControl)
	}
	at := strings.LastIndexByte(a.Address, '@')
	if at < 0 {
		return "", "", fmt.Errorf("address %q: no domain", s)
	}
	out := a.String()
	if a.Name == "" {
		out = out[1 : len(out)-1] // "<addr>" -> "addr", quoting kept
	}
	return out, a.Address[at+1:], nil
}

// checkDomain accepts a host name for the right side of a Message-ID.
func checkDomain(d string) error {
	if d == "" || len(d) > 253 {
		return fmt.Errorf("domain %q: want a host name", d)
	}
	for i := 0; i < len(d); i++ {
		c := d[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return fmt.Errorf("domain %q: want a host name (letters, digits, '-' and '.')", d)
		}
	}
	return nil
}
