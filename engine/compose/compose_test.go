package compose

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

const fixedKeys = "From,To,Subject,Date,Message-Id,Mime-Version"

func TestRender_TextOnly_IsSinglePartPlainText(t *testing.T) {
	tm := mustParse(t, Content{Subject: "Hello {{.name}}", Text: "Dear {{.name}},\nwelcome."})
	p := readMessage(t, mustRender(t, tm, testMessage(map[string]any{"name": "Bob"})))
	if got, want := keysOf(p), fixedKeys+",Content-Type,Content-Transfer-Encoding"; got != want {
		t.Errorf("fields = %s, want %s", got, want)
	}
	if got := p.order; len(got) != 1 || got[0] != "text/plain" {
		t.Fatalf("parts = %v, want [text/plain]", got)
	}
	if got, want := p.parts["text/plain"], "Dear Bob,\r\nwelcome.\r\n"; got != want {
		t.Errorf("text = %q, want %q", got, want)
	}
	if s, _ := p.header.Subject(); s != "Hello Bob" {
		t.Errorf("subject = %q", s)
	}
	if from, _ := p.header.AddressList("From"); len(from) != 1 || from[0].Name != "Shop" || from[0].Address != "news@shop.example" {
		t.Errorf("from = %v", from)
	}
	if d, _ := p.header.Date(); !d.Equal(testDate) {
		t.Errorf("date = %v, want %v", d, testDate)
	}
	if id, _ := p.header.MessageID(); !strings.HasSuffix(id, "@shop.example") || len(id) < 20 {
		t.Errorf("message-id = %q, want a random left side @shop.example", id)
	}
}

func TestRender_HTMLOnly_IsSinglePartHTML(t *testing.T) {
	tm := mustParse(t, Content{Subject: "s", HTML: "<p>Hi {{.name}}</p>"})
	p := readMessage(t, mustRender(t, tm, testMessage(map[string]any{"name": "Bob"})))
	if got := p.order; len(got) != 1 || got[0] != "text/html" {
		t.Fatalf("parts = %v, want [text/html]", got)
	}
	if got, want := p.parts["text/html"], "<p>Hi Bob</p>\r\n"; got != want {
		t.Errorf("html = %q, want %q", got, want)
	}
}

func TestRender_TextAndHTML_IsMultipartAlternativeTextFirst(t *testing.T) {
	tm := mustParse(t, Content{Subject: "s", Text: "Hi {{.name}}", HTML: "<b>Hi {{.name}}</b>"})
	b := mustRender(t, tm, testMessage(map[string]any{"name": "Bob"}))
	p := readMessage(t, b)
	if mt, _, _ := p.header.ContentType(); mt != "multipart/alternative" {
		t.Fatalf("content-type = %q", mt)
	}
	if got := strings.Join(p.order, ","); got != "text/plain,text/html" {
		t.Fatalf("parts = %s, want text/plain,text/html", got)
	}
	if p.parts["text/plain"] != "Hi Bob\r\n" || p.parts["text/html"] != "<b>Hi Bob</b>\r\n" {
		t.Errorf("parts = %q", p.parts)
	}
}

func TestRender_ExtraHeaders_AreTemplatedAndSorted(t *testing.T) {
	tm := mustParse(t, Content{Text: "x", Headers: map[string]string{
		"x-campaign":       "spring-{{.id}}",
		"List-Unsubscribe": "<https://shop.example/u/{{.id}}>",
	}})
	p := readMessage(t, mustRender(t, tm, testMessage(map[string]any{"id": 42})))
	if got, want := keysOf(p), fixedKeys+",List-Unsubscribe,X-Campaign,Content-Type,Content-Transfer-Encoding"; got != want {
		t.Errorf("fields = %s, want %s", got, want)
	}
	if got := p.header.Get("X-Campaign"); got != "spring-42" {
		t.Errorf("X-Campaign = %q", got)
	}
	if got := p.header.Get("List-Unsubscribe"); got != "<https://shop.example/u/42>" {
		t.Errorf("List-Unsubscribe = %q", got)
	}
}

func TestRender_NonASCIISubjectAndHeader_RoundTripThroughGoMessage(t *testing.T) {
	subjects := []string{
		"Grüße, {{.name}}!",
		"日本語の件名です、{{.name}}さん",
		"Ünïcödé " + strings.Repeat("ä", 200) + " and a tail",
		"Looks encoded =?utf-8?q?x?= {{.name}} é",
		"émoji 🎉🎉🎉 " + strings.Repeat("🎉", 60),
	}
	for _, s := range subjects {
		tm := mustParse(t, Content{Subject: s, Text: "x", Headers: map[string]string{"X-Note": s}})
		p := readMessage(t, mustRender(t, tm, testMessage(map[string]any{"name": "Zoë"})))
		want := strings.ReplaceAll(s, "{{.name}}", "Zoë")
		if got, err := p.header.Subject(); err != nil || got != want {
			t.Errorf("subject = %q, %v; want %q", got, err, want)
		}
		if got, err := p.header.Text("X-Note"); err != nil || got != want {
			t.Errorf("X-Note = %q, %v; want %q", got, err, want)
		}
	}
}

func TestRender_NonASCIIDisplayName_RoundTrips(t *testing.T) {
	tm := mustParse(t, Content{Text: "x"})
	m := testMessage(nil)
	m.From = "Café Zoë <news@shop.example>"
	m.To = `"Müller, Jörg" <j@example.org>`
	p := readMessage(t, mustRender(t, tm, m))
	from, err := p.header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != "Café Zoë" {
		t.Errorf("from = %v, %v", from, err)
	}
	to, err := p.header.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Name != "Müller, Jörg" || to[0].Address != "j@example.org" {
		t.Errorf("to = %v, %v", to, err)
	}
}

// injections are values a hostile or sloppy data source may put in a
// variable, hoping to end a header line early.
var injections = []string{
	"x\r\nBcc: evil@x",
	"x\nBcc: evil@x",
	"x\rBcc: evil@x",
	"\n\nbody",
	"\r\n\r\nbody",
	"x\r\n Bcc: folded",
	"x\u2028Bcc: evil@x",
	"x\u2029Bcc: evil@x",
	"x\u0085Bcc: evil@x",
	"x\x00\x0b\x0cBcc: evil@x",
	"x\r\n--=_sluice_\r\nContent-Type: text/html\r\n\r\nevil",
	"\xff\xfe\r\nBcc: evil@x",
	"=?utf-8?q?x=0D=0ABcc:_evil@x?=",
	strings.Repeat("A", 3000) + "\r\nBcc: evil@x",
}

// Reliability row 23.
func TestRender_HeaderInjectionInVars_NeverAddsHeaderOrPart(t *testing.T) {
	tm := mustParse(t, Content{
		Subject: "Hi {{.v}}",
		Text:    "text {{.v}}",
		HTML:    "<p>{{.v}}</p>",
		Headers: map[string]string{"X-Tag": "{{.v}}", "List-Unsubscribe": "<https://x.example/{{.v}}>"},
	})
	want := fixedKeys + ",List-Unsubscribe,X-Tag,Content-Type"
	for _, v := range injections {
		p := readMessage(t, mustRender(t, tm, testMessage(map[string]any{"v": v})))
		if got := keysOf(p); got != want {
			t.Errorf("var %q: fields = %s, want %s", v, got, want)
		}
		if got := strings.Join(p.order, ","); got != "text/plain,text/html" {
			t.Errorf("var %q: parts = %s, want text/plain,text/html", v, got)
		}
		for _, k := range []string{"Subject", "X-Tag"} {
			got, _ := p.header.Text(k)
			if strings.ContainsAny(got, "\r\n\u2028\u2029\u0085") {
				t.Errorf("var %q: %s = %q holds a line break", v, k, got)
			}
		}
	}
}

func TestRender_BodyVarsWithBreaks_KeptInBodyAsText(t *testing.T) {
	tm := mustParse(t, Content{Text: "a {{.v}} b"})
	v := "x\r\n--=_sluice_\r\nContent-Type: text/html\r\n\r\nevil"
	p := readMessage(t, mustRender(t, tm, testMessage(map[string]any{"v": v})))
	if got, want := p.parts["text/plain"], "a "+v+" b\r\n"; got != want {
		t.Errorf("text = %q, want %q", got, want)
	}
}

// Reliability row 23.
func TestRender_HeaderTemplateWithLiteralNewline_IsSanitised(t *testing.T) {
	tm := mustParse(t, Content{Subject: "line one\nline two", Text: "x", Headers: map[string]string{"X-A": "a\r\nX-B: b"}})
	p := readMessage(t, mustRender(t, tm, testMessage(nil)))
	if got, want := keysOf(p), fixedKeys+",X-A,Content-Type,Content-Transfer-Encoding"; got != want {
		t.Errorf("fields = %s, want %s", got, want)
	}
	if got, _ := p.header.Subject(); got != "line one line two" {
		t.Errorf("subject = %q", got)
	}
}

// Reliability row 23.
func TestRender_AddressWithLineBreak_IsErrorNamingField(t *testing.T) {
	tm := mustParse(t, Content{Text: "x"})
	for _, tc := range []struct{ from, to, part string }{
		{"news@shop.example", "bob@example.org\r\nBcc: evil@x", "to"},
		{"news@shop.example", "Bob\n <bob@example.org>", "to"},
		{"Shop\u2028 <news@shop.example>", "bob@example.org", "from"},
		{"not an address", "bob@example.org", "from"},
		{"news@shop.example", "=?utf-8?q?Bob=0D=0ABcc:_x?= <bob@example.org>", "to"},
		{"news@shop.example", "", "to"},
	} {
		m := testMessage(nil)
		m.From, m.To = tc.from, tc.to
		_, err := tm.Render(m)
		var ce *Error
		if !errors.As(err, &ce) || ce.Part != tc.part {
			t.Errorf("From %q To %q: err = %v, want an *Error for %q", tc.from, tc.to, err, tc.part)
		}
	}
}

func TestRender_HTMLVars_AreEscaped(t *testing.T) {
	tm := mustParse(t, Content{HTML: `<p title="{{.v}}">{{.v}}</p><a href="{{.u}}">x</a>`})
	p := readMessage(t, mustRender(t, tm, testMessage(map[string]any{
		"v": `<script>alert("x")</script>`, "u": "javascript:alert(1)",
	})))
	html := p.parts["text/html"]
	if strings.Contains(html, "<script>") || strings.Contains(html, "javascript:") {
		t.Errorf("html not escaped: %q", html)
	}
	if !strings.Contains(html, "&lt;script&gt;") {
		t.Errorf("html = %q, want the escaped text", html)
	}
}

func TestRender_QuotedPrintableBody_RoundTrips(t *testing.T) {
	bodies := []string{
		"plain ascii",
		"trailing spaces   \nand tabs\t\nequals = signs =3D and =\n",
		strings.Repeat("a long line without breaks ", 200),
		"From the start\n.\n..dot lines\n",
		"bare\rCR and bare\nLF and CRLF\r\n",
		"some non-ASCII: café, Straße, 日本",
		"ends with blank lines\n\n\n",
	}
	for _, body := range bodies {
		tm := mustParse(t, Content{Text: "{{.b}}"})
		b := mustRender(t, tm, testMessage(map[string]any{"b": body}))
		if !strings.Contains(string(b), "Content-Transfer-Encoding: quoted-printable") {
			t.Errorf("body %.20q: not quoted-printable", body)
		}
		p := readMessage(t, b)
		if got, want := p.parts["text/plain"], string(canonicalBody([]byte(body))); got != want {
			t.Errorf("round trip = %q, want %q", got, want)
		}
	}
}

func TestRender_MostlyNonASCIIBody_IsBase64AndRoundTrips(t *testing.T) {
	body := strings.Repeat("日本語のテキスト。", 100) + "\n二行目"
	tm := mustParse(t, Content{Text: "{{.b}}", HTML: "<p>{{.b}}</p>"})
	b := mustRender(t, tm, testMessage(map[string]any{"b": body}))
	if strings.Count(string(b), "Content-Transfer-Encoding: base64") != 2 {
		t.Errorf("want both parts base64:\n%s", b)
	}
	p := readMessage(t, b)
	if got, want := p.parts["text/plain"], string(canonicalBody([]byte(body))); got != want {
		t.Errorf("round trip = %q, want %q", got, want)
	}
}

func TestRender_UnbreakableLongHeader_StaysUnder998(t *testing.T) {
	long := strings.Repeat("x", 5000)
	tm := mustParse(t, Content{Subject: "{{.v}}", Text: "x", Headers: map[string]string{"X-Long": "a {{.v}} b"}})
	p := readMessage(t, mustRender(t, tm, testMessage(map[string]any{"v": long})))
	if got, _ := p.header.Subject(); got != long {
		t.Errorf("subject did not round-trip (len %d)", len(got))
	}
	if got, _ := p.header.Text("X-Long"); got != "a "+long+" b" {
		t.Errorf("X-Long did not round-trip (len %d)", len(got))
	}
}

func TestRender_LongASCIISubject_FoldsAtSpacesAndRoundTrips(t *testing.T) {
	subj := strings.Repeat("word ", 60) + "end"
	tm := mustParse(t, Content{Subject: subj, Text: "x"})
	b := mustRender(t, tm, testMessage(nil))
	for _, line := range strings.Split(string(b), "\r\n") {
		if len(line) > foldAt {
			t.Errorf("line longer than %d: %q", foldAt, line)
		}
	}
	p := readMessage(t, b)
	if got, _ := p.header.Subject(); got != subj {
		t.Errorf("subject = %q", got)
	}
}

func TestRender_MissingVar_FailsThatRecipientNamingPart(t *testing.T) {
	tm := mustParse(t, Content{Subject: "Hi {{.name}}", Text: "x", HTML: "<p>{{.city}}</p>", Headers: map[string]string{"X-Id": "{{.id}}"}})
	for _, tc := range []struct {
		vars map[string]any
		part string
	}{
		{map[string]any{"city": "c", "id": 1}, "subject"},
		{map[string]any{"name": "n", "city": "c"}, "headers[X-Id]"},
		{map[string]any{"name": "n", "id": 1}, "html"},
		{nil, "subject"},
	} {
		_, err := tm.Render(testMessage(tc.vars))
		var ce *Error
		if !errors.As(err, &ce) || ce.Part != tc.part || !strings.Contains(err.Error(), "no entry for key") {
			t.Errorf("vars %v: err = %v, want a missing-key *Error for %q", tc.vars, err, tc.part)
		}
	}
	if _, err := tm.Render(testMessage(map[string]any{"name": "n", "city": "c", "id": 1})); err != nil {
		t.Errorf("complete vars: %v", err)
	}
}

func TestRender_IndexOnMissingVar_IsOptional(t *testing.T) {
	tm := mustParse(t, Content{Subject: `Hi {{or (index . "nick") "friend"}}`, Text: "x"})
	p := readMessage(t, mustRender(t, tm, testMessage(nil)))
	if got, _ := p.header.Subject(); got != "Hi friend" {
		t.Errorf("subject = %q, want %q", got, "Hi friend")
	}
}

func TestParse_BadContent_ErrorNamesPart(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    Content
		part string
		msg  string
	}{
		{"subject syntax", Content{Subject: "Hi {{.name", Text: "x"}, "subject", "subject:1"},
		{"text syntax", Content{Text: "{{if}}"}, "text", "text:1"},
		{"html syntax", Content{HTML: "{{end}}"}, "html", "html:1"},
		{"html context", Content{HTML: `<a href="{{.u}}`}, "html", "html"},
		{"header syntax", Content{Text: "x", Headers: map[string]string{"X-Foo": "{{.a"}}, "headers[X-Foo]", "headers[X-Foo]:1"},
		{"header fixed", Content{Text: "x", Headers: map[string]string{"subject": "x"}}, "headers[subject]", "written by the composer"},
		{"header bad name", Content{Text: "x", Headers: map[string]string{"X Foo": "x"}}, "headers[X Foo]", "not allowed"},
		{"header name with colon", Content{Text: "x", Headers: map[string]string{"X-A:": "x"}}, "headers[X-A:]", "not allowed"},
		{"header name with CRLF", Content{Text: "x", Headers: map[string]string{"X-A\r\nBcc": "x"}}, "headers[X-A\r\nBcc]", "not allowed"},
		{"no body", Content{Subject: "s"}, "content", "need text"},
		{"raw and subject", Content{Subject: "s", RawMIME: []byte("From: a@b\r\n\r\nx")}, "content", "excludes"},
		{"raw without from", Content{RawMIME: []byte("Subject: s\r\n\r\nx")}, "raw_mime", "From"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.c)
			var ce *Error
			if !errors.As(err, &ce) || ce.Part != tc.part || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want an *Error for %q containing %q", err, tc.part, tc.msg)
			}
		})
	}
}

func TestParse_DuplicateHeaderNamesDifferingInCase_IsError(t *testing.T) {
	_, err := Parse(Content{Text: "x", Headers: map[string]string{"X-Foo": "a", "x-foo": "b"}})
	if err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("err = %v, want a duplicate error", err)
	}
}

func TestRender_RawMIME_ReturnedAsIsWithCRLF(t *testing.T) {
	tm := mustParse(t, Content{RawMIME: []byte("From: a@b.example\nSubject: {{.not_a_template}}\n\nbody\n")})
	if !tm.Raw() {
		t.Fatal("Raw() = false")
	}
	b := mustRender(t, tm, testMessage(map[string]any{"x": 1}))
	if want := "From: a@b.example\r\nSubject: {{.not_a_template}}\r\n\r\nbody\r\n"; string(b) != want {
		t.Errorf("raw = %q, want %q", b, want)
	}
}

func TestRender_MessageIDDomainAndDate_DefaultAndOverride(t *testing.T) {
	tm := mustParse(t, Content{Text: "x"})
	m := testMessage(nil)
	m.MessageIDDomain = "mta.example.net"
	m.Date = time.Time{}
	before := time.Now().Add(-time.Second)
	p := readMessage(t, mustRender(t, tm, m))
	if id, _ := p.header.MessageID(); !strings.HasSuffix(id, "@mta.example.net") {
		t.Errorf("message-id = %q", id)
	}
	if d, _ := p.header.Date(); d.Before(before) || d.After(time.Now().Add(time.Second)) {
		t.Errorf("zero Date rendered as %v, want now", d)
	}
	m.MessageIDDomain = "bad domain>"
	var ce *Error
	if _, err := tm.Render(m); !errors.As(err, &ce) || ce.Part != "message_id_domain" {
		t.Errorf("bad domain: err = %v", err)
	}
}

func TestRender_TwoRecipients_GetDistinctMessageIDs(t *testing.T) {
	tm := mustParse(t, Content{Text: "x", HTML: "y"})
	a := readMessage(t, mustRender(t, tm, testMessage(nil)))
	b := readMessage(t, mustRender(t, tm, testMessage(nil)))
	ida, _ := a.header.MessageID()
	idb, _ := b.header.MessageID()
	if ida == idb {
		t.Errorf("same Message-ID %q twice", ida)
	}
}

func TestRender_ConcurrentRecipientsOfOneTemplate_AreIndependent(t *testing.T) {
	tm := mustParse(t, Content{Subject: "Hi {{.n}}", Text: "t {{.n}}", HTML: "<p>{{.n}}</p>"})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := "user" + itoa(i)
			for range 50 {
				p := readMessage(t, mustRender(t, tm, testMessage(map[string]any{"n": name})))
				if s, _ := p.header.Subject(); s != "Hi "+name {
					t.Errorf("subject = %q, want %q", s, "Hi "+name)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestRender_RunawayTemplate_FailsRecipientInsteadOfExhaustingMemory(t *testing.T) {
	tm := mustParse(t, Content{Text: "{{range .n}}0123456789abcdef{{end}}"})
	_, err := tm.Render(testMessage(map[string]any{"n": MaxPartSize}))
	var ce *Error
	if !errors.As(err, &ce) || ce.Part != "text" || !errors.Is(err, errTooLarge) {
		t.Fatalf("err = %v, want a too-large *Error for text", err)
	}
}
