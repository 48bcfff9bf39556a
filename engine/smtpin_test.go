package engine

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/sluice-mta/sluice/configs"
	"github.com/sluice-mta/sluice/engine/receive"
	"github.com/sluice-mta/sluice/engine/spool"
)

func mustPrefixes(t *testing.T, ss ...string) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

type spoolRecipient = spool.Recipient

func TestSMTP_InjectWithSluiceHeaders_StoredOnEnvelopeAndStripped(t *testing.T) {
	e, _ := testEngine(t, func(c *configs.Config) {
		c.VMTAs = []configs.VMTA{{Name: "ip1", SourceIP: "127.0.0.2", HELO: "mta1.sluice.test"}}
		c.Pools = []configs.Pool{{Name: "bulk", Members: []configs.PoolMember{{VMTA: "ip1"}}}}
	})
	defer e.Close()
	srv, err := receive.NewServer(receive.Config{Hostname: "mx.sluice.test", Logger: slog.New(slog.DiscardHandler),
		RelayNetworks: mustPrefixes(t, "127.0.0.0/8")}, e.SMTPSubmitter())
	if err != nil {
		t.Fatal(err)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() { _ = srv.Serve(l) }()
	defer srv.Shutdown(context.Background())

	msg := "X-Sluice-VMTA: ip1\r\nX-Sluice-Pool: bulk\r\nX-Sluice-Campaign: spring\r\nSubject: t\r\n\r\nbody\r\n"
	if err := sendMail(l.Addr().String(), "a@x.test", []string{"b@y.test"}, msg); err != nil {
		t.Fatal(err)
	}
	var id string
	for _, q := range e.spool.Queues() {
		if q.VMTA != "ip1" || q.Domain != "y.test" {
			t.Fatalf("queue %+v, want vmta ip1 domain y.test", q)
		}
	}
	_ = e.spool.Recipients(func(r spoolRecipient) bool { id = r.MsgID; return false })
	env, err := e.spool.Envelope(id)
	if err != nil {
		t.Fatal(err)
	}
	if env.VMTA != "ip1" || env.Pool != "bulk" || env.Campaign != "spring" || !strings.HasPrefix(env.Source, "smtp 127.0.0.1") {
		t.Fatalf("envelope %+v", env)
	}
	err = sendMail(l.Addr().String(), "a@x.test", []string{"b@y.test"}, "X-Sluice-VMTA: nope\r\nSubject: t\r\n\r\nbody\r\n")
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 554 || !strings.Contains(se.Message, `unknown vmta "nope"`) {
		t.Fatalf("unknown vmta: %v, want 554 naming it", err)
	}
	body, _ := e.spool.Body(id)
	if strings.Contains(string(body), "X-Sluice") || !strings.HasPrefix(string(body), "Received: ") ||
		!strings.Contains(string(body), "Message-ID: ") || !strings.HasSuffix(string(body), "\r\n\r\nbody\r\n") {
		t.Fatalf("stored body:\n%s", body)
	}
}

func TestSMTP_LowSpace_Refuses452AtMail(t *testing.T) {
	e, _ := testEngine(t, func(c *configs.Config) { c.Spool.MinFreeSpace = 1 << 60 })
	defer e.Close()
	srv, err := receive.NewServer(receive.Config{Hostname: "mx.sluice.test", Logger: slog.New(slog.DiscardHandler),
		RelayNetworks: mustPrefixes(t, "127.0.0.0/8")}, e.SMTPSubmitter())
	if err != nil {
		t.Fatal(err)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() { _ = srv.Serve(l) }()
	defer srv.Shutdown(context.Background())
	err = sendMail(l.Addr().String(), "a@x.test", []string{"b@y.test"}, "Subject: t\r\n\r\nx\r\n")
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 452 || se.EnhancedCode != (smtp.EnhancedCode{4, 3, 1}) {
		t.Fatalf("err = %v, want 452 4.3.1", err)
	}
	if st := e.SpoolStats(); st.Messages != 0 {
		t.Fatalf("stored: %+v", st)
	}
}

// sendMail sends one message in plain text (smtp.SendMail insists on STARTTLS).
func sendMail(addr, from string, to []string, msg string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(msg)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}
