package engine

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sluice-mta/sluice/configs"
	"github.com/sluice-mta/sluice/engine/dsn"
	"github.com/sluice-mta/sluice/feedback"
)

const testVERPKey = "0123456789abcdef-test-key"

func feedbackConfig(mod func(*configs.Config)) func(*configs.Config) {
	return func(c *configs.Config) {
		c.Feedback.VERP = configs.FeedbackVERP{Domain: "bounces.sluice.test", Key: testVERPKey}
		c.Feedback.FBLAddresses = []string{"fbl@sluice.test"}
		if mod != nil {
			mod(c)
		}
	}
}

// arfFor is an ARF complaint about a message sent with return path verp
// to rcpt from source IP ip.
func arfFor(verp, rcpt, ip string) []byte {
	return []byte(strings.ReplaceAll(`From: FBL <fbl@receiver.example>
To: fbl@sluice.test
Subject: complaint
Message-ID: <c1@receiver.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type="feedback-report"; boundary="b1"

--b1
Content-Type: text/plain

An abuse report.

--b1
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: Test-FBL/1.0
Version: 1
Original-Mail-From: <`+verp+`>
Original-Rcpt-To: <`+rcpt+`>
Source-IP: `+ip+`

--b1
Content-Type: message/rfc822

Return-Path: <`+verp+`>
From: News <news@sender.example>
To: `+rcpt+`
Subject: deals
Message-ID: <m1@sender.example>

hello

--b1--
`, "\n", "\r\n"))
}

func TestFeedback_VERPBounceAndComplaint_SuppressTheNextInjection(t *testing.T) {
	w := newWorld(t, 0)
	e := w.engine(t, t.TempDir(), feedbackConfig(nil))
	defer e.Close()
	idA := submit(t, e, "news@sender.example", "alice@d1.test")
	idB := submit(t, e, "news@sender.example", "bob@d1.test")
	waitFor(t, "two deliveries", func() bool { return w.deliveredTo("d1.test") == 2 })
	waitFor(t, "deliveries remembered", func() bool {
		recs, _ := e.spool.ListRecords(sentRecordPrefix)
		return len(recs) == 2
	})
	if s, ok := e.sentOf(idA, 0); !ok || s.VMTA != "default" || s.Recipient != "alice@d1.test" {
		t.Fatalf("remembered delivery: %+v %v", s, ok)
	}

	// A late bounce for alice, sent to her VERP return path.
	verpA, err := feedback.EncodeVERP([]byte(testVERPKey), "bounces.sluice.test", idA, 0)
	if err != nil {
		t.Fatal(err)
	}
	bounce, err := dsn.Build(&dsn.Report{ReportingMTA: "mx.d1.test", To: verpA, Now: w.clock.Now(),
		Recipients: []dsn.Recipient{{Final: "alice@d1.test", Action: dsn.ActionFailed, Status: "5.1.1",
			RemoteMTA: "mx.d1.test", Diagnostic: "550 5.1.1 <alice@d1.test>: user unknown"}}})
	if err != nil {
		t.Fatal(err)
	}
	if id, err := e.Submit(context.Background(), Envelope{From: "", To: []string{verpA}}, bounce); err != nil || id != FeedbackID {
		t.Fatalf("bounce to the VERP address: %q %v", id, err)
	}
	// A complaint about bob, to the FBL address.
	verpB, _ := feedback.EncodeVERP([]byte(testVERPKey), "bounces.sluice.test", idB, 0)
	res, err := e.Feedback(FeedbackComplaint, "fbl@sluice.test", arfFor(verpB, "bob@d1.test", "127.0.0.1"))
	if err != nil || res.Recipient != "bob@d1.test" || res.VMTA != "default" || res.MsgID != idB || !res.Suppressed {
		t.Fatalf("complaint: %+v %v", res, err)
	}
	for _, rcpt := range []string{"alice@d1.test", "Bob@D1.test"} {
		_, err := e.Submit(context.Background(), Envelope{From: "news@sender.example", To: []string{rcpt}}, []byte("Subject: x\r\n\r\nx\r\n"))
		if !errors.Is(err, ErrSuppressed) || !errors.Is(err, ErrInvalidEnvelope) {
			t.Fatalf("next injection to %s: %v, want ErrSuppressed", rcpt, err)
		}
	}
	evs, _ := e.events.log.Read(0, 1000)
	var async, complaint bool
	for _, ev := range evs {
		async = async || (ev.Type == EventBounced && strings.HasPrefix(ev.Reply, "async: 550") && ev.Category == "bad-mailbox" && ev.MsgID == idA)
		complaint = complaint || (ev.Type == EventComplaint && ev.Recipient == "bob@d1.test" && ev.VMTA == "default")
	}
	if !async || !complaint {
		t.Fatalf("events: async bounce %v, complaint %v", async, complaint)
	}
	// A forged return path is not ours: kept for inspection, nothing suppressed.
	forged := strings.Replace(verpA, "@", "x@", 1)
	if id, err := e.Submit(context.Background(), Envelope{From: "", To: []string{forged}}, bounce); err != nil || id != FeedbackID {
		t.Fatalf("forged VERP: %q %v", id, err)
	}
	if _, err := e.Feedback(FeedbackComplaint, "fbl@sluice.test", []byte("this is not a report")); !errors.Is(err, ErrInvalidEnvelope) {
		t.Fatalf("malformed ARF: %v", err)
	}
	bad, err := e.BadFeedback()
	if err != nil || len(bad) != 2 {
		t.Fatalf("kept for inspection: %d %v", len(bad), err)
	}
}

func TestFeedback_OutgoingReturnPathIsVERP_PerRecipient(t *testing.T) {
	w := newWorld(t, 0)
	e := w.engine(t, t.TempDir(), feedbackConfig(nil))
	defer e.Close()
	submit(t, e, "news@sender.example", "a1@d2.test", "a2@d2.test", "a3@d2.test")
	waitFor(t, "three deliveries", func() bool { return w.deliveredTo("d2.test") == 3 })
	if st := w.sink.Stats(); st.Transactions != 3 {
		t.Fatalf("%d transactions, want one per recipient (a return path each)", st.Transactions)
	}
}

func TestSuppression_DropMode_ImportAndScopes(t *testing.T) {
	w := newWorld(t, 0)
	e := w.engine(t, t.TempDir(), func(c *configs.Config) {
		c.Feedback.Suppression.OnSubmit = "drop"
	})
	defer e.Close()
	n, err := e.ImportSuppressions(strings.NewReader("address,scope,reason\ngone@d3.test,,manual\nscoped@d3.test,other.example,\n"),
		"", "import", "test")
	if err != nil || n != 2 {
		t.Fatalf("import: %d %v", n, err)
	}
	if _, err := e.ImportSuppressions(strings.NewReader("ok@d3.test\nnot an address\n"), "", "", ""); err == nil ||
		!strings.Contains(err.Error(), "line 2") {
		t.Fatalf("bad row: %v", err)
	}
	if got := e.Suppressions("*", "", 0); len(got) != 2 {
		t.Fatalf("a failed import added entries: %+v", got)
	}
	// gone@ is dropped; scoped@ is suppressed only for other.example's mail.
	submit(t, e, "news@sender.example", "gone@d3.test", "scoped@d3.test", "kept@d3.test")
	waitFor(t, "the kept recipients", func() bool { return w.deliveredTo("d3.test") == 2 })
	if _, err := e.Submit(context.Background(), Envelope{From: "x@other.example", To: []string{"scoped@d3.test"}},
		[]byte("Subject: x\r\n\r\nx\r\n")); !errors.Is(err, ErrSuppressed) {
		t.Fatalf("scoped entry: %v", err)
	}
	if ok, err := e.Unsuppress("", "GONE@d3.test"); !ok || err != nil {
		t.Fatalf("unsuppress: %v %v", ok, err)
	}
	submit(t, e, "news@sender.example", "gone@d3.test")
	waitFor(t, "delivery once lifted", func() bool { return w.deliveredTo("d3.test") == 3 })
}

func TestSuppression_HardBounceOfABadMailboxSuppresses_AndSurvivesRestart(t *testing.T) {
	w := newWorld(t, 0)
	dir := t.TempDir()
	e := w.engine(t, dir, nil)
	submitNull(t, e, "bounce1@d4.test")
	waitFor(t, "the bounce suppressed", func() bool { return len(e.Suppressions("*", "", 0)) == 1 })
	en := e.Suppressions("*", "", 0)[0]
	if en.Address != "bounce1@d4.test" || en.Reason != "bad-mailbox" || !strings.Contains(en.Source, "550") {
		t.Fatalf("entry: %+v", en)
	}
	e.Close()
	e = w.engine(t, dir, nil)
	defer e.Close()
	if _, err := e.Submit(context.Background(), Envelope{From: "", To: []string{"bounce1@d4.test"}},
		[]byte("Subject: x\r\n\r\nx\r\n")); !errors.Is(err, ErrSuppressed) {
		t.Fatalf("after restart: %v", err)
	}
}
