package compose

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"net/textproto"
	"sort"
	"strings"
	texttemplate "text/template"
)

// Content is what an injection asks to send: either templates (Subject, Text,
// HTML, Headers) or RawMIME, never both.
type Content struct {
	// Subject is a text/template for the Subject header; it may be empty.
	Subject string
	// Text is a text/template for the text/plain part.
	Text string
	// HTML is an html/template for the text/html part. At least one of Text
	// and HTML is required unless RawMIME is set.
	HTML string
	// Headers are extra header fields: name -> text/template for the value.
	// Names are literal; they may not repeat (case-insensitively) or name a
	// field this package writes itself.
	Headers map[string]string
	// RawMIME is a complete message (header and body) sent as is, with no
	// templating; its line endings are normalised to CRLF. It must have a
	// From field.
	RawMIME []byte
}

// Error reports what is wrong with one part of a Content or of a recipient's
// rendering. Part names the field as the API spells it: "subject", "text",
// "html", "headers[X-Foo]", "raw_mime", "content", "from", "to" or
// "message_id_domain".
type Error struct {
	Part string
	Err  error
}

func (e *Error) Error() string { return "compose: " + e.Part + ": " + e.Err.Error() }

// Unwrap returns the underlying error (a template error, for example).
func (e *Error) Unwrap() error { return e.Err }

// Template is a parsed Content, ready to Render once per recipient. It is
// immutable and safe for concurrent use.
type Template struct {
	subject  *texttemplate.Template
	text     *texttemplate.Template // nil when there is no text part
	html     *htmltemplate.Template // nil when there is no HTML part
	headers  []headerTemplate       // sorted by canonical name
	raw      []byte                 // non-nil for RawMIME content
	sizeHint int
}

type headerTemplate struct {
	name string // canonical form, as written
	tmpl *texttemplate.Template
}

// fixedHeaders are the fields Render writes itself, by canonical name.
var fixedHeaders = map[string]bool{
	"From": true, "To": true, "Subject": true, "Date": true, "Message-Id": true,
	"Mime-Version": true, "Content-Type": true, "Content-Transfer-Encoding": true,
}

// Parse checks and parses c. Every error is an *Error naming the part and
// carrying the template package's own message (with line and column).
func Parse(c Content) (*Template, error) {
	if c.RawMIME != nil {
		if c.Subject != "" || c.Text != "" || c.HTML != "" || len(c.Headers) > 0 {
			return nil, &Error{"content", errors.New("raw_mime excludes subject, text, html and headers")}
		}
		raw, err := parseRaw(c.RawMIME)
		if err != nil {
			return nil, &Error{"raw_mime", err}
		}
		return &Template{raw: raw}, nil
	}
	if c.Text == "" && c.HTML == "" {
		return nil, &Error{"content", errors.New("need text, html or raw_mime")}
	}
	t := &Template{sizeHint: 1024 + len(c.Subject) + 2*(len(c.Text)+len(c.HTML))}
	var err error
	if t.subject, err = parseText("subject", c.Subject); err != nil {
		return nil, err
	}
	if c.Text != "" {
		if t.text, err = parseText("text", c.Text); err != nil {
			return nil, err
		}
	}
	if c.HTML != "" {
		if t.html, err = parseHTML(c.HTML); err != nil {
			return nil, err
		}
	}
	if t.headers, err = parseHeaders(c.Headers); err != nil {
		return nil, err
	}
	for name, v := range c.Headers {
		t.sizeHint += len(name) + 2*len(v)
	}
	return t, nil
}

// Raw reports whether t came from RawMIME; Render then returns the same
// bytes for every recipient, so the caller may store them once.
func (t *Template) Raw() bool { return t.raw != nil }

func parseText(part, src string) (*texttemplate.Template, error) {
	tm, err := texttemplate.New(part).Option("missingkey=error").Parse(src)
	if err != nil {
		return nil, &Error{part, err}
	}
	return tm, nil
}

func parseHTML(src string) (*htmltemplate.Template, error) {
	tm, err := htmltemplate.New("html").Option("missingkey=error").Parse(src)
	if err != nil {
		return nil, &Error{"html", err}
	}
	// NB: html/template escapes (and finds context errors such as an
	// unterminated attribute) lazily, on the first Execute. Run it once now
	// with no data so those errors belong to Parse, not to some recipient;
	// an execution error (a missing key) is expected here and ignored.
	var escErr *htmltemplate.Error
	if err := tm.Execute(limitWriter{new(bytes.Buffer)}, nil); errors.As(err, &escErr) {
		return nil, &Error{"html", err}
	}
	return tm, nil
}

func parseHeaders(hs map[string]string) ([]headerTemplate, error) {
	out := make([]headerTemplate, 0, len(hs))
	seen := make(map[string]bool, len(hs))
	for name, src := range hs {
		part := "headers[" + name + "]"
		if err := checkFieldName(name); err != nil {
			return nil, &Error{part, err}
		}
		canon := textproto.CanonicalMIMEHeaderKey(name)
		if fixedHeaders[canon] {
			return nil, &Error{part, fmt.Errorf("%s is written by the composer; set it through its own field", name)}
		}
		if seen[canon] {
			return nil, &Error{part, errors.New("header named twice (names are case-insensitive)")}
		}
		seen[canon] = true
		tm, err := parseText(part, src)
		if err != nil {
			return nil, err
		}
		out = append(out, headerTemplate{name: canon, tmpl: tm})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// maxFieldName keeps "Name: " plus one encoded-word under 998 octets with room
// to spare; real field names are far shorter.
const maxFieldName = 76

// checkFieldName enforces RFC 5322 3.6.8: printable ASCII except colon.
func checkFieldName(name string) error {
	if name == "" {
		return errors.New("empty header name")
	}
	if len(name) > maxFieldName {
		return fmt.Errorf("header name longer than %d characters", maxFieldName)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 33 || c > 126 || c == ':' {
			return fmt.Errorf("header name %q: character %q not allowed", name, c)
		}
	}
	return nil
}

// parseRaw normalises line endings and checks that raw has a readable header
// with a From field.
func parseRaw(raw []byte) ([]byte, error) {
	raw = normalizeCRLF(raw)
	h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw))).ReadMIMEHeader()
	if err != nil && !(errors.Is(err, io.EOF) && len(h) > 0) {
		return nil, fmt.Errorf("cannot read the header: %w", err)
	}
	if strings.TrimSpace(h.Get("From")) == "" {
		return nil, errors.New("no From header field")
	}
	return raw, nil
}
