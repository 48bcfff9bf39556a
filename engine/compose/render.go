package compose

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	texttemplate "text/template"
	"time"
)

// Message is one recipient's rendering of a Template.
type Message struct {
	// From is the From header: an address, with or without a display name
	// ("Shop <news@shop.example>").
	From string
	// To is the recipient's To header, in the same form as From.
	To string
	// Vars is the data of every template: {{.name}} is Vars["name"].
	Vars map[string]any
	// MessageIDDomain is the right side of the generated Message-ID; empty
	// means the From address's domain.
	MessageIDDomain string
	// Date is the Date header; zero means time.Now().
	Date time.Time
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// MaxPartSize caps what one template may produce for one recipient, so that
// a template such as {{range 1000000000}}...{{end}} fails the recipient
// instead of exhausting memory. The engine's own message size limit, which
// is smaller, applies to the rendered message afterwards.
const MaxPartSize = 32 << 20

var errTooLarge = fmt.Errorf("template output larger than %d bytes", MaxPartSize)

// limitWriter appends to a buffer until MaxPartSize and fails after that.
type limitWriter struct{ b *bytes.Buffer }

func (w limitWriter) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > MaxPartSize {
		return 0, errTooLarge
	}
	return w.b.Write(p)
}

// Render builds the complete message for m: header, then a text/plain,
// text/html or multipart/alternative body (see the package doc). For RawMIME
// content it returns the normalised raw message, the same slice for every
// recipient: callers must not modify it. Errors are *Error values naming the
// part; a template execution error (such as a variable the recipient lacks)
// concerns this recipient only.
func (t *Template) Render(m Message) ([]byte, error) {
	if t.raw != nil {
		return t.raw, nil
	}
	from, fromDomain, err := formatAddress(m.From)
	if err != nil {
		return nil, &Error{"from", err}
	}
	to, _, err := formatAddress(m.To)
	if err != nil {
		return nil, &Error{"to", err}
	}
	idDomain := m.MessageIDDomain
	if idDomain == "" {
		idDomain = fromDomain
	}
	if err := checkDomain(idDomain); err != nil {
		return nil, &Error{"message_id_domain", err}
	}
	date := m.Date
	if date.IsZero() {
		date = time.Now()
	}

	scratch := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(scratch)
	b := bytes.NewBuffer(make([]byte, 0, t.sizeHint))

	writeAddressField(b, "From", from)
	writeAddressField(b, "To", to)
	subject, err := execText(scratch, t.subject, m.Vars, "subject")
	if err != nil {
		return nil, err
	}
	writeField(b, "Subject", sanitizeValue(subject))
	writeField(b, "Date", date.Format(time.RFC1123Z))
	writeField(b, "Message-ID", "<"+randomToken(16)+"@"+idDomain+">")
	b.WriteString("MIME-Version: 1.0\r\n")
	for _, h := range t.headers {
		v, err := execText(scratch, h.tmpl, m.Vars, "headers["+h.name+"]")
		if err != nil {
			return nil, err
		}
		writeField(b, h.name, sanitizeValue(v))
	}
	if err := t.writeBody(b, scratch, m.Vars); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeBody writes the content fields, the blank line and the body.
func (t *Template) writeBody(b, scratch *bytes.Buffer, vars map[string]any) error {
	var text, html []byte
	if t.text != nil {
		scratch.Reset()
		if err := t.text.Execute(limitWriter{scratch}, vars); err != nil {
			return &Error{"text", err}
		}
		text = canonicalBody(append([]byte(nil), scratch.Bytes()...))
	}
	if t.html != nil {
		scratch.Reset()
		if err := t.html.Execute(limitWriter{scratch}, vars); err != nil {
			return &Error{"html", err}
		}
		html = canonicalBody(append([]byte(nil), scratch.Bytes()...))
	}
	switch {
	case t.html == nil:
		writePart(b, "text/plain", text)
	case t.text == nil:
		writePart(b, "text/html", html)
	default:
		// NB: the boundary starts with "=_": quoted-printable writes "=" as
		// "=3D" and base64 has no "_", so no encoded part can contain it.
		boundary := "=_sluice_" + randomToken(12)
		b.WriteString("Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n\r\n")
		b.WriteString("--" + boundary + "\r\n")
		writePart(b, "text/plain", text)
		b.WriteString("\r\n--" + boundary + "\r\n")
		writePart(b, "text/html", html)
		b.WriteString("\r\n--" + boundary + "--\r\n")
	}
	return nil
}

// execText runs a header template and returns its output.
func execText(scratch *bytes.Buffer, tm *texttemplate.Template, vars map[string]any, part string) (string, error) {
	scratch.Reset()
	if err := tm.Execute(limitWriter{scratch}, vars); err != nil {
		return "", &Error{part, err}
	}
	return scratch.String(), nil
}

// randomToken returns n random bytes in hex.
func randomToken(n int) string {
	var buf [32]byte
	_, _ = rand.Read(buf[:n]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(buf[:n])
}
