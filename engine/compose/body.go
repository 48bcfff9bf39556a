package compose

import (
	"bytes"
	"encoding/base64"
	"mime/quotedprintable"
)

// normalizeCRLF rewrites every bare CR and bare LF in b to CRLF. It returns b
// itself when there is nothing to rewrite.
func normalizeCRLF(b []byte) []byte {
	if !hasBareBreak(b) {
		return b
	}
	out := make([]byte, 0, len(b)+len(b)/32+2)
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '\r' && i+1 < len(b) && b[i+1] == '\n':
			out = append(out, '\r', '\n')
			i++
		case c == '\r' || c == '\n':
			out = append(out, '\r', '\n')
		default:
			out = append(out, c)
		}
	}
	return out
}

func hasBareBreak(b []byte) bool {
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '\n':
			if i == 0 || b[i-1] != '\r' {
				return true
			}
		case '\r':
			if i+1 == len(b) || b[i+1] != '\n' {
				return true
			}
		}
	}
	return false
}

// canonicalBody is a part's text as the recipient will decode it: CRLF line
// endings, ending in CRLF.
func canonicalBody(text []byte) []byte {
	text = normalizeCRLF(text)
	if !bytes.HasSuffix(text, []byte("\r\n")) {
		text = append(text, '\r', '\n')
	}
	return text
}

// useBase64 picks base64 when more than a third of the bytes are not ASCII;
// quoted-printable would then be more than twice the size.
func useBase64(text []byte) bool {
	n := 0
	for _, c := range text {
		if c >= 0x80 {
			n++
		}
	}
	return n*3 > len(text)
}

// writePart writes the Content-Type and Content-Transfer-Encoding fields,
// the blank line and the encoded body of one text part. text must be
// canonical (canonicalBody). The encoded body ends in CRLF.
func writePart(b *bytes.Buffer, contentType string, text []byte) {
	b.WriteString("Content-Type: ")
	b.WriteString(contentType)
	b.WriteString("; charset=utf-8\r\n")
	if useBase64(text) {
		b.WriteString("Content-Transfer-Encoding: base64\r\n\r\n")
		writeBase64(b, text)
		return
	}
	b.WriteString("Content-Transfer-Encoding: quoted-printable\r\n\r\n")
	w := quotedprintable.NewWriter(b)
	_, _ = w.Write(text) // a bytes.Buffer does not fail
	_ = w.Close()
	// text ends in CRLF, so the encoding does too.
}

// writeBase64 writes text base64-encoded in lines of 76 characters.
func writeBase64(b *bytes.Buffer, text []byte) {
	const lineIn = 57 // 57 bytes -> 76 characters
	var line [76]byte
	for len(text) > 0 {
		n := min(lineIn, len(text))
		base64.StdEncoding.Encode(line[:], text[:n])
		b.Write(line[:base64.StdEncoding.EncodedLen(n)])
		b.WriteString("\r\n")
		text = text[n:]
	}
}
