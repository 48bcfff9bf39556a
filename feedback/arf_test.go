package feedback

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var testVERPKey = []byte("sluice-test-verp-key")

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseARF_YahooReport(t *testing.T) {
	c, err := ParseARF(readTestdata(t, "arf-yahoo.eml"))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ field, got, want string }{
		{"FeedbackType", c.FeedbackType, "abuse"},
		{"UserAgent", c.UserAgent, "Yahoo!-Mail-Feedback/2.0"},
		{"Version", c.Version, "1"},
		{"OriginalMailFrom", c.OriginalMailFrom, "b-01JBC7X2Q9M4TZ8K-3-zcpb6mvi@bounces.example.com"},
		{"Recipient", c.Recipient(), "alice.smith@yahoo.com"},
		{"MessageID", c.MessageID, "<01JBC7X2Q9M4TZ8K@news.example.com>"},
		{"ReturnPath", c.ReturnPath, "b-01JBC7X2Q9M4TZ8K-3-zcpb6mvi@bounces.example.com"},
		{"From", c.From, "deals@news.example.com"},
		{"Subject", c.Subject, "Your weekly deals – up to 50% off"},
		{"X-Sluice-Campaign", c.Sluice["X-Sluice-Campaign"], "fall-sale-2026"},
		{"X-Sluice-Tenant", c.Sluice["X-Sluice-Tenant"], "acme"},
		{"ReportMessageID", c.ReportMessageID, "<1730798430.71553.yahoo-fbl@arf.mail.yahoo.com>"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %q, want %q", ch.field, ch.got, ch.want)
		}
	}
	if want := time.Date(2026, 11, 5, 9, 12, 44, 0, time.UTC); !c.ArrivalDate.Equal(want) {
		t.Errorf("ArrivalDate (from Received-Date) = %v, want %v", c.ArrivalDate, want)
	}
	if !slices.Equal(c.ReportedDomain, []string{"news.example.com"}) || c.Incidents != 1 {
		t.Errorf("ReportedDomain = %v, Incidents = %d", c.ReportedDomain, c.Incidents)
	}
	id, idx, ok := c.VERP(testVERPKey)
	if !ok || id != "01JBC7X2Q9M4TZ8K" || idx != 3 {
		t.Errorf("VERP = %q %d %v", id, idx, ok)
	}
}

func TestParseARF_MicrosoftJMRPReport(t *testing.T) {
	c, err := ParseARF(readTestdata(t, "arf-microsoft-jmrp.eml"))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ field, got, want string }{
		{"FeedbackType", c.FeedbackType, "abuse"},
		{"UserAgent", c.UserAgent, "Hotmail FBL"},
		{"Version", c.Version, "0.1"},
		{"SourceIP", c.SourceIP, "192.0.2.20"},
		{"ReportingMTA", c.ReportingMTA, "BN8NAM12HT123.eop-nam12.prod.protection.outlook.com"},
		{"Recipient (redacted To, no Original-Rcpt-To)", c.Recipient(), "redacted@hotmail.com"},
		{"MessageID", c.MessageID, "<01JBC8A0V7C3R1WX@example.com>"},
		{"From", c.From, "store@example.com"},
		{"X-Sluice-Envid", c.Sluice["X-Sluice-Envid"], "ENV-4711"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %q, want %q", ch.field, ch.got, ch.want)
		}
	}
	if len(c.OriginalRcptTo) != 0 {
		t.Errorf("OriginalRcptTo = %v, want none", c.OriginalRcptTo)
	}
	if want := time.Date(2026, 11, 6, 21, 47, 55, 0, time.UTC); !c.ArrivalDate.Equal(want) {
		t.Errorf("ArrivalDate = %v, want %v", c.ArrivalDate, want)
	}
	// Microsoft redacts the recipient: the VERP return path finds it.
	id, idx, ok := c.VERP(testVERPKey)
	if !ok || id != "01JBC8A0V7C3R1WX" || idx != 0 {
		t.Errorf("VERP = %q %d %v", id, idx, ok)
	}
}

func TestParseARF_Variants(t *testing.T) {
	const report = "Feedback-Type: fraud\r\nUser-Agent: test/1\r\nVersion: 1\r\nOriginal-Rcpt-To: <a@x.test>\r\nOriginal-Rcpt-To: b@x.test\r\nIncidents: 4\r\n"
	tests := []struct {
		name string
		msg  string
		want func(*Complaint) bool
		err  error
	}{
		{"not a report at all", "From: a@b\r\nSubject: hi\r\n\r\nhello\r\n", nil, ErrNotARF},
		{"a DSN is not an ARF report",
			"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\n--b--\r\n", nil, ErrNotARF},
		{"report without the original, several recipients and incidents",
			"Content-Type: multipart/report; report-type=feedback-report; boundary=b\r\n\r\n--b\r\nContent-Type: message/feedback-report\r\n\r\n" + report + "\r\n--b--\r\n",
			func(c *Complaint) bool {
				return c.FeedbackType == "fraud" && slices.Equal(c.OriginalRcptTo, []string{"a@x.test", "b@x.test"}) && c.Incidents == 4 && c.MessageID == ""
			}, nil},
		{"LF line endings, base64 report part, text/rfc822-headers original",
			"Content-Type: multipart/report; report-type=feedback-report; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nhuman text\n--b\nContent-Type: message/feedback-report\nContent-Transfer-Encoding: base64\n\nRmVlZGJhY2stVHlwZTogYWJ1c2UNClVzZXItQWdlbnQ6IHgNClZlcnNp\nb246IDENCg==\n--b\nContent-Type: text/rfc822-headers\n\nMessage-ID: <m1@x.test>\nTo: Bob <bob@x.test>\n--b--\n",
			func(c *Complaint) bool {
				return c.FeedbackType == "abuse" && c.UserAgent == "x" && c.MessageID == "<m1@x.test>" && c.Recipient() == "bob@x.test"
			}, nil},
		{"report nested in a forwarding multipart/mixed",
			"Content-Type: multipart/mixed; boundary=outer\r\n\r\n--outer\r\nContent-Type: text/plain\r\n\r\nfwd\r\n--outer\r\nContent-Type: multipart/report; report-type=feedback-report; boundary=inner\r\n\r\n--inner\r\nContent-Type: message/feedback-report\r\n\r\n" + report + "\r\n--inner--\r\n--outer--\r\n",
			func(c *Complaint) bool { return c.FeedbackType == "fraud" }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseARF([]byte(tt.msg))
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.want(c) {
				t.Errorf("unexpected complaint: %+v", c)
			}
		})
	}
}

func FuzzParseARF(f *testing.F) {
	for _, name := range []string{"arf-yahoo.eml", "arf-microsoft-jmrp.eml"} {
		b := readTestdata(f, name)
		f.Add(b)
		f.Add(b[:len(b)/2])
		f.Add([]byte(strings.ReplaceAll(string(b), "\r\n", "\n")))
	}
	f.Add([]byte("Content-Type: multipart/report; boundary=x\r\n\r\n--x\r\nContent-Type: message/feedback-report\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!\r\n--x--"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, msg []byte) {
		c, err := ParseARF(msg)
		if err == nil {
			_ = c.Recipient()
			_, _, _ = c.VERP(testVERPKey)
		}
	})
}
