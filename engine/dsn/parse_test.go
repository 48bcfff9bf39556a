package dsn

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readSample reads a DSN fixture from testdata.
func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParse_ForeignDSNs(t *testing.T) {
	tests := []struct {
		file      string
		reporting string
		from, to  string
		arrival   time.Time
		rcpts     []Recipient
		headers   string // a line the returned headers must contain
		full      string // a line the returned message must contain
	}{
		{
			file: "postfix.eml", reporting: "mail.example.net",
			from: "MAILER-DAEMON@mail.example.net", to: "newsletter-bounces@sender.example",
			arrival: time.Date(2025, 3, 4, 9, 11, 58, 0, time.UTC),
			rcpts: []Recipient{
				{Original: "jdoe@example.com", Final: "jdoe@example.com", Action: "failed", Status: "5.1.1",
					RemoteMTA:  "mx1.example.com",
					Diagnostic: "550 5.1.1 <jdoe@example.com>: Recipient address    rejected: User unknown in virtual mailbox table"},
				{Original: "info@example.org", Final: "info@example.org", Action: "failed", Status: "4.4.1",
					Diagnostic: "x-postfix; connect to mx.example.org[198.51.100.7]:25:    Connection timed out"},
			},
			headers: "Message-ID: <campaign-77.4711@sender.example>",
		},
		{
			file: "exim.eml", reporting: "mx.exim-host.example",
			from: "Mailer-Daemon@mx.exim-host.example", to: "list-bounces@sender.example",
			rcpts: []Recipient{{Final: "alice@example.org", Action: "failed", Status: "5.0.0",
				RemoteMTA: "mx.example.org", Diagnostic: "550 5.2.2 <alice@example.org>: mailbox full"}},
			full: "Hello Alice, here is our March newsletter.",
		},
		{
			file: "gmail.eml", reporting: "googlemail.com",
			from: "mailer-daemon@googlemail.com", to: "bounces@sender.example",
			arrival: time.Date(2025, 3, 4, 9, 20, 30, 0, time.UTC),
			rcpts: []Recipient{{Final: "carol@example.co.uk", Action: "delayed", Status: "4.7.0",
				RemoteMTA: "mx.example.co.uk",
				Diagnostic: "421-4.7.0 [203.0.113.5] Our system has detected an unusual rate of" +
					" 421 4.7.0 unsolicited mail originating from your IP address.",
				LastAttempt:    time.Date(2025, 3, 4, 9, 20, 31, 0, time.UTC),
				WillRetryUntil: time.Date(2025, 3, 6, 9, 20, 30, 0, time.UTC)}},
			headers: "Subject: Offers",
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r, err := Parse(readSample(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if r.ReportingMTA != tt.reporting || r.From != tt.from || r.To != tt.to || !r.ArrivalDate.Equal(tt.arrival) {
				t.Errorf("per-message: %q %q %q %v", r.ReportingMTA, r.From, r.To, r.ArrivalDate)
			}
			if r.Now.IsZero() || r.MessageID == "" {
				t.Errorf("Date/Message-ID not read: %v %q", r.Now, r.MessageID)
			}
			if len(r.Recipients) != len(tt.rcpts) {
				t.Fatalf("recipients: %+v", r.Recipients)
			}
			for i, want := range tt.rcpts {
				got := r.Recipients[i]
				if got.Original != want.Original || got.Final != want.Final || got.Action != want.Action ||
					got.Status != want.Status || got.RemoteMTA != want.RemoteMTA || got.Diagnostic != want.Diagnostic ||
					!got.LastAttempt.Equal(want.LastAttempt) || !got.WillRetryUntil.Equal(want.WillRetryUntil) {
					t.Errorf("recipient %d:\n got %+v\nwant %+v", i, got, want)
				}
			}
			if tt.headers != "" && !bytes.Contains(r.OriginalHeaders, []byte(tt.headers)) {
				t.Errorf("OriginalHeaders lacks %q:\n%s", tt.headers, r.OriginalHeaders)
			}
			if tt.full != "" && !bytes.Contains(r.OriginalMessage, []byte(tt.full)) {
				t.Errorf("OriginalMessage lacks %q:\n%s", tt.full, r.OriginalMessage)
			}
		})
	}
}

func TestParse_OrdinaryMessage_IsNotDSN(t *testing.T) {
	for _, msg := range []string{
		"From: a@b\r\nSubject: hi\r\n\r\nhello\r\n",
		"From: a@b\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n--x--\r\n",
	} {
		if _, err := Parse([]byte(msg)); !errors.Is(err, ErrNotDSN) {
			t.Errorf("err = %v, want ErrNotDSN", err)
		}
	}
}

func TestParse_BounceOfABounce_ReadsOnlyTheOuterReport(t *testing.T) {
	inner, err := Build(testReport())
	if err != nil {
		t.Fatal(err)
	}
	r := testReport()
	r.ReportingMTA = "outer.example"
	r.Recipients[0].Final = "outer@example.com"
	r.OriginalMessage = inner
	outer, err := Build(r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(outer)
	if err != nil {
		t.Fatal(err)
	}
	if got.ReportingMTA != "outer.example" || len(got.Recipients) != 1 || got.Recipients[0].Final != "outer@example.com" {
		t.Errorf("got %q %+v", got.ReportingMTA, got.Recipients)
	}
	if !bytes.Equal(got.OriginalMessage, inner) {
		t.Error("inner DSN not returned intact")
	}
}

func TestParse_Lenient_BareLFMissingPerMessageBlockAndBase64(t *testing.T) {
	status := "Final-Recipient: RFC822; <X@Example.com>\nACTION: FAILED\nStatus: 5.1.1 (user unknown)\n"
	msgs := map[string]string{
		"bare LF, no per-message block": "From: postmaster@h\nTo: s@x\nContent-Type: multipart/report; boundary=\"b\"\n\n" +
			"--b\nContent-Type: message/delivery-status\n\n" + status + "--b--\n",
		"base64 status part": "From: postmaster@h\r\nTo: s@x\r\nContent-Type: multipart/report; boundary=b\r\n\r\n" +
			"--b\r\nContent-Type: message/delivery-status\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			"RmluYWwtUmVjaXBpZW50OiBSRkM4MjI7IDxYQEV4YW1wbGUuY29tPgpBQ1RJT046IEZBSUxFRApT\r\n" +
			"dGF0dXM6IDUuMS4xICh1c2VyIHVua25vd24pCg==\r\n--b--\r\n",
		"quoted-printable status part": "From: postmaster@h\r\nTo: s@x\r\nContent-Type: multipart/report; boundary=b\r\n\r\n" +
			"--b\r\nContent-Type: message/delivery-status\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
			strings.ReplaceAll(status, "\n", "=0A=\r\n") + "\r\n--b--\r\n",
	}
	for name, msg := range msgs {
		t.Run(name, func(t *testing.T) {
			r, err := Parse([]byte(msg))
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Recipients) != 1 {
				t.Fatalf("recipients %+v", r.Recipients)
			}
			if got := r.Recipients[0]; got.Final != "X@Example.com" || got.Action != "failed" || got.Status != "5.1.1" {
				t.Errorf("got %+v", got)
			}
		})
	}
}
