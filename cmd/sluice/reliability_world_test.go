package main

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sluice-mta/sluice/bench/fakedns"
)

// The reliability suite (RELIABILITY.md) drives real `sluice serve`
// processes against a loopback Internet: a fake DNS whose *.test domains
// have 127.0.0.1 as MX, and a recording receiver on that MX port that keeps
// every recipient it accepted. Each test has a short CI form; SLUICE_SOAK=1
// selects the long form and SLUICE_SOAK_SUMMARY names a file each test
// appends its summary row to (`make soak` prints them as a table).

// soak reports whether the long forms run (SLUICE_SOAK=1).
func soak() bool { return os.Getenv("SLUICE_SOAK") == "1" }

// scale returns ci, or soakN under SLUICE_SOAK=1, or env's integer when set.
func scale(t *testing.T, env string, ci, soakN int) int {
	t.Helper()
	if s := os.Getenv(env); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("%s=%q: want a positive integer", env, s)
		}
		return n
	}
	if soak() {
		return soakN
	}
	return ci
}

// summaryRow appends one row to $SLUICE_SOAK_SUMMARY (tab-separated:
// scenario, runs, acked, delivered, lost, duplicated, note); nothing when
// the variable is unset.
func summaryRow(t *testing.T, scenario string, runs, acked, delivered, lost, dup int, note string) {
	t.Helper()
	t.Logf("summary: %s runs=%d acked=%d delivered=%d lost=%d duplicated=%d %s", scenario, runs, acked, delivered, lost, dup, note)
	path := os.Getenv("SLUICE_SOAK_SUMMARY")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Errorf("summary file: %v", err)
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s\t%d\t%d\t%d\t%d\t%d\t%s\n", scenario, runs, acked, delivered, lost, dup, note)
}

// inet is the loopback Internet of a reliability test.
type inet struct {
	dns *fakedns.Server
	rec *recorder
}

// newInet starts the fake DNS and the recording receiver.
func newInet(t *testing.T) *inet {
	t.Helper()
	d, err := fakedns.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	d.Synthetic("test", 0, netip.MustParseAddr("127.0.0.1"))
	return &inet{dns: d, rec: startRecorder(t)}
}

// yaml is the configuration that delivers into this Internet; retry is the
// delivery.retry_after list.
func (n *inet) yaml(retry string) string {
	return fmt.Sprintf("dns:\n  resolvers: [%q]\ndelivery:\n  mx_port: %d\n  tls: \"off\"\n  retry_after: %s\n",
		n.dns.Addr(), n.rec.port, retry)
}

// recorder is an SMTP receiver that records each recipient of each message
// it accepted (250 after DATA). Delay holds the DATA reply, so that
// transactions are in flight when a test kills the sender.
type recorder struct {
	srv  *smtp.Server
	port int

	mu        sync.Mutex
	got       map[string]int // address -> deliveries
	total     int            // recipient deliveries, duplicates included
	delay     time.Duration
	dropStage string            // "", or the stage at which to drop the next connections
	drops     int               // how many connections still to drop
	stages    map[string]string // remote address -> the stage its session drops at
	conns     int               // connections accepted (dropped at greeting included)
}

func startRecorder(t *testing.T) *recorder {
	t.Helper()
	r := &recorder{got: map[string]int{}, stages: map[string]string{}}
	r.srv = smtp.NewServer(r)
	r.srv.Domain = "mx.test"
	r.srv.AllowInsecureAuth = true
	r.srv.ErrorLog = log.New(io.Discard, "", 0) // drops and kills are the point here
	r.srv.MaxRecipients = 1000
	r.srv.ReadTimeout, r.srv.WriteTimeout = time.Minute, time.Minute
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.port = l.Addr().(*net.TCPAddr).Port
	go func() { _ = r.srv.Serve(recListener{Listener: l, r: r}) }()
	t.Cleanup(func() { _ = r.srv.Close() })
	return r
}

func (r *recorder) setDelay(d time.Duration) {
	r.mu.Lock()
	r.delay = d
	r.mu.Unlock()
}

// dropAt makes the next n connections drop (close without a reply) at
// stage: "greeting", "ehlo", "mail", "rcpt", "data" (after the DATA
// command) or "dot" (after the final dot, before the reply: the message is
// then recorded, since the receiver has it, and its retry is a duplicate).
func (r *recorder) dropAt(stage string, n int) {
	r.mu.Lock()
	r.dropStage, r.drops = stage, n
	r.mu.Unlock()
}

// deliveries returns how many times addr was delivered.
func (r *recorder) deliveries(addr string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[addr]
}

// connections returns how many connections were accepted.
func (r *recorder) connections() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conns
}

// counts returns distinct addresses delivered and recipient deliveries.
func (r *recorder) counts() (distinct, total int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got), r.total
}

// recListener drops a connection at accept when the next drop is at the
// greeting, and otherwise notes the stage its session must drop at.
type recListener struct {
	net.Listener
	r *recorder
}

func (l recListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		r := l.r
		r.mu.Lock()
		stage := ""
		if r.drops > 0 {
			stage = r.dropStage
			r.drops--
		}
		if stage != "" && stage != "greeting" {
			r.stages[c.RemoteAddr().String()] = stage
		}
		r.conns++
		r.mu.Unlock()
		if stage == "greeting" {
			_ = c.Close()
			continue
		}
		return c, nil
	}
}

// NewSession implements smtp.Backend; go-smtp calls it at EHLO.
func (r *recorder) NewSession(c *smtp.Conn) (smtp.Session, error) {
	r.mu.Lock()
	key := c.Conn().RemoteAddr().String()
	stage := r.stages[key]
	delete(r.stages, key)
	r.mu.Unlock()
	s := &recSession{r: r, c: c, drop: stage}
	if err := s.dropped("ehlo"); err != nil {
		return nil, err
	}
	return s, nil
}

type recSession struct {
	r     *recorder
	c     *smtp.Conn
	drop  string
	rcpts []string
}

// hangUp closes the TCP connection without a reply.
func (s *recSession) hangUp() { _ = s.c.Conn().Close() }

// dropped hangs up when stage is this session's drop stage; the error it
// returns is never seen by the client.
func (s *recSession) dropped(stage string) error {
	if s.drop != stage {
		return nil
	}
	s.hangUp()
	return &smtp.SMTPError{Code: 421, Message: "dropped"}
}

func (s *recSession) Mail(string, *smtp.MailOptions) error { return s.dropped("mail") }

func (s *recSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := s.dropped("rcpt"); err != nil {
		return err
	}
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *recSession) Data(rd io.Reader) error {
	if err := s.dropped("data"); err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, rd); err != nil {
		return err
	}
	s.r.mu.Lock()
	for _, a := range s.rcpts {
		s.r.got[strings.ToLower(a)]++
		s.r.total++
	}
	delay := s.r.delay
	s.r.mu.Unlock()
	if err := s.dropped("dot"); err != nil {
		return err
	}
	time.Sleep(delay)
	return nil
}

func (s *recSession) Reset()        { s.rcpts = nil }
func (s *recSession) Logout() error { return nil }

// waitUntil polls cond every 50 ms until it holds or limit passes.
func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
