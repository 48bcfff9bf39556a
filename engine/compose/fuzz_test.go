package compose

import (
	"strings"
	"testing"
)

// FuzzRender renders fuzzed variables (and a fuzzed display name) through a
// fixed template in each of the three shapes. It must never panic; its
// output must parse with go-message, keep the wire rules (CRLF only, lines
// <= 998), carry exactly the fixed fields plus the Content's Headers, and
// decode to the bodies the templates produced.
// Reliability row 22 and 23.
func FuzzRender(f *testing.F) {
	for _, v := range injections {
		f.Add(v, v, "Bob", uint8(2))
	}
	f.Add("Grüße", "日本語のテキスト", "Zoë", uint8(0))
	f.Add("=?utf-8?b?AA==?=", "", "\"q\\\"uoted\"", uint8(1))
	tmpls := [3]*Template{
		mustParse(f, Content{Subject: "S {{.a}}", Text: "T {{.b}}", Headers: map[string]string{"X-A": "{{.a}}", "List-Id": "<{{.b}}>"}}),
		mustParse(f, Content{Subject: "{{.b}}", HTML: "<p>{{.a}}</p>{{.b}}", Headers: map[string]string{"X-A": "{{.a}}", "List-Id": "<{{.b}}>"}}),
		mustParse(f, Content{Subject: "{{.a}}{{.b}}", Text: "{{.a}}", HTML: "<i>{{.b}}</i>", Headers: map[string]string{"X-A": "{{.a}}", "List-Id": "<{{.b}}>"}}),
	}
	wantParts := [3]string{"text/plain", "text/html", "text/plain,text/html"}
	f.Fuzz(func(t *testing.T, a, b, name string, shape uint8) {
		i := int(shape) % 3
		m := testMessage(map[string]any{"a": a, "b": b})
		m.To = name + " <bob@example.org>"
		out, err := tmpls[i].Render(m)
		if err != nil {
			var ok bool
			if ce, isCE := err.(*Error); isCE {
				ok = ce.Part == "to" // a display name that is not one
			}
			if !ok {
				t.Fatalf("Render: %v", err)
			}
			m.To = "bob@example.org"
			if out, err = tmpls[i].Render(m); err != nil {
				t.Fatalf("Render with a plain To: %v", err)
			}
		}
		p := readMessage(t, out)
		wantKeys := fixedKeys + ",List-Id,X-A,Content-Type"
		if i != 2 {
			wantKeys += ",Content-Transfer-Encoding"
		}
		if got := keysOf(p); got != wantKeys {
			t.Fatalf("fields = %s, want %s\n%s", got, wantKeys, out)
		}
		if got := strings.Join(p.order, ","); got != wantParts[i] {
			t.Fatalf("parts = %s, want %s\n%s", got, wantParts[i], out)
		}
		if i == 0 {
			if got, want := p.parts["text/plain"], string(canonicalBody([]byte("T "+b))); got != want {
				t.Fatalf("text = %q, want %q", got, want)
			}
		}
		if got, err := p.header.Text("X-A"); err != nil || got != sanitizeValue(a) {
			t.Fatalf("X-A = %q, %v; want %q", got, err, sanitizeValue(a))
		}
	})
}
