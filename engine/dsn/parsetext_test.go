package dsn

import (
	"errors"
	"strings"
	"testing"
)

// textRcpt is what a table test expects of one heuristic recipient.
type textRcpt struct {
	final, action, status string
	diag                  string // a substring of Diagnostic; "" wants it empty
	mta                   string
}

func checkTextRcpts(t *testing.T, r *Report, want []textRcpt) {
	t.Helper()
	if len(r.Recipients) != len(want) {
		t.Fatalf("recipients: got %+v, want %d", r.Recipients, len(want))
	}
	for i, w := range want {
		got := r.Recipients[i]
		if got.Final != w.final || got.Action != w.action || got.Status != w.status || got.RemoteMTA != w.mta {
			t.Errorf("recipient %d: got %q %s %s mta=%q, want %q %s %s mta=%q",
				i, got.Final, got.Action, got.Status, got.RemoteMTA, w.final, w.action, w.status, w.mta)
		}
		if (w.diag == "") != (got.Diagnostic == "") || !strings.Contains(got.Diagnostic, w.diag) {
			t.Errorf("recipient %d: diagnostic %q, want it to contain %q", i, got.Diagnostic, w.diag)
		}
	}
}

func TestParseText_ForeignBounces(t *testing.T) {
	tests := []struct {
		file      string
		reporting string
		origID    string // the original's Message-ID; "" when the bounce returns none
		rcpts     []textRcpt
	}{
		{"qmail.eml", "mail.example.net", "<campaign-77.4711@sender.example>", []textRcpt{
			{"bob@example.com", "failed", "5.1.1", "550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown in local recipient table", ""},
			{"robert@example.com", "failed", "5.1.1", "Sorry, no mailbox here by that name. (#5.1.1)", ""},
		}},
		{"exim-text.eml", "", "<campaign-77.123@sender.example>", []textRcpt{
			{"alice@example.org", "failed", "5.1.1", "550 5.1.1 <alice@example.org>: Recipient address rejected: User unknown", "mx.example.org"},
		}},
		{"exim-delay-text.eml", "mx.exim-host.example", "", []textRcpt{
			{"bob@example.net", "delayed", "4.7.1", "451 4.7.1 <bob@example.net>: Recipient address rejected: Greylisted", "mx.example.net"},
		}},
		{"yahoo-text.eml", "", "<campaign-77.4714@sender.example>", []textRcpt{
			{"carol@example.com", "failed", "5.0.0", "554: delivery error: dd This user doesn't have a example.com account", ""},
		}},
		{"postfix-text-only.eml", "mail.example.net", "<campaign-77.4715@sender.example>", []textRcpt{
			{"jdoe@example.com", "failed", "5.1.1", "550 5.1.1 <jdoe@example.com>: Recipient address rejected: User unknown in virtual mailbox table", "mx1.example.com"},
			{"info@example.org", "failed", "5.0.0", "connect to mx.example.org[198.51.100.7]:25: Connection timed out", ""},
		}},
		{"postfix-delay-text.eml", "mail.example.net", "", []textRcpt{
			{"gina@example.com", "delayed", "4.2.2", "452 4.2.2 <gina@example.com>: Mailbox full, try again later (in reply to RCPT TO command)", "mx.example.com"},
		}},
		{"old-gmail.eml", "", "<campaign-77.4713@sender.example>", []textRcpt{
			{"dave@example.com", "failed", "5.1.1", "550-5.1.1 The email account that you tried to reach does not exist.", "mx.example.com"},
		}},
		{"exchange-ndr.eml", "EXCH01.corp.example.net", "<campaign-77.4716@sender.example>", []textRcpt{
			{"erin@example.com", "failed", "5.1.10", "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", ""},
		}},
		{"office365-ndr.eml", "AM0PR01MB1234.eurprd01.prod.exchangelabs.com", "<campaign-77.4717@sender.example>", []textRcpt{
			{"frank@example.com", "failed", "5.1.10", "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient frank@example.com not found", ""},
		}},
		{"exchange2003-ndr.eml", "", "<campaign-77.4718@sender.example>", []textRcpt{
			{"grace@example.com", "failed", "5.1.1", "The e-mail account does not exist at the organization", ""},
		}},
		{"lotus-notes.eml", "", "", []textRcpt{
			{"henry@example.com", "failed", "5.0.0", "User henry (henry@example.com) not listed in Domino Directory", ""},
		}},
		{"sendmail-text.eml", "", "<campaign-77.4719@sender.example>", []textRcpt{
			{"kate@example.com", "failed", "5.1.1", "550 5.1.1 <kate@example.com>... User unknown", "mx.example.com"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r, err := ParseText(readSample(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if !r.Heuristic {
				t.Error("Heuristic not set")
			}
			if r.ReportingMTA != tt.reporting || r.From == "" || r.To == "" || r.Now.IsZero() {
				t.Errorf("per-message: reporting %q from %q to %q date %v", r.ReportingMTA, r.From, r.To, r.Now)
			}
			if got := r.OriginalHeader("message-id"); got != tt.origID {
				t.Errorf("original Message-ID %q, want %q", got, tt.origID)
			}
			checkTextRcpts(t, r, tt.rcpts)
		})
	}
}

func TestParseText_Malformed_ReturnsAnError(t *testing.T) {
	for _, file := range []string{"malformed-truncated.eml", "malformed-binary.eml"} {
		t.Run(file, func(t *testing.T) {
			msg := readSample(t, file)
			for name, parse := range map[string]func([]byte) (*Report, error){"ParseText": ParseText, "ParseAny": ParseAny} {
				if r, err := parse(msg); err == nil || r != nil {
					t.Errorf("%s = %+v, %v; want an error", name, r, err)
				}
			}
		})
	}
	if _, err := ParseText(readSample(t, "malformed-truncated.eml")); !errors.Is(err, ErrNotDSN) {
		t.Errorf("truncated bounce: err = %v, want ErrNotDSN", err)
	}
}

func TestParseText_OrdinaryMessages_AreNotBounces(t *testing.T) {
	for name, msg := range map[string]string{
		"plain":      "From: a@example.com\r\nSubject: hi\r\n\r\nhello\r\n",
		"no body":    "From: a@example.com\r\nSubject: hi\r\n",
		"newsletter": "From: news@sender.example\nSubject: Team list\n\nOur team:\n  bob@example.com\n  <carol@example.com>: sales\n",
		"bounce-like words but no address": "From: MAILER-DAEMON@mail.example.net\nSubject: Undelivered Mail\n\n" +
			"Your message could not be delivered.\n",
		"only the sender's own address": "From: MAILER-DAEMON@mail.example.net\nTo: bounces@sender.example\n" +
			"Subject: failure notice\n\n<bounces@sender.example>:\n550 5.1.1 no\n",
	} {
		t.Run(name, func(t *testing.T) {
			if r, err := ParseText([]byte(msg)); !errors.Is(err, ErrNotDSN) {
				t.Errorf("got %+v, %v; want ErrNotDSN", r, err)
			}
		})
	}
}

func TestParseText_OtherShapes(t *testing.T) {
	tests := []struct {
		name, msg string
		want      []textRcpt
	}{
		{"GroupWise, address with a reason in brackets",
			"From: postmaster@gw.example.net\nSubject: Undeliverable mail\n\n" +
				"The message that you sent was undeliverable to the following:\n\tivan@example.com (user not found)\n",
			[]textRcpt{{"ivan@example.com", "failed", "5.0.0", "user not found", ""}}},
		{"delivery-status fields pasted into the text",
			"From: MAILER-DAEMON@relay.example.net\nSubject: Returned mail\n\nReporting-MTA: dns; relay.example.net\n\n" +
				"Final-Recipient: rfc822; <judy@example.com>\nAction: failed\nStatus: 5.2.1\n" +
				"Diagnostic-Code: smtp; 550 5.2.1 mailbox disabled\n\n" +
				"Final-Recipient: rfc822; ok@example.com\nAction: delivered\nStatus: 2.0.0\n",
			[]textRcpt{{"judy@example.com", "failed", "5.2.1", "550 5.2.1 mailbox disabled", ""}}},
		{"HTML only, base64",
			"From: postmaster@example.com\nSubject: Undeliverable: Offers\nContent-Type: text/html\nContent-Transfer-Encoding: base64\n\n" +
				"PGh0bWw+PGhlYWQ+PHN0eWxlPnB7fTwvc3R5bGU+PC9oZWFkPjxib2R5PjxwPllvdXIgbWVzc2Fn\n" +
				"ZSB0byA8Yj5sZW9AZXhhbXBsZS5jb208L2I+IGNvdWxkbiZyc3F1bzt0IGJlIGRlbGl2ZXJlZC48\n" +
				"L3A+PHA+UmVtb3RlIFNlcnZlciByZXR1cm5lZCAmIzM5OzU1MCA1LjEuMTAgUkVTT0xWRVIuQURS\n" +
				"LlJlY2lwaWVudE5vdEZvdW5kJiMzOTs8L3A+PC9ib2R5PjwvaHRtbD4=\n",
			[]textRcpt{{"leo@example.com", "failed", "5.1.10", "550 5.1.10 RESOLVER.ADR.RecipientNotFound", ""}}},
		{"mixed report: a permanent reply stays failed in a delay warning",
			"From: MAILER-DAEMON@mail.example.net\nSubject: Delayed Mail (still being retried)\n\n" +
				"<a@example.com>: host mx.example.com[192.0.2.1] said: 550 5.1.1 unknown\n\n" +
				"<b@example.com>: host mx.example.com[192.0.2.1] said: 451 4.3.0 try later\n",
			[]textRcpt{
				{"a@example.com", "failed", "5.1.1", "550 5.1.1 unknown", "mx.example.com"},
				{"b@example.com", "delayed", "4.3.0", "451 4.3.0 try later", "mx.example.com"},
			}},
		{"X-Failed-Recipients names a recipient the text does not",
			"From: Mailer-Daemon@mx.example.net\nX-Failed-Recipients: x@example.com, y@example.com\nSubject: Mail delivery failed\n\n" +
				"  x@example.com\n    550 5.7.1 relaying denied\n",
			[]textRcpt{{"x@example.com", "failed", "5.7.1", "550 5.7.1 relaying denied", ""}, {"y@example.com", "failed", "5.0.0", "", ""}}},
		{"RCPT TO in a transcript",
			"From: MAILER-DAEMON@mx.example.net\nSubject: failure notice\n\n>>> RCPT TO:<mia@example.com>\n<<< 550 5.1.1 no such user\n",
			[]textRcpt{{"mia@example.com", "failed", "5.1.1", "550 5.1.1 no such user", ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseText([]byte(tt.msg))
			if err != nil {
				t.Fatal(err)
			}
			checkTextRcpts(t, r, tt.want)
		})
	}
}

func TestParseText_RFC3464Samples_AgreeWithParse(t *testing.T) {
	built := testReport()
	built.Recipients = append(built.Recipients, delayed)
	own, err := Build(built)
	if err != nil {
		t.Fatal(err)
	}
	samples := map[string][]byte{"own Build": own}
	for _, f := range []string{"postfix.eml", "exim.eml", "gmail.eml"} {
		samples[f] = readSample(t, f)
	}
	for name, msg := range samples {
		t.Run(name, func(t *testing.T) {
			want, err := Parse(msg)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseText(msg)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Recipients) != len(want.Recipients) {
				t.Fatalf("recipients: text %+v, report %+v", got.Recipients, want.Recipients)
			}
			for i, w := range want.Recipients {
				g := got.Recipients[i]
				// Without a reply code in the text, the class comes from the
				// action: Postfix's "connect to ... timed out" is 4.4.1 in
				// its report but 5.0.0 read from its text.
				coded := lineReply(g.Diagnostic).rank >= rankBasic
				if g.Final != w.Final || g.Action != w.Action || (coded && g.Status[0] != w.Status[0]) {
					t.Errorf("recipient %d: text %q %s %s, report %q %s %s", i, g.Final, g.Action, g.Status, w.Final, w.Action, w.Status)
				}
			}
		})
	}
}

func TestParseAny_ReportFirst_ThenText(t *testing.T) {
	r, err := ParseAny(readSample(t, "exim.eml"))
	if err != nil || r.Heuristic || r.Recipients[0].Status != "5.0.0" {
		t.Errorf("exim.eml: %+v, %v; want Parse's report (Status 5.0.0)", r, err)
	}
	r, err = ParseAny(readSample(t, "exim-text.eml"))
	if err != nil || !r.Heuristic || r.Recipients[0].Final != "alice@example.org" {
		t.Errorf("exim-text.eml: %+v, %v; want the text's reading", r, err)
	}
	empty := "From: MAILER-DAEMON@mail.example.net\nContent-Type: multipart/report; boundary=b\n\n" +
		"--b\nContent-Type: text/plain\n\n<nina@example.com>: host mx.example.com[192.0.2.1] said: 550 5.1.1 no\n" +
		"--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mail.example.net\nOriginal-Envelope-Id: env-1\n\n--b--\n"
	r, err = ParseAny([]byte(empty))
	if err != nil || !r.Heuristic || r.EnvelopeID != "env-1" || r.Recipients[0].Final != "nina@example.com" {
		t.Errorf("report without recipients: %+v, %v; want the text's recipients with the report's ENVID", r, err)
	}
	if _, err := ParseAny([]byte("From: a@example.com\n\nhello\n")); !errors.Is(err, ErrNotDSN) {
		t.Errorf("ordinary message: err = %v, want ErrNotDSN", err)
	}
}

func TestReport_OriginalHeader(t *testing.T) {
	tests := []struct {
		name string
		r    Report
		key  string
		want string
	}{
		{"from OriginalHeaders, folded", Report{OriginalHeaders: []byte("Subject: a\r\n b\r\nMessage-ID: <m@x>\r\n")}, "Subject", "a b"},
		{"from OriginalMessage, any case", Report{OriginalMessage: []byte("\r\nmessage-id: <m@x>\r\n\r\nMessage-ID: <body@x>\r\n")}, "Message-Id", "<m@x>"},
		{"not in the body", Report{OriginalMessage: []byte("From: a@x\n\nMessage-ID: <body@x>\n")}, "Message-ID", ""},
		{"none returned", Report{}, "Message-ID", ""},
		{"malformed block", Report{OriginalHeaders: []byte(" leading space\r\nMessage-ID: <m@x>\r\n")}, "Message-ID", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.OriginalHeader(tt.key); got != tt.want {
				t.Errorf("OriginalHeader(%q) = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
}
