package engine

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-mta/sluice/configs"
	"github.com/sluice-mta/sluice/engine/dsn"
	"github.com/sluice-mta/sluice/engine/receive"
)

// Reliability rows 13, 25 and 29 of the suite (issue #10), through the whole
// engine: SMTP injection, spool, scheduler, delivery client, receiver.

// rawSink is an SMTP receiver that keeps each message's data exactly as it
// came on the wire (still dot-stuffed, without the final ".\r\n").
type rawSink struct {
	addr string
	ln   net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	msgs [][]byte
}

func startRawSink(t *testing.T) *rawSink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawSink{addr: ln.Addr().String(), ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				s.serve(c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

func (s *rawSink) serve(c net.Conn) {
	r := bufio.NewReader(c)
	say := func(line string) { _, _ = c.Write([]byte(line + "\r\n")) }
	say("220 raw.test ESMTP")
	for {
		_ = c.SetDeadline(time.Now().Add(time.Minute))
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		switch verb, _, _ := strings.Cut(strings.ToUpper(strings.TrimSpace(line)), " "); verb {
		case "EHLO":
			say("250-raw.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 209715200")
		case "DATA":
			say("354 go ahead")
			var data []byte
			for {
				l, err := r.ReadBytes('\n')
				if err != nil {
					return
				}
				if string(l) == ".\r\n" {
					break
				}
				data = append(data, l...)
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, data)
			s.mu.Unlock()
			say("250 2.0.0 kept")
		case "QUIT":
			say("221 bye")
			return
		default: // MAIL, RCPT, RSET, NOOP
			say("250 2.0.0 ok")
		}
	}
}

func (s *rawSink) messages() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.msgs...)
}

// wireProblem says why raw (DATA as it came on the wire) is not CRLF-only
// and correctly dot-stuffed, or returns "".
func wireProblem(raw []byte) string {
	for i, c := range raw {
		switch {
		case c == '\r' && (i+1 >= len(raw) || raw[i+1] != '\n'):
			return fmt.Sprintf("bare CR at %d", i)
		case c == '\n' && (i == 0 || raw[i-1] != '\r'):
			return fmt.Sprintf("bare LF at %d", i)
		}
	}
	if len(raw) > 0 && !bytes.HasSuffix(raw, []byte("\r\n")) {
		return "no final CRLF"
	}
	for line := range bytes.SplitSeq(raw, []byte("\r\n")) {
		if string(line) == "." {
			return "a lone dot line"
		}
	}
	return ""
}

// unstuffWire removes one leading dot from each CRLF line of raw.
func unstuffWire(raw []byte) []byte {
	var out []byte
	for line := range bytes.SplitAfterSeq(raw, []byte("\r\n")) {
		out = append(out, bytes.TrimPrefix(line, []byte("."))...)
	}
	return out
}

// stuffWire applies SMTP transparency to a CRLF body, as a client would.
func stuffWire(body string) string {
	var b strings.Builder
	for line := range strings.SplitAfterSeq(body, "\r\n") {
		if strings.HasPrefix(line, ".") {
			b.WriteByte('.')
		}
		b.WriteString(line)
	}
	return b.String()
}

// startInjector serves the engine's SMTP injection on l (relay: loopback).
func startInjector(t *testing.T, e *Engine, l net.Listener, mutate func(*receive.Config)) {
	t.Helper()
	cfg := receive.Config{Hostname: "mx.sluice.test", Logger: slog.New(slog.DiscardHandler),
		RelayNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, MaxMessageBytes: 64 << 20}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := receive.NewServer(cfg, e.SMTPSubmitter())
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
}

// smtpSession is a hand-driven injection session.
type smtpSession struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialInjector(t *testing.T, addr string) *smtpSession {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(2 * time.Minute))
	s := &smtpSession{t: t, c: c, r: bufio.NewReader(c)}
	s.expect("", "220")
	s.expect("EHLO client.test\r\n", "250 ")
	return s
}

// expect writes out (if any) and reads replies until a final line, which
// must start with want.
func (s *smtpSession) expect(out, want string) {
	s.t.Helper()
	if out != "" {
		if _, err := s.c.Write([]byte(out)); err != nil {
			s.t.Fatal(err)
		}
	}
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			s.t.Fatalf("after %.60q: %v", out, err)
		}
		if len(line) >= 4 && line[3] == '-' {
			continue
		}
		if !strings.HasPrefix(line, want) {
			s.t.Fatalf("after %.60q: got %q, want %s", out, line, want)
		}
		return
	}
}

// Reliability rows 29 and 13: DATA edge cases injected over SMTP reach the
// receiving MTA with only CRLF lines, correctly dot-stuffed, and the body
// byte for byte (a body without a final CRLF, possible only with BDAT, gets
// one: SMTP data always ends with CRLF "."). CI sends 2 MiB as the large
// message; SLUICE_SOAK=1 sends 50 MiB.
func TestReliability29_DataEdgeCases_ArriveByteForByteThroughTheEngine(t *testing.T) {
	bigSize := 2 << 20
	if os.Getenv("SLUICE_SOAK") != "" {
		bigSize = 50 << 20
	}
	var big strings.Builder
	big.WriteString("Subject: big\r\n\r\n")
	for i := 0; big.Len() < bigSize; i++ {
		fmt.Fprintf(&big, "%s%07d %s\r\n", []string{"", ".", ".."}[i%3], i, strings.Repeat("\xe9x", 40))
	}

	w := newWorld(t, 0)
	raw := startRawSink(t)
	e := w.engine(t, t.TempDir(), func(c *configs.Config) {
		c.Routes = append(c.Routes, configs.Route{Domain: "wire.test", Hosts: []string{raw.addr}})
		c.SMTPIn.MaxMessageSize = 64 << 20
	})
	defer e.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	startInjector(t, e, l, nil)
	s := dialInjector(t, l.Addr().String())

	for i, tc := range []struct {
		name, msg string // msg: the message as the injector means it
		bdat      bool
		wantBody  string // after the header block, at the receiver
	}{
		{name: "empty message", msg: "", wantBody: ""},
		{name: "header only, no body", msg: "Subject: h\r\n", wantBody: ""},
		{name: "no final CRLF (BDAT)", msg: "Subject: x\r\n\r\nline one\r\nlast line", bdat: true, wantBody: "line one\r\nlast line\r\n"},
		{name: "leading dots", msg: "Subject: dots\r\n\r\n.\r\n..\r\n.x\r\n...\r\n. \r\n", wantBody: ".\r\n..\r\n.x\r\n...\r\n. \r\n"},
		{name: "leading dots (BDAT)", msg: "Subject: dots\r\n\r\n.\r\n.\r\n", bdat: true, wantBody: ".\r\n.\r\n"},
		{name: "8-bit", msg: "Subject: 8bit\r\n\r\n\x80\xff caf\xc3\xa9 \x00\x7f\r\n", wantBody: "\x80\xff caf\xc3\xa9 \x00\x7f\r\n"},
		{name: "large", msg: big.String(), wantBody: big.String()[len("Subject: big\r\n\r\n"):]},
	} {
		s.expect("MAIL FROM:<a@sender.example> BODY=8BITMIME\r\n", "250")
		s.expect("RCPT TO:<m"+strconv.Itoa(i)+"@wire.test>\r\n", "250")
		if tc.bdat {
			s.expect("BDAT "+strconv.Itoa(len(tc.msg))+" LAST\r\n"+tc.msg, "250")
		} else {
			s.expect("DATA\r\n", "354")
			s.expect(stuffWire(tc.msg)+".\r\n", "250")
		}
		waitFor(t, tc.name+" at the receiver", func() bool { return len(raw.messages()) == i+1 })
		wire := raw.messages()[i]
		if why := wireProblem(wire); why != "" {
			t.Fatalf("%s: %s on the wire", tc.name, why)
		}
		got := unstuffWire(wire)
		head, body, ok := bytes.Cut(got, []byte("\r\n\r\n"))
		if !ok || !bytes.HasPrefix(head, []byte("Received: from client.test")) {
			t.Fatalf("%s: no header block with our Received: %.200q", tc.name, got)
		}
		if string(body) != tc.wantBody {
			t.Fatalf("%s: body at the receiver differs (%d bytes, want %d): %.200q", tc.name, len(body), len(tc.wantBody), body)
		}
		if h, _, _ := strings.Cut(tc.msg, "\r\n"); strings.HasPrefix(h, "Subject:") && !bytes.Contains(head, []byte(h+"\r\n")) {
			t.Fatalf("%s: header %q lost: %.300q", tc.name, h, head)
		}
	}
	s.expect("QUIT\r\n", "221")
}

// Reliability row 25: a routing loop (a domain whose route leads back into
// this node's own SMTP listener) is stopped by the hop count: every pass
// adds a Received: field, the listener refuses the message once it carries
// more than max_hops (554 5.4.6), the engine bounces it, and exactly one DSN
// goes to the sender. The DSN has the null sender, so its own failure could
// not bounce again (TestDelivery_DSNThatBounces_IsDroppedNoLoop).
func TestReliability25_MailLoop_StoppedByHopCount_OneDSN(t *testing.T) {
	const maxHops = 8
	w := newWorld(t, 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := w.engine(t, t.TempDir(), func(c *configs.Config) {
		c.Routes = append(c.Routes, configs.Route{Domain: "loop.test", Hosts: []string{l.Addr().String()}})
	})
	defer e.Close()
	startInjector(t, e, l, func(c *receive.Config) { c.MaxHops = maxHops })

	submit(t, e, "alice@sender.example", "bob@loop.test")
	waitFor(t, "the DSN for the looping message", func() bool { return w.capture.count() >= 1 })
	waitFor(t, "an empty spool", func() bool { return e.SpoolStats().Recipients == 0 })
	time.Sleep(200 * time.Millisecond) // a loop that went on would show by now
	if n := w.capture.count(); n != 1 {
		t.Fatalf("%d DSNs, want exactly 1", n)
	}
	m := w.capture.messages()[0]
	if m.from != "" || len(m.to) != 1 || m.to[0] != "alice@sender.example" {
		t.Fatalf("DSN envelope from %q to %v", m.from, m.to)
	}
	rep, err := dsn.Parse(m.data)
	if err != nil {
		t.Fatalf("DSN does not parse: %v", err)
	}
	if len(rep.Recipients) != 1 || rep.Recipients[0].Status != "5.4.6" || !strings.Contains(rep.Recipients[0].Diagnostic, "554") {
		t.Fatalf("DSN recipients %+v, want 5.4.6 from a 554", rep.Recipients)
	}
	// The refused copy carried maxHops+1 Received: fields, one per pass.
	if n := bytes.Count(rep.OriginalHeaders, []byte("Received: from")); n != maxHops+1 {
		t.Fatalf("the looping message made %d passes, want %d", n, maxHops+1)
	}
}
