package dsn

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
)

var (
	testNow     = time.Date(2025, 3, 4, 9, 30, 0, 0, time.UTC)
	testArrival = testNow.Add(-2 * time.Hour)
)

const testOriginal = "Received: from app.platform.example\r\n\tby mta1.sluice.example; Tue, 04 Mar 2025 07:30:00 +0000\r\n" +
	"From: News <news@platform.example>\r\nTo: jdoe@example.com\r\nSubject: March offers\r\n" +
	"Message-ID: <c77.1@platform.example>\r\n\r\nHello,\r\nthis is the body.\r\n"

// testReport returns a report with one failed recipient, for tests to vary.
func testReport() *Report {
	return &Report{
		ReportingMTA:    "mta1.sluice.example",
		ArrivalDate:     testArrival,
		To:              "bounces@platform.example",
		OriginalHeaders: []byte(testOriginal[:strings.Index(testOriginal, "\r\n\r\n")+2]),
		Now:             testNow,
		Recipients: []Recipient{{
			Final:       "jdoe@example.com",
			Action:      ActionFailed,
			Status:      "5.1.1",
			RemoteMTA:   "mx1.example.com",
			Diagnostic:  "550 5.1.1 <jdoe@example.com>: Recipient address rejected: User unknown",
			LastAttempt: testNow.Add(-time.Minute),
		}},
	}
}

// delayed is a delayed recipient with a retry horizon.
var delayed = Recipient{
	Original:       "slow@example.org",
	Final:          "slow@example.org",
	Action:         ActionDelayed,
	Status:         "4.4.1",
	RemoteMTA:      "mx.example.org",
	Diagnostic:     "421 4.4.1 connection timed out",
	LastAttempt:    testNow.Add(-5 * time.Minute),
	WillRetryUntil: testNow.Add(46 * time.Hour),
}

func TestBuildParse_RoundTrip_KeepsEveryField(t *testing.T) {
	tests := []struct {
		name   string
		modify func(r *Report)
	}{
		{"failed, headers only, no ENVID", func(r *Report) {}},
		{"failed with ENVID and ORCPT", func(r *Report) {
			r.EnvelopeID = "job-42.batch-7"
			r.Recipients[0].Original = "jdoe@example.com"
		}},
		{"delayed only", func(r *Report) { r.Recipients = []Recipient{delayed} }},
		{"RET=FULL returns the whole message", func(r *Report) { r.OriginalMessage = []byte(testOriginal) }},
		{"multi-recipient failed and delayed", func(r *Report) {
			r.EnvelopeID = "env-1"
			r.Recipients = append(r.Recipients, delayed, Recipient{
				Final: "gone@example.net", Action: ActionFailed, Status: "4.4.7", LastAttempt: testNow,
			})
		}},
		{"delivered with no original", func(r *Report) {
			r.OriginalHeaders = nil
			r.Recipients = []Recipient{{Final: "ok@example.com", Action: ActionDelivered, Status: "2.0.0",
				RemoteMTA: "mx.example.com", Diagnostic: "250 2.0.0 OK queued as 12345"}}
		}},
		{"explicit From and Message-ID", func(r *Report) {
			r.From = "postmaster@mta1.sluice.example"
			r.MessageID = "dsn-1@mta1.sluice.example"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := testReport()
			tt.modify(in)
			out, err := Build(in)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			got, err := Parse(out)
			if err != nil {
				t.Fatalf("Parse: %v\n%s", err, out)
			}
			want := *in
			if want.From == "" {
				want.From = "MAILER-DAEMON@" + in.ReportingMTA
			}
			if want.MessageID == "" {
				want.MessageID = strings.Trim(messageID(in), "<>")
			}
			got.MessageID = strings.Trim(got.MessageID, "<>")
			if want.OriginalMessage != nil {
				want.OriginalHeaders = nil
			}
			assertReport(t, got, &want)
		})
	}
}

// assertReport compares two reports field by field, times by instant.
func assertReport(t *testing.T, got, want *Report) {
	t.Helper()
	eqs := []struct{ field, got, want string }{
		{"ReportingMTA", got.ReportingMTA, want.ReportingMTA},
		{"EnvelopeID", got.EnvelopeID, want.EnvelopeID},
		{"From", got.From, want.From},
		{"To", got.To, want.To},
		{"MessageID", got.MessageID, want.MessageID},
		{"OriginalHeaders", string(got.OriginalHeaders), string(want.OriginalHeaders)},
		{"OriginalMessage", string(got.OriginalMessage), string(want.OriginalMessage)},
	}
	for _, e := range eqs {
		if e.got != e.want {
			t.Errorf("%s = %q, want %q", e.field, e.got, e.want)
		}
	}
	if !got.ArrivalDate.Equal(want.ArrivalDate) || !got.Now.Equal(want.Now) {
		t.Errorf("ArrivalDate, Now = %v, %v; want %v, %v", got.ArrivalDate, got.Now, want.ArrivalDate, want.Now)
	}
	if len(got.Recipients) != len(want.Recipients) {
		t.Fatalf("%d recipients, want %d: %+v", len(got.Recipients), len(want.Recipients), got.Recipients)
	}
	for i, g := range got.Recipients {
		w := want.Recipients[i]
		if w.Action != ActionDelayed {
			w.WillRetryUntil = time.Time{}
		}
		if g.Original != w.Original || g.Final != w.Final || g.Action != w.Action || g.Status != w.Status ||
			g.RemoteMTA != w.RemoteMTA || g.Diagnostic != w.Diagnostic ||
			!g.LastAttempt.Equal(w.LastAttempt) || !g.WillRetryUntil.Equal(w.WillRetryUntil) {
			t.Errorf("recipient %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func TestBuild_ParsesWithGoMessage_AsMultipartReport(t *testing.T) {
	for _, full := range []bool{false, true} {
		r := testReport()
		r.Recipients = append(r.Recipients, delayed)
		wantThird := "text/rfc822-headers"
		if full {
			r.OriginalMessage = []byte(testOriginal)
			wantThird = "message/rfc822"
		}
		out, err := Build(r)
		if err != nil {
			t.Fatal(err)
		}
		e, err := message.Read(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("go-message: %v", err)
		}
		mt, params, err := e.Header.ContentType()
		if err != nil || mt != "multipart/report" || params["report-type"] != "delivery-status" {
			t.Fatalf("Content-Type = %q %v (%v)", mt, params, err)
		}
		if got := e.Header.Get("Auto-Submitted"); got != "auto-replied" {
			t.Errorf("Auto-Submitted = %q", got)
		}
		mr := e.MultipartReader()
		var types []string
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("NextPart: %v", err)
			}
			pt, _, _ := p.Header.ContentType()
			types = append(types, pt)
			body, _ := io.ReadAll(p.Body)
			if pt == "text/plain" && !bytes.Contains(body, []byte("jdoe@example.com")) {
				t.Errorf("notification does not name the recipient:\n%s", body)
			}
			if pt == "message/rfc822" && string(body) != testOriginal {
				t.Errorf("returned message = %q, want %q", body, testOriginal)
			}
		}
		want := []string{"text/plain", "message/delivery-status", wantThird}
		if strings.Join(types, ",") != strings.Join(want, ",") {
			t.Errorf("full=%v: parts %v, want %v", full, types, want)
		}
	}
}

func TestBuild_EveryLineIsCRLFAndAtMost998Octets(t *testing.T) {
	r := testReport()
	r.EnvelopeID = strings.Repeat("E", 1200)
	r.Recipients[0].Diagnostic = "550 5.7.1 " + strings.Repeat("word ", 400) + strings.Repeat("x", 2500)
	r.Recipients = append(r.Recipients, delayed)
	r.OriginalMessage = []byte("Subject: long\n\n" + strings.Repeat("y", 1500) + "\n")
	out, err := Build(r)
	if err != nil {
		t.Fatal(err)
	}
	assertLines(t, out)
	got, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	if got.OriginalMessage != nil || !bytes.HasPrefix(got.OriginalHeaders, []byte("Subject: long")) {
		t.Errorf("a message with over-long lines should come back as headers only, got %q / %q",
			got.OriginalMessage, got.OriginalHeaders)
	}
	if d := got.Recipients[0].Diagnostic; !strings.HasPrefix(d, "550 5.7.1 word word") || len(d) < 4500 {
		t.Errorf("long diagnostic lost: %.80q... (%d octets)", d, len(d))
	}
}

// assertLines fails unless every line of out ends in CRLF and has at most
// MaxLineLen octets.
func assertLines(t *testing.T, out []byte) {
	t.Helper()
	if !bytes.HasSuffix(out, []byte("\r\n")) {
		t.Fatal("output does not end in CRLF")
	}
	for i, line := range bytes.SplitAfter(out, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if !bytes.HasSuffix(line, []byte("\r\n")) || bytes.Contains(line[:len(line)-2], []byte("\r")) {
			t.Fatalf("line %d is not CRLF-terminated: %q", i+1, line)
		}
		if n := len(line) - 2; n > MaxLineLen {
			t.Fatalf("line %d has %d octets", i+1, n)
		}
	}
}

func TestBuild_NonASCII_IsEncodedInHeadersAndStatus(t *testing.T) {
	r := testReport()
	r.Recipients[0].Diagnostic = "550 5.1.1 Benutzer unbekannt – Postfach gelöscht"
	r.Recipients = append(r.Recipients, Recipient{Final: "jörg@bücher.example", Action: ActionFailed, Status: "5.1.1"})
	out, err := Build(r)
	if err != nil {
		t.Fatal(err)
	}
	assertLines(t, out)
	head, body, _ := bytes.Cut(out, []byte("\r\n\r\n"))
	if !isASCII(string(head)) {
		t.Errorf("non-ASCII in the header block:\n%s", head)
	}
	status := body[bytes.Index(body, []byte("Reporting-MTA")):]
	status = status[:bytes.Index(status, []byte("\r\n--"))]
	if !isASCII(string(status)) {
		t.Errorf("non-ASCII in message/delivery-status:\n%s", status)
	}
	if !bytes.Contains(status, []byte(`Final-Recipient: utf-8; j\x{F6}rg@b\x{FC}cher.example`)) {
		t.Errorf("UTF-8 recipient not in RFC 6533 form:\n%s", status)
	}
	got, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	if got.Recipients[0].Diagnostic != r.Recipients[0].Diagnostic || got.Recipients[1].Final != "jörg@bücher.example" {
		t.Errorf("round trip: %+v", got.Recipients)
	}
}

func TestBuild_MultiLineReply_IsJoinedOnOneField(t *testing.T) {
	r := testReport()
	r.Recipients[0].Diagnostic = "550-5.7.1 first line\r\n550 5.7.1 second line"
	out, err := Build(r)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := Parse(out)
	if d := got.Recipients[0].Diagnostic; d != "550-5.7.1 first line  550 5.7.1 second line" {
		t.Errorf("Diagnostic = %q", d)
	}
}

func TestBuild_Subject_FollowsMostSevereAction(t *testing.T) {
	tests := []struct {
		actions []string
		want    string
	}{
		{[]string{ActionFailed}, SubjectFailed},
		{[]string{ActionDelayed}, SubjectDelayed},
		{[]string{ActionDelayed, ActionFailed}, SubjectFailed},
		{[]string{ActionDelivered, ActionDelayed}, SubjectDelayed},
		{[]string{ActionDelivered, ActionRelayed}, SubjectDelivered},
	}
	for _, tt := range tests {
		r := testReport()
		r.Recipients = nil
		for _, a := range tt.actions {
			r.Recipients = append(r.Recipients, Recipient{Final: "a@example.com", Action: a, Status: "2.0.0"})
		}
		out, err := Build(r)
		if err != nil {
			t.Fatal(err)
		}
		h, err := textproto.ReadHeader(bufioReader(out))
		if err != nil {
			t.Fatal(err)
		}
		if got := h.Get("Subject"); got != tt.want {
			t.Errorf("%v: Subject = %q, want %q", tt.actions, got, tt.want)
		}
	}
}

func TestBuild_SameReport_SameBytes(t *testing.T) {
	a, _ := Build(testReport())
	b, _ := Build(testReport())
	if !bytes.Equal(a, b) {
		t.Error("Build is not deterministic")
	}
	r := testReport()
	r.Recipients[0].Final = "other@example.com"
	c, _ := Build(r)
	if messageID(r) == messageID(testReport()) || bytes.Equal(a, c) {
		t.Error("different reports got the same Message-ID")
	}
}

func TestChooseBoundary_SkipsABoundaryFoundInAPart(t *testing.T) {
	r := testReport()
	first := chooseBoundary(r)
	second := chooseBoundary(r, []byte("text\r\n--"+first+"\r\n"))
	if second == first {
		t.Fatal("boundary occurring in a part was chosen")
	}
	r.OriginalMessage = []byte("Subject: x\r\n\r\n--" + first + "--\r\n")
	out, err := Build(r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(out)
	if err != nil || string(got.OriginalMessage) != string(r.OriginalMessage) {
		t.Errorf("original with a boundary-like line: %v %q", err, got.OriginalMessage)
	}
}

func TestBuild_InvalidReport_IsRefusedWithReason(t *testing.T) {
	tests := []struct {
		name   string
		modify func(r *Report)
	}{
		{"null sender", func(r *Report) { r.To = "<>" }},
		{"no recipients", func(r *Report) { r.Recipients = nil }},
		{"unknown action", func(r *Report) { r.Recipients[0].Action = "bounced" }},
		{"bad status", func(r *Report) { r.Recipients[0].Status = "550" }},
		{"zero Now", func(r *Report) { r.Now = time.Time{} }},
		{"no reporting MTA", func(r *Report) { r.ReportingMTA = "" }},
		{"header injection in To", func(r *Report) { r.To = "a@b\r\nBcc: x@y" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testReport()
			tt.modify(r)
			if _, err := Build(r); !errors.Is(err, ErrInvalid) {
				t.Errorf("err = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestWriteField_FoldsAtWhiteSpaceAndUnfoldsExactly(t *testing.T) {
	values := []string{
		"short",
		strings.Repeat("abc ", 60),
		"x" + strings.Repeat(" ", 100) + "y",
		strings.Repeat("z", 3000),
	}
	for _, v := range values {
		var b bytes.Buffer
		writeField(&b, "Diagnostic-Code", v)
		assertLines(t, b.Bytes())
		unfolded := strings.TrimSuffix(strings.ReplaceAll(b.String(), "\r\n ", " "), "\r\n")
		unfolded = strings.ReplaceAll(unfolded, "\r\n", "")
		if len(v) < MaxLineLen && unfolded != "Diagnostic-Code: "+v {
			t.Errorf("unfolded %q, want %q", unfolded, v)
		}
	}
}

// bufioReader wraps p for textproto.ReadHeader.
func bufioReader(p []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(p)) }
