package receive

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// Reliability row 19.
func TestConnLimit_PerIPCapReached_421ThenClosedOtherIPStillServed(t *testing.T) {
	cfg := relayConfig()
	cfg.MaxConnectionsPerIP = 2
	srv, addr := testServer(t, cfg, &recordingSubmitter{})
	first := dialRaw(t, addr, "127.0.0.1")
	dialRaw(t, addr, "127.0.0.1")

	over := dialRawNoGreeting(t, addr, "127.0.0.1")
	over.expectReply(421, "4.7.0 Too many connections from your IP")
	over.expectClosed()

	dialRaw(t, addr, "127.0.0.2") // another client IP has its own count

	first.expect("QUIT", 221, "")
	waitFor(t, "slot released", func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		return srv.mu.perIP[loopback.Addr()] < 2
	})
	dialRaw(t, addr, "127.0.0.1")
}

// Reliability row 19.
func TestConnLimit_GlobalCapReached_421ThenClosed(t *testing.T) {
	cfg := relayConfig()
	cfg.MaxConnections, cfg.MaxConnectionsPerIP = 2, 2
	_, addr := testServer(t, cfg, &recordingSubmitter{})
	dialRaw(t, addr, "127.0.0.1")
	dialRaw(t, addr, "127.0.0.2")
	over := dialRawNoGreeting(t, addr, "127.0.0.3")
	over.expectReply(421, "4.7.0 Too many connections")
	over.expectClosed()
}

// Reliability row 18 (minimum data rate).
func TestDataRate_SlowlorisBelowMinRate_421AndClosedNothingSubmitted(t *testing.T) {
	sub := &recordingSubmitter{}
	cfg := relayConfig()
	cfg.MinDataRate = 1000 // B/s
	cfg.DataRateGrace = 200 * time.Millisecond
	_, addr := testServer(t, cfg, sub)
	c := dialRaw(t, addr, "")
	c.expect("EHLO client.test", 250, "")
	c.expect("MAIL FROM:<a@example.com>", 250, "")
	c.expect("RCPT TO:<b@example.net>", 250, "")
	c.expect("DATA", 354, "")

	// Trickle ~20 B/s; the server must give up shortly after the grace.
	stop := trickle(c, func(int) byte { return 'x' })
	start := time.Now()
	c.expectReply(421, "4.4.2 Minimum data rate not met")
	c.expectClosed()
	stop()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("slow client kept for %v", d)
	}
	if len(sub.messages()) != 0 {
		t.Fatal("slowloris message submitted")
	}
}

// Reliability row 18 (absolute DATA deadline).
func TestDataTimeout_AbsoluteDeadlinePassed_421AndClosed(t *testing.T) {
	cfg := relayConfig()
	cfg.DataTimeout = 300 * time.Millisecond
	cfg.DataRateGrace = time.Minute
	_, addr := testServer(t, cfg, &recordingSubmitter{})
	c := dialRaw(t, addr, "")
	c.expect("EHLO client.test", 250, "")
	c.expect("MAIL FROM:<a@example.com>", 250, "")
	c.expect("RCPT TO:<b@example.net>", 250, "")
	c.expect("DATA", 354, "")
	c.send("Subject: x\r\n")
	c.expectReply(421, "4.4.2 DATA time limit exceeded")
	c.expectClosed()
}

// Reliability row 18.
func TestCommandTimeout_IdleClient_421AndClosed(t *testing.T) {
	cfg := relayConfig()
	cfg.CommandTimeout = 200 * time.Millisecond
	_, addr := testServer(t, cfg, &recordingSubmitter{})
	c := dialRaw(t, addr, "")
	c.expectReply(421, "4.4.2")
	c.expectClosed()
}

// Reliability row 18 (absolute session deadline).
func TestSessionTimeout_BusyClientPastDeadline_421AndClosed(t *testing.T) {
	cfg := relayConfig()
	cfg.SessionTimeout = 300 * time.Millisecond
	_, addr := testServer(t, cfg, &recordingSubmitter{})
	c := dialRaw(t, addr, "")
	c.expect("EHLO client.test", 250, "")
	for start := time.Now(); time.Since(start) < 3*time.Second; {
		code, msg := c.cmd("NOOP")
		if code == 421 {
			if !strings.Contains(msg, "4.4.2 Session time limit") {
				t.Errorf("got 421 %q", msg)
			}
			c.expectClosed()
			return
		}
		if code != 250 {
			t.Fatalf("NOOP: %d %s", code, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("session outlived SessionTimeout")
}

// Reliability row 20.
func TestBadCommands_LimitReachedBeforeTLS_421AndClosed(t *testing.T) {
	cfg := relayConfig()
	cfg.MaxBadCommands = 3
	_, addr := testServer(t, cfg, &recordingSubmitter{})
	c := dialRaw(t, addr, "")
	c.expect("EHLO client.test", 250, "")
	c.expect("RCPT TO:<b@example.net>", 502, "")
	c.expect("DATA", 502, "")
	c.expect("RCPT TO:<b@example.net>", 502, "")
	c.expectReply(421, "4.7.0 Too many errors")
	c.expectClosed()
}

// Reliability row 20.
func TestBadCommands_LimitReachedAfterSTARTTLS_421AndClosed(t *testing.T) {
	srvTLS, cliTLS := selfSignedTLS(t)
	cfg := Config{Hostname: "mx.test", TLSConfig: srvTLS, MaxBadCommands: 3,
		Users: []User{testUser(t, "u", "p", "example.com")}}
	_, addr := testServer(t, cfg, &recordingSubmitter{})
	c := dialRaw(t, addr, "")
	c.expect("EHLO client.test", 250, "STARTTLS")
	c.expect("STARTTLS", 220, "")
	tc := tlsClient(t, c, cliTLS)
	tc.expect("EHLO client.test", 250, "AUTH")
	tc.expect("MAIL FROM:<a@example.com>", 250, "")
	tc.expect("RCPT TO:<b@example.net>", 554, "5.7.1")
	tc.expect("RCPT TO:<b@example.net>", 554, "5.7.1")
	tc.expect("RCPT TO:<b@example.net>", 421, "4.7.0 Too many errors")
	tc.expectClosed()
}

func TestShutdown_IdleConnectionClosedWith421AndNewConnectionsRefused(t *testing.T) {
	cfg := relayConfig()
	cfg.Logger = slog.New(slog.DiscardHandler)
	srv, err := NewServer(cfg, &recordingSubmitter{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe("127.0.0.1:0") }()
	waitFor(t, "listening", func() bool { return srv.Addr() != nil })
	addr := srv.Addr().String()
	c := dialRaw(t, addr, "")
	c.expect("EHLO client.test", 250, "")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	c.expectReply(421, "4.3.2 Service shutting down")
	c.expectClosed()
	if err := <-done; err != ErrServerClosed {
		t.Errorf("ListenAndServe = %v, want ErrServerClosed", err)
	}
}

func TestShutdown_MessageInSubmit_FinishesWith250(t *testing.T) {
	sub := &recordingSubmitter{release: make(chan struct{}), entered: make(chan struct{}, 1)}
	srv, addr := testServer(t, relayConfig(), sub)
	c := dialRaw(t, addr, "")
	c.expect("EHLO client.test", 250, "")
	c.expect("MAIL FROM:<a@example.com>", 250, "")
	c.expect("RCPT TO:<b@example.net>", 250, "")
	c.expect("DATA", 354, "")
	c.send(simpleMsg + ".\r\n")
	<-sub.entered

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()
	time.Sleep(50 * time.Millisecond)
	close(sub.release)
	c.expectReply(250, "queued as Q0001")
	c.expectReply(421, "4.3.2")
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

func TestShutdown_ContextExpires_ForceClosesAndCancelsSubmit(t *testing.T) {
	sub := &recordingSubmitter{release: make(chan struct{}), entered: make(chan struct{}, 1)}
	srv, addr := testServer(t, relayConfig(), sub)
	c := dialRaw(t, addr, "")
	c.expect("EHLO client.test", 250, "")
	c.expect("MAIL FROM:<a@example.com>", 250, "")
	c.expect("RCPT TO:<b@example.net>", 250, "")
	c.expect("DATA", 354, "")
	c.send(simpleMsg + ".\r\n")
	<-sub.entered
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); err == nil {
		t.Fatal("Shutdown returned nil while a Submit was stuck")
	}
	c.expectClosed()
	if len(sub.messages()) != 0 {
		t.Fatal("cancelled submit recorded")
	}
}

func TestLogging_SessionRecord_HasClientHELOResultAndNoContent(t *testing.T) {
	var logs syncBuffer
	cfg := relayConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	_, addr := testServer(t, cfg, &recordingSubmitter{})
	c := dialRaw(t, addr, "")
	c.expect("EHLO client.test", 250, "")
	c.expect("MAIL FROM:<a@example.com>", 250, "")
	c.expect("RCPT TO:<b@example.net>", 250, "")
	c.expect("DATA", 354, "")
	c.send("Subject: top-secret-subject\r\n\r\nsecret-body-text\r\n.\r\n")
	c.expectReply(250, "")
	c.expect("QUIT", 221, "")
	waitFor(t, "session log", func() bool { return strings.Contains(logs.String(), `msg="smtp session"`) })
	out := logs.String()
	for _, want := range []string{"client_ip=127.0.0.1", "helo=client.test", "accepted=1", "result=closed", `msg="message accepted"`, "queue_id=Q0001"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "secret") {
		t.Errorf("log contains message content:\n%s", out)
	}
}
