package compose

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	message "github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
)

// parsed is a rendered message as go-message reads it.
type parsed struct {
	header mail.Header
	keys   []string          // top-level field names, in order
	parts  map[string]string // decoded body by media type ("text/plain", "text/html")
	order  []string          // media types of the leaves, in order
}

var testDate = time.Date(2025, 3, 4, 9, 30, 0, 0, time.UTC)

func testMessage(vars map[string]any) Message {
	return Message{From: "Shop <news@shop.example>", To: "bob@example.org", Vars: vars, Date: testDate}
}

func mustParse(t testing.TB, c Content) *Template {
	t.Helper()
	tm, err := Parse(c)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return tm
}

func mustRender(t testing.TB, tm *Template, m Message) []byte {
	t.Helper()
	b, err := tm.Render(m)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return b
}

// readMessage parses b with go-message, failing the test on any error, and
// checks the wire rules every output must keep: CRLF only, lines <= 998.
func readMessage(t testing.TB, b []byte) parsed {
	t.Helper()
	if err := checkWire(b); err != "" {
		t.Fatalf("%s\n%s", err, b)
	}
	e, err := message.Read(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("go-message cannot read the message: %v\n%s", err, b)
	}
	p := parsed{header: mail.Header{Header: e.Header}, parts: map[string]string{}}
	for f := e.Header.Fields(); f.Next(); {
		p.keys = append(p.keys, f.Key())
	}
	err = e.Walk(func(_ []int, part *message.Entity, err error) error {
		if err != nil {
			return err
		}
		mt, _, _ := part.Header.ContentType()
		if strings.HasPrefix(mt, "multipart/") {
			return nil
		}
		body, err := io.ReadAll(part.Body)
		if err != nil {
			return err
		}
		p.parts[mt] = string(body)
		p.order = append(p.order, mt)
		return nil
	})
	if err != nil {
		t.Fatalf("walk: %v\n%s", err, b)
	}
	return p
}

// checkWire returns what breaks the wire rules, or "".
func checkWire(b []byte) string {
	for i, line := range bytes.Split(b, []byte("\r\n")) {
		if bytes.ContainsAny(line, "\r\n") {
			return "bare CR or LF in line " + itoa(i+1)
		}
		if len(line) > maxLine {
			return "line " + itoa(i+1) + " longer than 998"
		}
	}
	if !bytes.HasSuffix(b, []byte("\r\n")) {
		return "message does not end in CRLF"
	}
	return ""
}

func itoa(i int) string {
	var b [20]byte
	n := len(b)
	for {
		n--
		b[n] = byte('0' + i%10)
		if i /= 10; i == 0 {
			return string(b[n:])
		}
	}
}

func keysOf(p parsed) string { return strings.Join(p.keys, ",") }
