package client

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// goSMTPBackend records what a real go-smtp server received.
type goSMTPBackend struct {
	mu    sync.Mutex
	msgs  []goSMTPMsg
	rcpts []string
}

type goSMTPMsg struct {
	from  string
	rcpts []string
	body  string
}

type goSMTPSession struct {
	be    *goSMTPBackend
	from  string
	rcpts []string
}

func (be *goSMTPBackend) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &goSMTPSession{be: be}, nil
}

func (s *goSMTPSession) Reset()        { s.from, s.rcpts = "", nil }
func (s *goSMTPSession) Logout() error { return nil }
func (s *goSMTPSession) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

func (s *goSMTPSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if strings.HasPrefix(to, "unknown") {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *goSMTPSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.be.mu.Lock()
	s.be.msgs = append(s.be.msgs, goSMTPMsg{from: s.from, rcpts: s.rcpts, body: string(b)})
	s.be.mu.Unlock()
	return nil
}

func newGoSMTPServer(t *testing.T) (*goSMTPBackend, string) {
	t.Helper()
	be := &goSMTPBackend{}
	srv := smtp.NewServer(be)
	srv.Domain = "mx.test"
	srv.MaxMessageBytes = 10 << 20
	srv.ReadTimeout, srv.WriteTimeout = 5*time.Second, 5*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return be, ln.Addr().String()
}

func TestSend_GoSMTPPeer_100Recipients(t *testing.T) {
	be, addr := newGoSMTPServer(t)
	opts := testOptions()
	c, err := Dial(t.Context(), addr, "", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.Pipelining() || c.MaxSize() != 10<<20 {
		t.Errorf("go-smtp extensions: %v", c.Extensions())
	}
	to := make([]string, 100)
	for i := range to {
		to[i] = fmt.Sprintf("user%d@example.com", i)
	}
	to[42] = "unknown@example.com"
	in := "Subject: hello\n\n.\n..leading dots\r\nbare\rcr\r\nlast line"
	for round := range 3 {
		res, err := c.Send(t.Context(), &Transaction{From: "bounce@sender.test", To: to, Body: strings.NewReader(in), Size: int64(len(in)), Body8Bit: true})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for i := range to {
			if got, want := res.Delivered(i), i != 42; got != want {
				t.Errorf("round %d rcpt %d: Delivered %v, outcome %v", round, i, got, res.Outcome(i))
			}
		}
		if o := res.Outcome(42); o.Code != 550 || o.Enhanced != "5.1.1" {
			t.Errorf("Outcome(42) = %+v", o)
		}
	}
	if err := c.Quit(); err != nil {
		t.Errorf("Quit: %v", err)
	}
	be.mu.Lock()
	defer be.mu.Unlock()
	if len(be.msgs) != 3 {
		t.Fatalf("server got %d messages, want 3", len(be.msgs))
	}
	m := be.msgs[2]
	if len(m.rcpts) != 99 || m.from != "bounce@sender.test" {
		t.Errorf("from %q, %d rcpts", m.from, len(m.rcpts))
	}
	if want := normalise([]byte(in)); m.body != want {
		t.Errorf("body %q, want %q", m.body, want)
	}
}
