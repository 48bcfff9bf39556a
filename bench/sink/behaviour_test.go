package sink

import (
	"errors"
	"io"
	"maps"
	"net"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// rawConn is a client that speaks SMTP line by line, for exact replies and
// pipelining.
type rawConn struct {
	t *testing.T
	*textproto.Conn
	nc net.Conn
}

// dialRaw connects to addr, reads the greeting and says EHLO.
func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c := newRawConn(t, addr)
	c.expect(220)
	c.cmd(250, "EHLO client.test")
	return c
}

// newRawConn connects to addr and reads nothing.
func newRawConn(t *testing.T, addr string) *rawConn { return newRawConnFrom(t, "", addr) }

// newRawConnFrom connects to addr from the local IP src ("": any).
func newRawConnFrom(t *testing.T, src, addr string) *rawConn {
	t.Helper()
	var d net.Dialer
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, Conn: textproto.NewConn(nc), nc: nc}
}

// waitUntil polls cond for up to 5s.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// reply reads one reply and returns its code and text.
func (c *rawConn) reply() (int, string) {
	c.t.Helper()
	code, msg, err := c.ReadResponse(0)
	if err != nil {
		c.t.Fatalf("read reply: %v", err)
	}
	return code, msg
}

// expect reads one reply and fails the test unless it has code.
func (c *rawConn) expect(code int) string {
	c.t.Helper()
	got, msg := c.reply()
	if got != code {
		c.t.Fatalf("reply %d %s, want %d", got, msg, code)
	}
	return msg
}

// cmd sends line and expects a reply with code.
func (c *rawConn) cmd(code int, line string) string {
	c.t.Helper()
	if err := c.PrintfLine("%s", line); err != nil {
		c.t.Fatal(err)
	}
	return c.expect(code)
}

// expectClosed fails the test unless the server has closed the connection.
func (c *rawConn) expectClosed() {
	c.t.Helper()
	if line, err := c.ReadLine(); !errors.Is(err, io.EOF) {
		c.t.Fatalf("read after close = %q, %v; want EOF", line, err)
	}
}

// sendPartial sends one message over a new connection, to those of rcpts
// that the sink accepts (unlike SendMail, which gives up at the first
// refusal), and returns the DATA error.
func sendPartial(t *testing.T, addr string, rcpts []string, body string) error {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail("a@src.test", nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range rcpts {
		_ = c.Rcpt(r, nil) // the sink counts the refusals
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, body)
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func TestSink_Behaviours_RcptReplyByLocalPart(t *testing.T) {
	for _, tc := range []struct {
		rcpt  string
		code  int
		text  string // the reply text, enhanced code included
		close bool
	}{
		{"user@a.test", 250, "", false},
		{"bounce@a.test", 550, "5.1.1 <bounce@a.test>: Recipient address rejected: User unknown", false},
		{"Bounce7@a.test", 550, "5.1.1 <Bounce7@a.test>: Recipient address rejected: User unknown", false},
		{"defer-1@a.test", 451, "4.7.1 <defer-1@a.test>: Try again later", false},
		{"throttle@a.test", 421, "4.7.0 Too many messages, slow down", true},
		{"slow@a.test", 250, "", false},
		{"x.bounce@a.test", 250, "", false}, // a prefix, not a substring
	} {
		t.Run(tc.rcpt, func(t *testing.T) {
			_, addr := testSink(t, Config{Behaviours: true, SlowDelay: time.Millisecond})
			c := dialRaw(t, addr)
			c.cmd(250, "MAIL FROM:<a@src.test>")
			msg := c.cmd(tc.code, "RCPT TO:<"+tc.rcpt+">")
			if tc.text != "" && msg != tc.text {
				t.Errorf("reply text %q, want %q", msg, tc.text)
			}
			if tc.close {
				c.expectClosed()
			} else {
				c.cmd(250, "NOOP")
			}
		})
	}
}

func TestSink_BehavioursOff_AcceptsEveryone(t *testing.T) {
	s, addr := testSink(t, Config{})
	rcpts := []string{"bounce@a.test", "defer@a.test", "throttle@a.test", "slow@a.test"}
	if err := send(t, addr, rcpts, "x\r\n"); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Recipients != 4 {
		t.Errorf("recipients %d, want 4", st.Recipients)
	}
}

func TestSink_Slow_DelaysRcptReply(t *testing.T) {
	const delay = 100 * time.Millisecond
	_, addr := testSink(t, Config{Behaviours: true, SlowDelay: delay})
	c := dialRaw(t, addr)
	c.cmd(250, "MAIL FROM:<a@src.test>")

	start := time.Now()
	c.cmd(250, "RCPT TO:<fast@a.test>")
	if d := time.Since(start); d >= delay {
		t.Errorf("fast@ took %v, want under %v", d, delay)
	}
	start = time.Now()
	c.cmd(250, "RCPT TO:<slow1@a.test>")
	if d := time.Since(start); d < delay {
		t.Errorf("slow1@ took %v, want at least %v", d, delay)
	}
}

func TestSink_Slow_CloseCutsDelayShort(t *testing.T) {
	s, addr := testSink(t, Config{Behaviours: true, SlowDelay: time.Hour})
	c := dialRaw(t, addr)
	if err := c.PrintfLine("MAIL FROM:<a@src.test>\r\nRCPT TO:<slow@a.test>"); err != nil {
		t.Fatal(err)
	}
	c.expect(250) // MAIL; the RCPT is now waiting, or about to

	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close waits for a slow RCPT")
	}
}

func TestSink_Throttle_ClosesConnectionAndIgnoresPipelinedRest(t *testing.T) {
	s, addr := testSink(t, Config{Behaviours: true})
	c := dialRaw(t, addr)
	// One write: go-smtp has the commands after the 421 in its buffer.
	if err := c.PrintfLine("MAIL FROM:<a@src.test>\r\nRCPT TO:<ok@a.test>\r\n" +
		"RCPT TO:<throttle@a.test>\r\nRCPT TO:<ok2@a.test>\r\nDATA"); err != nil {
		t.Fatal(err)
	}
	c.expect(250)
	c.expect(250)
	c.expect(421)
	c.expectClosed()

	st := s.Stats()
	if want := map[string]int64{"250": 1, "421": 1}; !maps.Equal(st.ByCode, want) {
		t.Errorf("by code %v, want %v", st.ByCode, want)
	}
	if st.Messages != 0 || st.Transactions != 1 {
		t.Errorf("messages %d transactions %d, want 0 1", st.Messages, st.Transactions)
	}
}

func TestSink_SetBehaviour_DeferThenDeliver(t *testing.T) {
	s, addr := testSink(t, Config{Behaviours: true})
	rcpts := []string{"defer1@a.test", "defer7@a.test"}
	for _, r := range rcpts {
		var se *smtp.SMTPError
		if err := send(t, addr, []string{r}, "x\r\n"); !errors.As(err, &se) || se.Code != 451 {
			t.Fatalf("first try to %s: %v, want 451", r, err)
		}
	}

	s.SetBehaviour("defer7", Accept) // the longest prefix wins
	var se *smtp.SMTPError
	if err := send(t, addr, []string{"defer1@a.test"}, "x\r\n"); !errors.As(err, &se) || se.Code != 451 {
		t.Fatalf("retry to defer1 after SetBehaviour(defer7): %v, want 451", err)
	}
	if err := send(t, addr, []string{"defer7@a.test"}, "x\r\n"); err != nil {
		t.Fatalf("retry to defer7: %v", err)
	}

	s.SetBehaviour("defer", Accept)
	if err := send(t, addr, []string{"defer1@a.test"}, "x\r\n"); err != nil {
		t.Fatalf("retry to defer1: %v", err)
	}

	st := s.Stats()
	if want := map[string]int64{"a.test": 2}; st.Recipients != 2 || !maps.Equal(st.ByDomain, want) {
		t.Errorf("recipients %d by domain %v, want 2 %v", st.Recipients, st.ByDomain, want)
	}
	if want := map[string]int64{"451": 3, "250": 4}; !maps.Equal(st.ByCode, want) {
		t.Errorf("by code %v, want %v", st.ByCode, want)
	}
}

func TestSink_SetAcceptAll_SwitchesScriptOffAndOn(t *testing.T) {
	s, addr := testSink(t, Config{Behaviours: true})
	s.SetAcceptAll(true)
	if err := send(t, addr, []string{"bounce@a.test"}, "x\r\n"); err != nil {
		t.Fatalf("accept all: %v", err)
	}
	s.SetAcceptAll(false)
	var se *smtp.SMTPError
	if err := send(t, addr, []string{"bounce@a.test"}, "x\r\n"); !errors.As(err, &se) || se.Code != 550 {
		t.Fatalf("script back on: %v, want 550", err)
	}

	// Config.Behaviours false starts in accept-all; SetAcceptAll(false)
	// brings the default rules.
	s2, addr2 := testSink(t, Config{})
	s2.SetAcceptAll(false)
	if err := send(t, addr2, []string{"bounce@a.test"}, "x\r\n"); !errors.As(err, &se) || se.Code != 550 {
		t.Fatalf("Behaviours off then SetAcceptAll(false): %v, want 550", err)
	}
}

func TestSink_ByCode_CountsRcptAndDataReplies(t *testing.T) {
	s, addr := testSink(t, Config{Behaviours: true})
	if err := sendPartial(t, addr, []string{"ok@a.test", "bounce@a.test", "defer@b.test", "ok@b.test"}, "x\r\n"); err != nil {
		t.Fatal(err)
	}

	st := s.Stats()
	if want := map[string]int64{"250": 3, "550": 1, "451": 1}; !maps.Equal(st.ByCode, want) {
		t.Errorf("by code %v, want %v", st.ByCode, want)
	}
	if want := map[string]int64{"a.test": 1, "b.test": 1}; st.Recipients != 2 || !maps.Equal(st.ByDomain, want) {
		t.Errorf("recipients %d by domain %v, want 2 %v", st.Recipients, st.ByDomain, want)
	}
	if st.Transactions != 1 || st.Messages != 1 {
		t.Errorf("transactions %d messages %d, want 1 1", st.Transactions, st.Messages)
	}

	s.Reset()
	if st := s.Stats(); len(st.ByCode) != 0 || st.Transactions != 0 {
		t.Errorf("after Reset by code %v transactions %d, want none", st.ByCode, st.Transactions)
	}
}

func TestSink_TrackDuplicates_CountsAddressesDeliveredTwice(t *testing.T) {
	s, addr := testSink(t, Config{TrackDuplicates: true})
	for _, rcpts := range [][]string{
		{"a@x.test", "b@x.test"},
		{"a@X.TEST"},                  // a again: 1 duplicate
		{"a@x.test", "c@x.test"},      // a a third time: still 1
		{"b@x.test", "A@x.test"},      // b again: 2; A is not a
		{"b@y.test", "bounce@x.test"}, // new addresses
	} {
		if err := send(t, addr, rcpts, "x\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Stats().Duplicates; n != 2 {
		t.Errorf("duplicates %d, want 2", n)
	}
	if !s.Delivered("c@X.test") || !s.Delivered("A@x.test") || s.Delivered("d@x.test") {
		t.Error("Delivered disagrees with what was accepted")
	}
	s.Reset()
	if err := send(t, addr, []string{"a@x.test"}, "x\r\n"); err != nil {
		t.Fatal(err)
	}
	if n := s.Stats().Duplicates; n != 0 {
		t.Errorf("duplicates after Reset and one delivery %d, want 0", n)
	}
}

func TestSink_TrackDuplicates_OnlyAcceptedRecipientsOfDeliveredMessages(t *testing.T) {
	s, addr := testSink(t, Config{Behaviours: true, TrackDuplicates: true, MaxMessageBytes: 64})
	// defer@ is refused twice, big@'s message is refused twice: neither is
	// delivered, so neither is a duplicate.
	for range 2 {
		if err := sendPartial(t, addr, []string{"ok@x.test", "defer@x.test"}, "x\r\n"); err != nil {
			t.Fatal(err)
		}
		if err := sendPartial(t, addr, []string{"big@x.test"}, strings.Repeat("x", 100)+"\r\n"); err == nil {
			t.Fatal("message over MaxMessageBytes accepted")
		}
	}
	if st := s.Stats(); st.Duplicates != 1 || st.Recipients != 2 {
		t.Errorf("duplicates %d recipients %d, want 1 (ok@) 2", st.Duplicates, st.Recipients)
	}
}

func TestSink_TrackDuplicatesOff_CountsNone(t *testing.T) {
	s, addr := testSink(t, Config{})
	for range 2 {
		if err := send(t, addr, []string{"a@x.test"}, "x\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Stats().Duplicates; n != 0 {
		t.Errorf("duplicates %d, want 0 without TrackDuplicates", n)
	}
}

func TestSink_PipelinedTransactions_CountsOnlyOneReadTransactions(t *testing.T) {
	s, addr := testSink(t, Config{})
	c := dialRaw(t, addr)
	if err := c.PrintfLine("MAIL FROM:<a@src.test>\r\nRCPT TO:<b@a.test>\r\nRCPT TO:<c@a.test>\r\nDATA"); err != nil {
		t.Fatal(err)
	}
	c.expect(250)
	c.expect(250)
	c.expect(250)
	c.expect(354)
	c.cmd(250, "x\r\n.")

	// Command by command, each after the last reply.
	c.cmd(250, "MAIL FROM:<a@src.test>")
	c.cmd(250, "RCPT TO:<b@a.test>")
	c.cmd(354, "DATA")
	c.cmd(250, "x\r\n.")

	st := s.Stats()
	if st.Transactions != 2 || st.PipelinedTransactions != 1 || st.Messages != 2 {
		t.Errorf("transactions %d pipelined %d messages %d, want 2 1 2",
			st.Transactions, st.PipelinedTransactions, st.Messages)
	}
}

func TestScript_Match(t *testing.T) {
	sc := new(script)
	sc.init(&Config{Behaviours: true}, nil)
	sc.mu.rules["defer7"] = Accept
	sc.mu.rules[""] = Bounce
	sc.publish()
	for _, tc := range []struct {
		addr string
		want Behaviour
	}{
		{"bounce@a.test", Bounce},
		{"DEFER@a.test", Defer},
		{"defer1@a.test", Defer},
		{"defer77@a.test", Accept}, // longer prefix wins
		{"throttle.x@a.test", Throttle},
		{"slowpoke@a.test", Slow},
		{"someone@a.test", Bounce}, // "" is the fallback
		{"slow", Slow},             // no domain: all local part
		{"user@slow.test", Bounce}, // the domain does not count
	} {
		if got := sc.match(tc.addr); got != tc.want {
			t.Errorf("match(%q) = %v, want %v", tc.addr, got, tc.want)
		}
	}
	sc.update(func() { sc.mu.acceptAll = true })
	if got := sc.match("bounce@a.test"); got != Accept {
		t.Errorf("accept all: match(bounce@) = %v, want accept", got)
	}
}

func TestParseBehaviour_RoundTrips(t *testing.T) {
	for b := Accept; b <= Slow; b++ {
		got, err := ParseBehaviour(strings.ToUpper(b.String()))
		if err != nil || got != b {
			t.Errorf("ParseBehaviour(%q) = %v, %v", b, got, err)
		}
	}
	if _, err := ParseBehaviour("explode"); err == nil {
		t.Error("ParseBehaviour(explode) succeeded")
	}
}

func TestCanonicalAddr(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a@x.test", "a@x.test"},
		{"A@X.Test", "A@x.test"},
		{"postmaster", "postmaster"},
	} {
		if got := canonicalAddr(tc.in); got != tc.want {
			t.Errorf("canonicalAddr(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
