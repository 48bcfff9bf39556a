package receive

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

const simpleMsg = "From: a@example.com\r\nTo: b@example.net\r\nSubject: hi\r\n\r\nHello.\r\n.leading dot\r\n"

// Reliability row 24 (no AUTH in clear).
func TestEHLO_WithoutTLS_AdvertisesExtensionsButNotSTARTTLSOrAUTH(t *testing.T) {
	cfg := relayConfig()
	cfg.Users = []User{testUser(t, "u", "p", "example.com")}
	_, addr := testServer(t, cfg, &recordingSubmitter{})
	c := dialRaw(t, addr, "")
	msg := c.expect("EHLO client.test", 250, "")
	for _, ext := range []string{"PIPELINING", "8BITMIME", "SMTPUTF8", "SIZE 52428800", "ENHANCEDSTATUSCODES"} {
		if !strings.Contains(msg, "\n"+ext) {
			t.Errorf("EHLO reply lacks %q:\n%s", ext, msg)
		}
	}
	for _, ext := range []string{"STARTTLS", "AUTH"} {
		if strings.Contains(msg, ext) {
			t.Errorf("EHLO reply advertises %s without TLS:\n%s", ext, msg)
		}
	}
}

func TestEHLO_WithTLSConfig_AdvertisesSTARTTLSThenAUTHAfterIt(t *testing.T) {
	srvTLS, cliTLS := selfSignedTLS(t)
	cfg := Config{Hostname: "mx.test", TLSConfig: srvTLS, Users: []User{testUser(t, "u", "p", "example.com")}}
	_, addr := testServer(t, cfg, &recordingSubmitter{})
	c, err := smtp.DialStartTLS(addr, cliTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ok, mechs := c.Extension("AUTH"); !ok || !strings.Contains(mechs, "PLAIN") || !strings.Contains(mechs, "LOGIN") {
		t.Errorf("after STARTTLS: AUTH = %v %q, want PLAIN and LOGIN", ok, mechs)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Error("STARTTLS advertised again inside TLS")
	}

	raw := dialRaw(t, addr, "")
	if msg := raw.expect("EHLO client.test", 250, "STARTTLS"); strings.Contains(msg, "AUTH") {
		t.Errorf("AUTH advertised before STARTTLS:\n%s", msg)
	}
}

func TestSubmit_RelayNetworkClient_EnvelopeAndRewrittenBodyReachSubmitter(t *testing.T) {
	sub := &recordingSubmitter{}
	_, addr := testServer(t, relayConfig(), sub)
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("a@example.com", &smtp.MailOptions{Body: smtp.Body8BitMIME}); err != nil {
		t.Fatal(err)
	}
	for _, rcpt := range []string{"b@example.net", "c@example.org"} {
		if err := c.Rcpt(rcpt, nil); err != nil {
			t.Fatal(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	in := "X-Sluice-VMTA: vmta-1\r\nx-sluice-pool:\r\n  warm\r\n  pool\r\n" + simpleMsg + "X-Sluice-Campaign: not-a-header-in-body\r\n"
	if _, err := w.Write([]byte(in)); err != nil {
		t.Fatal(err)
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusText != "2.0.0 Ok: queued as Q0001" {
		t.Errorf("DATA reply = %q, want the queue ID", resp.StatusText)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}

	msgs := sub.messages()
	if len(msgs) != 1 {
		t.Fatalf("submitted %d messages, want 1", len(msgs))
	}
	env, body := msgs[0].env, string(msgs[0].body)
	want := Envelope{From: "a@example.com", To: []string{"b@example.net", "c@example.org"},
		ClientIP: netip.MustParseAddr("127.0.0.1"), HELO: "client.test", VMTA: "vmta-1", Pool: "warm  pool",
		Body8Bit: true, ReceivedID: env.ReceivedID}
	if env.From != want.From || strings.Join(env.To, ",") != strings.Join(want.To, ",") || env.ClientIP != want.ClientIP ||
		env.HELO != want.HELO || env.VMTA != want.VMTA || env.Pool != want.Pool || env.Campaign != "" ||
		!env.Body8Bit || env.UTF8 || env.TLS || env.AuthUser != "" || len(env.ReceivedID) != 16 {
		t.Errorf("envelope = %+v\nwant       %+v", env, want)
	}
	if !strings.HasPrefix(body, "Received: from client.test ([127.0.0.1])\r\n\tby mx.test (Sluice) with ESMTP id "+env.ReceivedID+";\r\n\t") {
		t.Errorf("body does not start with the Received: header:\n%s", body)
	}
	if strings.Contains(strings.ToLower(body[:strings.Index(body, "\r\n\r\n")]), "x-sluice") {
		t.Errorf("X-Sluice-* header left in:\n%s", body)
	}
	if !regexp.MustCompile(`\r\nMessage-ID: <[A-Z2-7]+@mx\.test>\r\nDate: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\r\n\r\n`).MatchString(body) {
		t.Errorf("Message-ID/Date not added:\n%s", body)
	}
	if !strings.HasSuffix(body, "\r\n\r\nHello.\r\n.leading dot\r\nX-Sluice-Campaign: not-a-header-in-body\r\n") {
		t.Errorf("body part changed:\n%q", body)
	}
}

func TestSubmit_ExistingMessageIDAndDate_Kept(t *testing.T) {
	sub := &recordingSubmitter{}
	_, addr := testServer(t, relayConfig(), sub)
	in := "Message-ID: <x@y>\r\nDate: Mon, 02 Jan 2006 15:04:05 -0700\r\n" + simpleMsg
	if err := sendMail(t, addr, "a@example.com", []string{"b@example.net"}, strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	body := string(sub.messages()[0].body)
	if strings.Count(body, "Message-ID:") != 1 || strings.Count(body, "\r\nDate:") != 1 {
		t.Errorf("Message-ID/Date duplicated:\n%s", body)
	}
	if !strings.Contains(body, "\r\n\tfor <b@example.net>;") {
		t.Errorf("single-recipient Received: lacks for <rcpt>:\n%s", body)
	}
}

// sendMail sends one message with go-smtp's client, without STARTTLS.
func sendMail(t *testing.T, addr, from string, to []string, r io.Reader) error {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		return err
	}
	return c.SendMail(from, to, r)
}

// Reliability row 15 (open relay).
func TestRelay_UnlistedNetworkWithoutAuth_Rejected554(t *testing.T) {
	sub := &recordingSubmitter{}
	_, addr := testServer(t, relayConfig(), sub) // relay network 127.0.0.1/32 only
	c := dialRaw(t, addr, "127.0.0.2")
	c.expect("EHLO client.test", 250, "")
	c.expect("MAIL FROM:<a@example.com>", 250, "")
	c.expect("RCPT TO:<b@example.net>", 554, "5.7.1")
	c.expect("DATA", 502, "")
	c.expect("QUIT", 221, "")
	if n := len(sub.messages()); n != 0 {
		t.Fatalf("open relay: %d messages submitted", n)
	}
}

// Reliability row 15 (open relay).
func TestRelay_LocalRecipientFromAnyClient_OthersStillRefused(t *testing.T) {
	sub := &recordingSubmitter{}
	cfg := relayConfig()
	cfg.LocalRecipient = func(addr string) bool { return strings.HasSuffix(addr, "@bounces.example.com") }
	_, addr := testServer(t, cfg, sub)
	c := dialRaw(t, addr, "127.0.0.2")
	c.expect("EHLO client.test", 250, "")
	c.expect("MAIL FROM:<>", 250, "")
	c.expect("RCPT TO:<b-x@example.net>", 554, "5.7.1") // still no relay
	c.expect("RCPT TO:<b-1234@bounces.example.com>", 250, "")
	c.expect("DATA", 354, "")
	c.send("Subject: bounce\r\n\r\nhi\r\n.\r\n")
	c.expectReply(250, "")
	c.expect("QUIT", 221, "")
	msgs := sub.messages()
	if len(msgs) != 1 || len(msgs[0].env.To) != 1 || msgs[0].env.To[0] != "b-1234@bounces.example.com" {
		t.Fatalf("submitted: %+v", msgs)
	}
}

// Reliability row 15 and 24 (no AUTH in clear).
func TestAuth_BeforeSTARTTLS_Rejected538(t *testing.T) {
	srvTLS, _ := selfSignedTLS(t)
	cfg := Config{Hostname: "mx.test", TLSConfig: srvTLS, Users: []User{testUser(t, "u", "p", "example.com")}}
	_, addr := testServer(t, cfg, &recordingSubmitter{})
	c := dialRaw(t, addr, "")
	c.expect("EHLO client.test", 250, "")
	c.expect("AUTH PLAIN AHUAcA==", 538, "5.7.11 Encryption required")
	c.expect("AUTH LOGIN", 538, "5.7.11")
}

// Reliability row 16.
func TestAuth_PlainAfterSTARTTLS_AllowedSenderAcceptedOtherRejected553(t *testing.T) {
	srvTLS, cliTLS := selfSignedTLS(t)
	sub := &recordingSubmitter{}
	cfg := Config{Hostname: "mx.test", TLSConfig: srvTLS, Users: []User{testUser(t, "alice", "s3cret", "Example.com")}}
	_, addr := testServer(t, cfg, sub)
	c, err := smtp.DialStartTLS(addr, cliTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", "alice", "s3cret")); err != nil {
		t.Fatal(err)
	}
	var se *smtp.SMTPError
	if err := c.Mail("a@other.org", nil); !errors.As(err, &se) || se.Code != 553 || se.EnhancedCode != (smtp.EnhancedCode{5, 7, 1}) {
		t.Fatalf("MAIL FROM foreign domain: %v, want 553 5.7.1", err)
	}
	if err := c.SendMail("a@example.COM", []string{"b@example.net"}, strings.NewReader(simpleMsg)); err != nil {
		t.Fatal(err)
	}
	msgs := sub.messages()
	if len(msgs) != 1 || msgs[0].env.AuthUser != "alice" || !msgs[0].env.TLS {
		t.Fatalf("submitted %+v", msgs)
	}
	if !strings.Contains(string(msgs[0].body), " with ESMTPSA id ") {
		t.Errorf("Received: does not say ESMTPSA:\n%s", msgs[0].body)
	}
}

func TestAuth_LoginWithInsecureOptIn_NonRelayClientMaySend(t *testing.T) {
	sub := &recordingSubmitter{}
	cfg := relayConfig()
	cfg.AllowInsecureAuth = true
	cfg.Users = []User{testUser(t, "bob", "pw", AnyDomain)}
	_, addr := testServer(t, cfg, sub)

	c := dialRaw(t, addr, "127.0.0.2") // not in the relay network
	c.expect("EHLO client.test", 250, "AUTH PLAIN LOGIN")
	c.expect("AUTH LOGIN", 334, "VXNlcm5hbWU6") // "Username:"
	c.expect("Ym9i", 334, "UGFzc3dvcmQ6")       // "bob" -> "Password:"
	c.expect("cHc=", 235, "2.0.0")              // "pw"
	c.expect("MAIL FROM:<>", 250, "")
	c.expect("RCPT TO:<b@example.net>", 250, "")
	c.expect("DATA", 354, "")
	c.send(simpleMsg + ".\r\n")
	c.expectReply(250, "queued as Q0001")
	if env := sub.messages()[0].env; env.AuthUser != "bob" || env.From != "" {
		t.Errorf("envelope %+v", env)
	}
}

func TestAuth_WrongPasswordOrUnknownUser_Rejected535(t *testing.T) {
	cfg := Config{Hostname: "mx.test", AllowInsecureAuth: true, Users: []User{testUser(t, "bob", "pw", AnyDomain)}}
	_, addr := testServer(t, cfg, &recordingSubmitter{})
	c := dialRaw(t, addr, "")
	c.expect("EHLO client.test", 250, "")
	c.expect("AUTH PLAIN AGJvYgB3cm9uZw==", 535, "5.7.8")   // bob / wrong
	c.expect("AUTH PLAIN AG5vYm9keQBwdw==", 535, "5.7.8")   // nobody / pw
	c.expect("AUTH PLAIN ZXZlAGJvYgBwdw==", 535, "5.7.8")   // authzid eve != bob
	c.expect("MAIL FROM:<a@example.com>", 250, "")          // unauthenticated, not relay:
	c.expect("RCPT TO:<b@example.net>", 554, "5.7.1 Relay") // still no relay
}

// Reliability row 16.
func TestAuth_DuringTransaction_Rejected503(t *testing.T) {
	cfg := Config{Hostname: "mx.test", AllowInsecureAuth: true, Users: []User{testUser(t, "bob", "pw", "example.com")}}
	_, addr := testServer(t, cfg, &recordingSubmitter{})
	c := dialRaw(t, addr, "")
	c.expect("EHLO client.test", 250, "")
	c.expect("MAIL FROM:<a@forbidden.org>", 250, "")
	c.expect("AUTH PLAIN AGJvYgBwdw==", 503, "5.5.1")
	c.expect("RCPT TO:<b@example.net>", 554, "5.7.1")
}

// Reliability row 16.
func TestAuth_UserWithoutFromDomains_EverySenderRejected553(t *testing.T) {
	cfg := Config{Hostname: "mx.test", AllowInsecureAuth: true, Users: []User{testUser(t, "bob", "pw")}}
	_, addr := testServer(t, cfg, &recordingSubmitter{})
	c := dialRaw(t, addr, "")
	c.expect("EHLO client.test", 250, "")
	c.expect("AUTH PLAIN AGJvYgBwdw==", 235, "")
	c.expect("MAIL FROM:<a@example.com>", 553, "5.7.1")
	c.expect("MAIL FROM:<>", 553, "5.7.1")
}

func TestPipelining_WholeTransactionInOneWrite_AllRepliesInOrder(t *testing.T) {
	sub := &recordingSubmitter{}
	_, addr := testServer(t, relayConfig(), sub)
	c := dialRaw(t, addr, "")
	c.send("EHLO client.test\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.net>\r\nRCPT TO:<c@example.net>\r\nDATA\r\n")
	c.expectReply(250, "PIPELINING")
	c.expectReply(250, "2.0.0")
	c.expectReply(250, "b@example.net")
	c.expectReply(250, "c@example.net")
	c.expectReply(354, "")
	c.send(simpleMsg + ".\r\nMAIL FROM:<d@example.com>\r\nRCPT TO:<e@example.net>\r\nDATA\r\n" + simpleMsg + ".\r\nQUIT\r\n")
	c.expectReply(250, "queued as Q0001")
	c.expectReply(250, "")
	c.expectReply(250, "")
	c.expectReply(354, "")
	c.expectReply(250, "queued as Q0002")
	c.expectReply(221, "")
	if n := len(sub.messages()); n != 2 {
		t.Fatalf("submitted %d, want 2", n)
	}
}

// Reliability row 12: no smuggling variant ends the message early; the one
// DATA gives one message whose body is CRLF only.
func TestSmuggling_BareLineEndingDots_NeverEndMessageAndBodyIsCRLFOnly(t *testing.T) {
	for _, tc := range []struct{ name, sep string }{
		{"LF.LF", "\n.\n"},
		{"CR.CR", "\r.\r"},
		{"LF.CRLF", "\n.\r\n"},
		{"CRLF.LF", "\r\n.\n"},
		{"CR.CRLF", "\r.\r\n"},
		{"CRLF.CR", "\r\n.\r"},
		{"LF.CR", "\n.\r"},
		{"CR.LF", "\r.\n"},
		{"CRLF.NUL.CRLF", "\r\n.\x00\r\n"},
		{"CRLF.SP.CRLF", "\r\n. \r\n"},
		{"CRCRLF.CRCRLF", "\r\r\n.\r\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub := &recordingSubmitter{}
			_, addr := testServer(t, relayConfig(), sub)
			c := dialRaw(t, addr, "")
			c.expect("EHLO client.test", 250, "")
			c.expect("MAIL FROM:<a@example.com>", 250, "")
			c.expect("RCPT TO:<b@example.net>", 250, "")
			c.expect("DATA", 354, "")
			smuggled := "MAIL FROM:<ceo@bank.example>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\nFrom: ceo@bank.example\r\n\r\nsmuggled\r\n"
			c.send("Subject: x\r\n\r\nfirst" + tc.sep + smuggled + ".\r\n")
			c.expectReply(250, "queued as Q0001")
			c.expect("QUIT", 221, "")

			msgs := sub.messages()
			if len(msgs) != 1 {
				t.Fatalf("submitted %d messages, want exactly 1", len(msgs))
			}
			body := msgs[0].body
			if !crlfOnly(body) {
				t.Errorf("stored body has bare CR or LF: %q", body)
			}
			if !bytes.Contains(body, []byte("ceo@bank.example")) {
				t.Errorf("smuggled text is not inside the one message: %q", body)
			}
			for _, line := range strings.Split(string(dotStuff(body)), "\r\n") {
				if line == "." {
					t.Fatalf("dot-stuffed body has a lone \".\" line: %q", body)
				}
			}
		})
	}
}

// Reliability row 12 (BDAT).
func TestBDAT_BareLF_NormalisedAndQueued(t *testing.T) {
	sub := &recordingSubmitter{}
	_, addr := testServer(t, relayConfig(), sub)
	c := dialRaw(t, addr, "")
	c.expect("EHLO client.test", 250, "CHUNKING")
	c.expect("MAIL FROM:<a@example.com>", 250, "")
	c.expect("RCPT TO:<b@example.net>", 250, "")
	chunk := "Subject: x\n\nline\n.\nend\n"
	c.send("BDAT " + strconv.Itoa(len(chunk)) + " LAST\r\n" + chunk)
	c.expectReply(250, "queued as Q0001")
	body := sub.messages()[0].body
	if !crlfOnly(body) || !bytes.HasSuffix(body, []byte("\r\n\r\nline\r\n.\r\nend\r\n")) {
		t.Errorf("body = %q", body)
	}
}

// Reliability row 17 (size).
func TestSize_OversizedMessage_Rejected552AndSessionContinues(t *testing.T) {
	sub := &recordingSubmitter{}
	cfg := relayConfig()
	cfg.MaxMessageBytes = 1024
	_, addr := testServer(t, cfg, sub)
	c := dialRaw(t, addr, "")
	c.expect("EHLO client.test", 250, "SIZE 1024")
	c.expect("MAIL FROM:<a@example.com> SIZE=4096", 552, "5.3.4")
	c.expect("MAIL FROM:<a@example.com>", 250, "")
	c.expect("RCPT TO:<b@example.net>", 250, "")
	c.expect("DATA", 354, "")
	c.send("Subject: big\r\n\r\n" + strings.Repeat(strings.Repeat("x", 98)+"\r\n", 30) + ".\r\n")
	c.expectReply(552, "5.3.4")
	c.expect("NOOP", 250, "")
	if n := len(sub.messages()); n != 0 {
		t.Fatalf("oversized message submitted")
	}
}

// Reliability row 17 (recipients).
func TestRecipients_OverLimit_Rejected452(t *testing.T) {
	cfg := relayConfig()
	cfg.MaxRecipients = 2
	_, addr := testServer(t, cfg, &recordingSubmitter{})
	c := dialRaw(t, addr, "")
	c.expect("EHLO client.test", 250, "")
	c.expect("MAIL FROM:<a@example.com>", 250, "")
	c.expect("RCPT TO:<b1@example.net>", 250, "")
	c.expect("RCPT TO:<b2@example.net>", 250, "")
	c.expect("RCPT TO:<b3@example.net>", 452, "4.5.3")
}

// Reliability row 17 (line).
func TestLineLength_OverlongCommand_500AndClosed(t *testing.T) {
	_, addr := testServer(t, relayConfig(), &recordingSubmitter{})
	c := dialRaw(t, addr, "")
	c.expect("EHLO "+strings.Repeat("a", 1200), 500, "Too long line")
	c.expectClosed()
}

// Reliability row 17 (line).
func TestLineLength_OverlongDataLine_554AndClosed(t *testing.T) {
	sub := &recordingSubmitter{}
	_, addr := testServer(t, relayConfig(), sub)
	c := dialRaw(t, addr, "")
	c.expect("EHLO client.test", 250, "")
	c.expect("MAIL FROM:<a@example.com>", 250, "")
	c.expect("RCPT TO:<b@example.net>", 250, "")
	c.expect("DATA", 354, "")
	c.send("Subject: x\r\n\r\n" + strings.Repeat("y", 998) + "\r\n" + strings.Repeat("z", 999) + "\r\n.\r\n")
	c.expectReply(554, "5.6.0")
	c.expectClosed()
	if len(sub.messages()) != 0 {
		t.Fatal("message with overlong line submitted")
	}
}

// Reliability row 20.
func TestMalformed_UnknownAndBadSyntaxCommands_500And501(t *testing.T) {
	_, addr := testServer(t, relayConfig(), &recordingSubmitter{})
	c := dialRaw(t, addr, "")
	c.expect("EHLO client.test", 250, "")
	c.expect("FROB", 500, "5.5.2")
	c.expect("MAIL TO:<a@example.com>", 501, "5.5.2")
	c.expect("MAIL FROM:<a@example.com> BOGUS=1", 500, "5.5.4")
	c.expect("RCPT TO:<b@example.net>", 502, "5.5.1")
}

func TestSubmit_PlainError_Answered451NothingAcknowledged(t *testing.T) {
	sub := &recordingSubmitter{submitErr: errors.New("disk on fire")}
	_, addr := testServer(t, relayConfig(), sub)
	err := sendMail(t, addr, "a@example.com", []string{"b@example.net"}, strings.NewReader(simpleMsg))
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 451 || se.EnhancedCode != (smtp.EnhancedCode{4, 3, 0}) ||
		se.Message != "Requested action aborted: local error in processing" {
		t.Fatalf("got %v, want 451 4.3.0", err)
	}
	if strings.Contains(se.Message, "fire") {
		t.Error("internal error text leaked to the client")
	}
}

func TestSubmit_SMTPError_SentAsIs(t *testing.T) {
	sub := &recordingSubmitter{submitErr: &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Recipient suppressed"}}
	_, addr := testServer(t, relayConfig(), sub)
	err := sendMail(t, addr, "a@example.com", []string{"b@example.net"}, strings.NewReader(simpleMsg))
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 550 || se.Message != "Recipient suppressed" {
		t.Fatalf("got %v, want the submitter's 550", err)
	}
}

func TestAccepting_LowDisk_452AtMailFrom(t *testing.T) {
	sub := &recordingSubmitter{accepting: &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "Insufficient system storage"}}
	_, addr := testServer(t, relayConfig(), sub)
	c := dialRaw(t, addr, "")
	c.expect("EHLO client.test", 250, "")
	c.expect("MAIL FROM:<a@example.com>", 452, "4.3.1 Insufficient system storage")

	sub.mu.Lock()
	sub.accepting = errors.New("paused")
	sub.mu.Unlock()
	c.expect("MAIL FROM:<a@example.com>", 451, "4.3.0")
}

func TestReply250_WaitsUntilSubmitReturns(t *testing.T) {
	sub := &recordingSubmitter{release: make(chan struct{}), entered: make(chan struct{}, 1)}
	_, addr := testServer(t, relayConfig(), sub)
	c := dialRaw(t, addr, "")
	c.expect("EHLO client.test", 250, "")
	c.expect("MAIL FROM:<a@example.com>", 250, "")
	c.expect("RCPT TO:<b@example.net>", 250, "")
	c.expect("DATA", 354, "")
	c.send(simpleMsg + ".\r\n")
	<-sub.entered
	_ = c.conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if line, err := c.r.ReadLine(); err == nil {
		t.Fatalf("reply %q sent before Submit returned", line)
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	close(sub.release)
	c.expectReply(250, "2.0.0 Ok: queued as Q0001")
}

func TestSMTPUTF8_RequestedAtMail_FlagOnEnvelope(t *testing.T) {
	sub := &recordingSubmitter{}
	_, addr := testServer(t, relayConfig(), sub)
	c := dialRaw(t, addr, "")
	c.expect("EHLO client.test", 250, "SMTPUTF8")
	c.expect("MAIL FROM:<jürgen@exämple.com> SMTPUTF8", 250, "")
	c.expect("RCPT TO:<zoë@example.net>", 250, "")
	c.expect("DATA", 354, "")
	c.send("Subject: grüße\r\n\r\nhallo\r\n.\r\n")
	c.expectReply(250, "queued")
	m := sub.messages()[0]
	if !m.env.UTF8 || m.env.From != "jürgen@exämple.com" || m.env.To[0] != "zoë@example.net" {
		t.Errorf("envelope %+v", m.env)
	}
	if !strings.Contains(string(m.body), "\tfor <zoë@example.net>;") {
		t.Errorf("Received: lacks the UTF-8 recipient:\n%s", m.body)
	}
}
