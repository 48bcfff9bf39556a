package client

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// paramsBackend records the ESMTP parameters a go-smtp server parsed.
type paramsBackend struct {
	mu     sync.Mutex
	envID  string
	ret    smtp.DSNReturn
	notify []smtp.DSNNotify
	from   string
	to     string
}

type paramsSession struct{ be *paramsBackend }

func (be *paramsBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return paramsSession{be}, nil }
func (paramsSession) Reset()                                          {}
func (paramsSession) Logout() error                                   { return nil }
func (s paramsSession) Mail(from string, o *smtp.MailOptions) error {
	s.be.mu.Lock()
	defer s.be.mu.Unlock()
	s.be.from, s.be.envID, s.be.ret = from, o.EnvelopeID, o.Return
	return nil
}
func (s paramsSession) Rcpt(to string, o *smtp.RcptOptions) error {
	s.be.mu.Lock()
	defer s.be.mu.Unlock()
	s.be.to, s.be.notify = to, o.Notify
	return nil
}
func (paramsSession) Data(r io.Reader) error { _, err := io.Copy(io.Discard, r); return err }

// printableEnvID reports whether s is an ENVID a conforming server takes
// back unchanged (RFC 3461 4.4: printable US-ASCII, at most 100 characters).
func printableEnvID(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

var (
	fuzzRets    = []string{"", "FULL", "HDRS", "hdrs", "BOGUS", "FULL\r\nRSET"}
	fuzzNotifys = []string{"", "NEVER", "SUCCESS", "FAILURE,DELAY", "SUCCESS,FAILURE,DELAY", "never", "SOMETIMES", "FAILURE\r\nQUIT"}
)

// FuzzESMTPParams: reliability row 22 (ESMTP parameters). Whatever the DSN
// fields hold, the client writes MAIL and RCPT parameters that a real
// server (go-smtp, with DSN) accepts, so that a bad optional parameter never
// bounces the message; a printable ENVID and RET arrive unchanged through
// the xtext encoding, NOTIFY as sent.
func FuzzESMTPParams(f *testing.F) {
	f.Add("id+1=2 é", uint8(1), uint8(3))
	f.Add("", uint8(0), uint8(0))
	f.Add("\x00\r\n.\r\nQUIT", uint8(5), uint8(7))
	f.Add(string(make([]byte, 150)), uint8(2), uint8(1))
	f.Add("+2B", uint8(4), uint8(6))
	be := &paramsBackend{}
	srv := smtp.NewServer(be)
	srv.Domain, srv.EnableDSN = "mx.test", true
	srv.ReadTimeout, srv.WriteTimeout = 5*time.Second, 5*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	f.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			f.Errorf("Serve: %v", err)
		}
	})
	c, err := Dial(f.Context(), ln.Addr().String(), "", testOptions())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { c.Close() })

	f.Fuzz(func(t *testing.T, envID string, retSel, notifySel uint8) {
		ret, notify := fuzzRets[int(retSel)%len(fuzzRets)], fuzzNotifys[int(notifySel)%len(fuzzNotifys)]
		tx := &Transaction{From: "f@x.test", To: []string{"a@example.com"}, Body: body("hi\r\n"),
			DSN: &DSN{Ret: ret, EnvID: envID, Notify: notify}}
		res, err := c.Send(t.Context(), tx)
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
		if !res.Mail.Positive() || !res.Rcpt[0].Positive() || !res.Delivered(0) {
			t.Fatalf("ENVID %q RET %q NOTIFY %q refused: MAIL %v RCPT %v", envID, ret, notify, res.Mail, res.Rcpt[0])
		}
		be.mu.Lock()
		gotID, gotRet, gotNotify := be.envID, string(be.ret), be.notify
		be.mu.Unlock()
		if printableEnvID(envID) && gotID != envID {
			t.Fatalf("ENVID %q arrived as %q", envID, gotID)
		}
		if (ret == "FULL" || ret == "HDRS") && gotRet != ret {
			t.Fatalf("RET %q arrived as %q", ret, gotRet)
		}
		if notify == "FAILURE,DELAY" && len(gotNotify) != 2 {
			t.Fatalf("NOTIFY %q arrived as %v", notify, gotNotify)
		}
	})
}
