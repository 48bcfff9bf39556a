package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

var threeRcpts = []string{"a@example.com", "b@example.com", "c@example.com"}

func TestSend_Pipelined_CommandGroupInOneWriteAndOneRead(t *testing.T) {
	m := &mta{}
	s := newTestServer(t, m.serve)
	c, wl := dialTest(t, s, nil)
	if !c.Pipelining() {
		t.Fatal("PIPELINING not seen in EHLO")
	}
	res := mustSend(t, c, &Transaction{From: "bounce@sender.test", To: threeRcpts, Body: body("Subject: x\r\n\r\nhi\r\n")})
	for i := range threeRcpts {
		if !res.Delivered(i) {
			t.Errorf("rcpt %d not delivered: %v", i, res.Outcome(i))
		}
	}

	want := "MAIL FROM:<bounce@sender.test>\r\nRCPT TO:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nRCPT TO:<c@example.com>\r\nDATA\r\n"
	// Client side: exactly one write holds the whole group.
	var group []string
	for _, w := range wl.all() {
		if strings.Contains(w, "MAIL FROM") || strings.Contains(w, "RCPT") || strings.Contains(w, "DATA") {
			group = append(group, w)
		}
	}
	if len(group) != 1 || group[0] != want {
		t.Errorf("client writes with commands = %q, want one write %q", group, want)
	}
	// Server side: one read returned the whole group.
	var seen bool
	for _, r := range s.sessions()[0].readLog() {
		if strings.Contains(string(r), "MAIL FROM") {
			seen = string(r) == want
			if !seen {
				t.Errorf("server read %q, want %q in one read", r, want)
			}
		}
	}
	if !seen {
		t.Error("server never read MAIL FROM")
	}
}

func TestSend_NoPipelining_Lockstep(t *testing.T) {
	m := &mta{ext: []string{"8BITMIME", "ENHANCEDSTATUSCODES"}, lockstep: true}
	s := newTestServer(t, m.serve)
	c, wl := dialTest(t, s, nil)
	res := mustSend(t, c, &Transaction{From: "f@sender.test", To: threeRcpts, Body: body("hi\r\n")})
	if !res.Delivered(0) || !res.Delivered(2) {
		t.Fatalf("not delivered: %+v", res)
	}
	var cmds []string
	for _, w := range wl.all() {
		if strings.HasPrefix(w, "MAIL") || strings.HasPrefix(w, "RCPT") || strings.HasPrefix(w, "DATA") {
			if strings.Count(w, "\r\n") != 1 {
				t.Errorf("lockstep write holds more than one command: %q", w)
			}
			cmds = append(cmds, w)
		}
	}
	if len(cmds) != 5 {
		t.Errorf("got %d command writes, want 5 (MAIL, 3 RCPT, DATA): %q", len(cmds), cmds)
	}
}

func forBothModes(t *testing.T, f func(t *testing.T, ext []string)) {
	for _, mode := range []struct {
		name string
		ext  []string
	}{
		{"pipelined", defaultExt},
		{"lockstep", []string{"ENHANCEDSTATUSCODES"}},
	} {
		t.Run(mode.name, func(t *testing.T) { f(t, mode.ext) })
	}
}

func TestSend_TempFailOnOneRcpt_OnlyThatRcptDeferred(t *testing.T) {
	forBothModes(t, func(t *testing.T, ext []string) {
		m := &mta{ext: ext, rcpt: func(a string) string {
			if a == "b@example.com" {
				return "451 4.2.1 mailbox busy, try later"
			}
			return "250 2.1.5 Ok"
		}}
		s := newTestServer(t, m.serve)
		c, _ := dialTest(t, s, nil)
		res := mustSend(t, c, &Transaction{From: "f@sender.test", To: threeRcpts, Body: body("hi\r\n")})
		if !res.Delivered(0) || !res.Delivered(2) {
			t.Errorf("a and c should be delivered: %v / %v", res.Outcome(0), res.Outcome(2))
		}
		if res.Delivered(1) {
			t.Error("b counted delivered after a 451")
		}
		if o := res.Outcome(1); !o.Temporary() || o.Enhanced != "4.2.1" || o.Text != "mailbox busy, try later" {
			t.Errorf("Outcome(b) = %+v, want 451 4.2.1", o)
		}
		txs := s.sessions()[0].transactions()
		if len(txs) != 1 || strings.Join(txs[0].rcpts, ",") != "a@example.com,c@example.com" {
			t.Errorf("server transactions = %+v", txs)
		}
	})
}

func TestSend_AllRcptsRejected_NoBodySent(t *testing.T) {
	rejectAll := func(string) string { return "550 5.1.1 no such user" }
	for _, tc := range []struct {
		name     string
		m        *mta
		dataInit int // expected Result.DataInit.Code
	}{
		{"pipelined_DATA_refused", &mta{rcpt: rejectAll}, 554},
		// RFC 2920 3.1: a server may accept DATA with no recipient; the
		// client must then send "." alone.
		{"pipelined_DATA_accepted_lone_dot", &mta{rcpt: rejectAll, data: func(srvTx) string { return "354 go ahead" }}, 354},
		{"lockstep_DATA_not_sent", &mta{rcpt: rejectAll, ext: []string{"ENHANCEDSTATUSCODES"}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, tc.m.serve)
			c, _ := dialTest(t, s, nil)
			res := mustSend(t, c, &Transaction{From: "f@sender.test", To: threeRcpts, Body: body("SECRET BODY\r\n")})
			for i := range threeRcpts {
				if res.Delivered(i) || res.Outcome(i).Code != 550 {
					t.Errorf("rcpt %d: outcome %v", i, res.Outcome(i))
				}
			}
			if res.DataInit.Code != tc.dataInit || res.Data.Code != 0 {
				t.Errorf("DataInit %d Data %d, want %d and 0", res.DataInit.Code, res.Data.Code, tc.dataInit)
			}
			if c.Err() != nil {
				t.Fatalf("Conn retired after rejections: %v", c.Err())
			}
			// The Conn goes on: the next transaction is preceded by RSET.
			tc.m.rcpt = nil
			res = mustSend(t, c, &Transaction{From: "f@sender.test", To: threeRcpts[:1], Body: body("second\r\n")})
			if !res.Delivered(0) {
				t.Errorf("second transaction: %v", res.Outcome(0))
			}
			all := s.sessions()[0].allRead()
			if strings.Contains(all, "SECRET") {
				t.Error("body sent although no recipient was accepted")
			}
			if !strings.Contains(all, "RSET\r\nMAIL FROM") {
				t.Errorf("no RSET right before the next MAIL: %q", all)
			}
		})
	}
}

func TestSend_ServerDropsMidData_ErrorAndNobodyDelivered(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int
	}{
		{"drop_before_final_reply", 100},
		{"drop_while_body_streams", 8 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, func(sc *srvConn) {
				sc.send("220 mx.test")
				for {
					line, ok := sc.cmd()
					if !ok {
						return
					}
					switch {
					case strings.HasPrefix(line, "EHLO"):
						sc.send("250-mx.test", "250 PIPELINING")
					case strings.HasPrefix(line, "DATA"):
						sc.send("354 go")
						sc.r.Peek(50) // some data arrived; now vanish
						return
					default:
						sc.send("250 ok")
					}
				}
			})
			c, _ := dialTest(t, s, nil)
			res, err := c.Send(context.Background(), &Transaction{From: "f@x.test", To: threeRcpts, Body: body(strings.Repeat("x", tc.size))})
			if err == nil {
				t.Fatalf("Send succeeded after the server dropped: %+v", res)
			}
			if res != nil {
				t.Errorf("Send returned a Result with its error: %+v", res)
			}
			if c.Err() == nil {
				t.Error("Conn still usable after a network error")
			}
			if _, err := c.Send(context.Background(), &Transaction{From: "f@x.test", To: threeRcpts}); !errors.Is(err, ErrClosed) {
				t.Errorf("second Send error = %v, want ErrClosed", err)
			}
		})
	}
}

func TestSend_GarbageReply_ErrProtocol(t *testing.T) {
	for _, garbage := range []string{"hello there", "2500 ok", "25O ok", "", "250-first\r\n550 second", "099 low", "250\tx"} {
		t.Run(garbage, func(t *testing.T) {
			s := newTestServer(t, func(sc *srvConn) {
				sc.send("220 mx.test")
				sc.cmd()
				sc.send("250 mx.test")
				sc.cmd()
				sc.send(garbage)
				sc.cmd()
			})
			c, _ := dialTest(t, s, nil)
			_, err := c.Send(context.Background(), &Transaction{From: "f@x.test", To: threeRcpts[:1]})
			if !errors.Is(err, ErrProtocol) {
				t.Errorf("err = %v, want ErrProtocol", err)
			}
		})
	}
}

func TestDial_GarbageGreeting_ErrProtocol(t *testing.T) {
	s := newTestServer(t, func(sc *srvConn) { sc.send("SSH-2.0-OpenSSH"); sc.cmd() })
	_, err := Dial(context.Background(), s.addr(), "", testOptions())
	if !errors.Is(err, ErrProtocol) {
		t.Errorf("err = %v, want ErrProtocol", err)
	}
}

func TestDial_GreetingNeverComes_Timeout(t *testing.T) {
	s := newTestServer(t, func(sc *srvConn) { sc.cmd() })
	opts := testOptions()
	opts.GreetingTimeout = 100 * time.Millisecond
	start := time.Now()
	_, err := Dial(context.Background(), s.addr(), "", opts)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("err = %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("Dial took %v with a 100ms greeting timeout", d)
	}
}

func TestDial_Greeting554_ReplyError(t *testing.T) {
	s := newTestServer(t, func(sc *srvConn) { sc.send("554 5.7.1 you are blocked"); sc.cmd() })
	_, err := Dial(context.Background(), s.addr(), "", testOptions())
	var re *ReplyError
	if !errors.As(err, &re) || re.Reply.Code != 554 || re.Reply.Enhanced != "5.7.1" || re.Command != "greeting" {
		t.Errorf("err = %v, want ReplyError 554 5.7.1 for the greeting", err)
	}
}

func TestDial_MultilineEHLO_ParsesExtensions(t *testing.T) {
	m := &mta{ext: []string{"pipelining", "SIZE 35882577", "8BITMIME", "AUTH LOGIN PLAIN", "ENHANCEDSTATUSCODES", "SMTPUTF8", "DSN", "CHUNKING"}}
	s := newTestServer(t, m.serve)
	c, _ := dialTest(t, s, nil)
	ext := c.Extensions()
	for kw, want := range map[string]string{"PIPELINING": "", "SIZE": "35882577", "AUTH": "LOGIN PLAIN", "SMTPUTF8": "", "DSN": "", "CHUNKING": ""} {
		if got, ok := ext[kw]; !ok || got != want {
			t.Errorf("Extensions()[%q] = %q, %v; want %q", kw, got, ok, want)
		}
	}
	if len(ext) != 8 {
		t.Errorf("got %d extensions, want 8: %v", len(ext), ext)
	}
	if c.MaxSize() != 35882577 || !c.Pipelining() {
		t.Errorf("MaxSize %d Pipelining %v", c.MaxSize(), c.Pipelining())
	}
}

func TestDial_EHLORefused_FallsBackToHELO(t *testing.T) {
	m := &mta{noEHLO: true, lockstep: true}
	s := newTestServer(t, m.serve)
	c, _ := dialTest(t, s, nil)
	if len(c.Extensions()) != 0 || c.Pipelining() {
		t.Errorf("extensions after HELO: %v", c.Extensions())
	}
	res := mustSend(t, c, &Transaction{From: "f@x.test", To: threeRcpts, Body: body("hi\r\n"), Body8Bit: true, Size: 4})
	if !res.Delivered(1) {
		t.Errorf("not delivered: %v", res.Outcome(1))
	}
	if mail := s.sessions()[0].transactions()[0].mail; mail != "MAIL FROM:<f@x.test>" {
		t.Errorf("MAIL line %q carries parameters the server did not offer", mail)
	}
}

func TestSend_SizeExceeded_Local534WithoutSending(t *testing.T) {
	m := &mta{ext: []string{"PIPELINING", "SIZE 1000"}}
	s := newTestServer(t, m.serve)
	c, _ := dialTest(t, s, nil)
	res := mustSend(t, c, &Transaction{From: "f@x.test", To: threeRcpts, Size: 5000, Body: body(strings.Repeat("x", 5000))})
	for i := range threeRcpts {
		if o := res.Outcome(i); o.Code != 552 || o.Enhanced != "5.3.4" || !o.Local {
			t.Errorf("Outcome(%d) = %+v, want local 552 5.3.4", i, o)
		}
	}
	c.Quit()
	if all := s.sessions()[0].allRead(); strings.Contains(all, "MAIL") {
		t.Errorf("MAIL sent for an oversized message: %q", all)
	}
}

func TestSend_UTF8RecipientWithoutSMTPUTF8_Local567(t *testing.T) {
	to := []string{"a@example.com", "δοκιμή@παράδειγμα.δοκιμή"}
	t.Run("not_offered", func(t *testing.T) {
		s := newTestServer(t, (&mta{}).serve)
		c, _ := dialTest(t, s, nil)
		res := mustSend(t, c, &Transaction{From: "f@x.test", To: to, Body: body("hi\r\n")})
		if !res.Delivered(0) {
			t.Errorf("ASCII recipient: %v", res.Outcome(0))
		}
		if o := res.Outcome(1); o.Code != 553 || o.Enhanced != "5.6.7" || !o.Local {
			t.Errorf("UTF-8 recipient outcome %+v, want local 553 5.6.7", o)
		}
		tx := s.sessions()[0].transactions()[0]
		if strings.Contains(tx.mail, "SMTPUTF8") || len(tx.rcpts) != 1 {
			t.Errorf("server saw %+v", tx)
		}
		// A message that needs SMTPUTF8 as a whole is refused whole.
		res = mustSend(t, c, &Transaction{From: "f@x.test", To: to[:1], SMTPUTF8: true})
		if o := res.Outcome(0); o.Enhanced != "5.6.7" || !o.Local {
			t.Errorf("SMTPUTF8 message outcome %+v", o)
		}
	})
	t.Run("offered", func(t *testing.T) {
		s := newTestServer(t, (&mta{ext: []string{"PIPELINING", "SMTPUTF8"}}).serve)
		c, _ := dialTest(t, s, nil)
		res := mustSend(t, c, &Transaction{From: "f@x.test", To: to, Body: body("hi\r\n")})
		if !res.Delivered(0) || !res.Delivered(1) {
			t.Errorf("outcomes %v %v", res.Outcome(0), res.Outcome(1))
		}
		if tx := s.sessions()[0].transactions()[0]; !strings.HasSuffix(tx.mail, " SMTPUTF8") {
			t.Errorf("MAIL line %q lacks SMTPUTF8", tx.mail)
		}
	})
}

// Reliability row 13 (no command injection).
func TestSend_AddressWithCRLF_LocalRefusalNoInjection(t *testing.T) {
	s := newTestServer(t, (&mta{}).serve)
	c, _ := dialTest(t, s, nil)
	to := []string{"a@example.com", "b@example.com>\r\nRCPT TO:<evil@example.com", "c d@example.com"}
	res := mustSend(t, c, &Transaction{From: "f@x.test", To: to, Body: body("hi\r\n")})
	if !res.Delivered(0) || res.Outcome(1).Code != 501 || !res.Outcome(1).Local || res.Outcome(2).Code != 501 {
		t.Errorf("outcomes %v / %v / %v", res.Outcome(0), res.Outcome(1), res.Outcome(2))
	}
	res = mustSend(t, c, &Transaction{From: "f@x.test\r\nRSET", To: to[:1]})
	if o := res.Outcome(0); o.Enhanced != "5.1.7" || !o.Local {
		t.Errorf("bad sender outcome %+v", o)
	}
	if all := s.sessions()[0].allRead(); strings.Contains(all, "evil") {
		t.Errorf("injected command reached the server: %q", all)
	}
}

func TestSend_ReuseWithRSET_ThreeTransactions(t *testing.T) {
	forBothModes(t, func(t *testing.T, ext []string) {
		m := &mta{ext: ext, mail: func(line string) string {
			if strings.Contains(line, "reject") {
				return "550 5.7.1 sender refused"
			}
			return "250 2.1.0 Ok"
		}}
		s := newTestServer(t, m.serve)
		c, _ := dialTest(t, s, nil)
		for i, from := range []string{"one@x.test", "reject@x.test", "three@x.test"} {
			res := mustSend(t, c, &Transaction{From: from, To: threeRcpts, Body: body(fmt.Sprintf("message %d\r\n", i))})
			if want := from != "reject@x.test"; res.Delivered(2) != want {
				t.Errorf("tx %d: Delivered = %v, outcome %v", i, !want, res.Outcome(2))
			}
		}
		if err := c.Reset(context.Background()); err != nil {
			t.Errorf("Reset: %v", err)
		}
		if err := c.Quit(); err != nil {
			t.Errorf("Quit: %v", err)
		}
		if !errors.Is(c.Err(), ErrClosed) {
			t.Errorf("Err after Quit = %v", c.Err())
		}
		if n := len(s.sessions()); n != 1 {
			t.Fatalf("%d connections, want 1", n)
		}
		sc := s.sessions()[0]
		txs := sc.transactions()
		if len(txs) != 2 || txs[0].body != "message 0\r\n" || txs[1].body != "message 2\r\n" {
			t.Errorf("server transactions %+v", txs)
		}
		all := sc.allRead()
		// A refused MAIL opens no transaction, so no RSET is due before the
		// third one: the only RSET is the explicit Reset.
		if n := strings.Count(all, "RSET\r\n"); n != 1 {
			t.Errorf("%d RSETs in %q, want 1", n, all)
		}
		if !strings.HasSuffix(all, "QUIT\r\n") {
			t.Errorf("no QUIT at the end: %q", all)
		}
	})
}

func TestSend_421OnRcpt_RetiresConnAndDefersRest(t *testing.T) {
	m := &mta{rcpt: func(a string) string {
		if a == "b@example.com" {
			return "421 4.7.0 too many connections, closing"
		}
		return "250 2.1.5 Ok"
	}}
	s := newTestServer(t, m.serve)
	c, _ := dialTest(t, s, nil)
	res := mustSend(t, c, &Transaction{From: "f@x.test", To: threeRcpts, Body: body("hi\r\n")})
	for i := range threeRcpts {
		if res.Delivered(i) {
			t.Errorf("rcpt %d delivered", i)
		}
	}
	if o := res.Outcome(1); o.Code != 421 {
		t.Errorf("Outcome(b) %v", o)
	}
	if o := res.Outcome(2); o.Code != 421 {
		t.Errorf("Outcome(c) %v, want the 421 for the recipients after it", o)
	}
	var re *ReplyError
	if err := c.Err(); !errors.Is(err, ErrClosed) || !errors.As(err, &re) || re.Reply.Code != 421 {
		t.Errorf("Err() = %v", err)
	}
}

// Reliability row 13.
func TestSend_BodyEncoding_OnTheWire(t *testing.T) {
	s := newTestServer(t, (&mta{}).serve)
	c, _ := dialTest(t, s, nil)
	in := "Subject: dots\n\n.\n..x\r\n.\r\nbare\rcr\r\nend without newline\r\n.\r"
	mustSend(t, c, &Transaction{From: "f@x.test", To: threeRcpts[:1], Body: body(in)})
	tx := s.sessions()[0].transactions()[0]
	want := "Subject: dots\r\n\r\n..\r\n...x\r\n..\r\nbare\r\ncr\r\nend without newline\r\n..\r\n"
	if tx.raw != want {
		t.Errorf("on the wire:\n%q\nwant\n%q", tx.raw, want)
	}
}

func TestSend_Parameters_SizeBodyDSN(t *testing.T) {
	s := newTestServer(t, (&mta{ext: []string{"PIPELINING", "SIZE", "8BITMIME", "DSN"}}).serve)
	c, _ := dialTest(t, s, nil)
	mustSend(t, c, &Transaction{
		From: "f@x.test", To: threeRcpts[:1], Body: body("hi\r\n"), Size: 4, Body8Bit: true,
		DSN: &DSN{Ret: "HDRS", EnvID: "id+1=2 ~", Notify: "FAILURE,DELAY"},
	})
	all := s.sessions()[0].allRead()
	for _, want := range []string{
		"MAIL FROM:<f@x.test> SIZE=4 BODY=8BITMIME RET=HDRS ENVID=id+2B1+3D2+20~\r\n",
		"RCPT TO:<a@example.com> NOTIFY=FAILURE,DELAY\r\n",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("server did not see %q in %q", want, all)
		}
	}
}

func TestSend_ContextCancelled_AbortsAndRetires(t *testing.T) {
	s := newTestServer(t, func(sc *srvConn) {
		sc.send("220 mx.test")
		sc.cmd()
		sc.send("250-mx.test", "250 PIPELINING")
		for _, ok := sc.cmd(); ok; _, ok = sc.cmd() { // MAIL etc.: never answered
		}
	})
	c, _ := dialTest(t, s, nil)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := c.Send(ctx, &Transaction{From: "f@x.test", To: threeRcpts})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if c.Err() == nil {
		t.Error("Conn usable after a cancelled Send")
	}
}

func TestSend_BodyReadError_NoTerminator(t *testing.T) {
	s := newTestServer(t, (&mta{}).serve)
	c, _ := dialTest(t, s, nil)
	_, err := c.Send(context.Background(), &Transaction{From: "f@x.test", To: threeRcpts, Body: io.MultiReader(body("partial\r\n"), errReader{})})
	if !errors.Is(err, errTest) {
		t.Errorf("err = %v, want the body's error", err)
	}
	if txs := s.sessions()[0].transactions(); len(txs) != 0 {
		t.Errorf("server completed a truncated message: %+v", txs)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errTest }
