package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// TestReliability01_KillDuringInjection_EveryAckedDelivered is row 1: cycles
// of start serve, inject over 16 SMTP sessions and 4 REST clients, kill -9
// at a random moment. Delivery runs all along into the recording receiver,
// and each cycle restarts on the spool the last one crashed, so recovery
// after a crash is exercised too. At the end a last node runs until every
// recipient that got a 250 or an HTTP 200 has reached the receiver: one
// acknowledged recipient missing fails the test, and so do more duplicates
// than recipients in flight at the kills (see row 2).
//
// SLUICE_CRASH_CYCLES sets the number of cycles (5; 100 under SLUICE_SOAK=1).
func TestReliability01_KillDuringInjection_EveryAckedDelivered(t *testing.T) {
	cycles := scale(t, "SLUICE_CRASH_CYCLES", 5, 100)
	if testing.Short() {
		cycles = 1
	}
	world := newInet(t)
	dir := t.TempDir()
	smtpAddr, httpAddr := freeAddr(t), freeAddr(t)
	config := writeConfig(t, dir, smtpAddr, httpAddr, world.yaml("[1s]"))
	var mu sync.Mutex
	acked := map[string]bool{} // recipient address -> acknowledged
	inFlight := 0              // recipients at the receiver but still queued, at the kills
	ack := func(addrs ...string) {
		mu.Lock()
		for _, a := range addrs {
			acked[a] = true
		}
		mu.Unlock()
	}
	for cycle := 0; cycle < cycles; cycle++ {
		n := startNode(t, dir, config, smtpAddr, httpAddr)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for w := 0; w < 20; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tag := fmt.Sprintf("c%d-w%d", cycle, w)
				if w < 16 {
					injectUntilDead(ctx, smtpAddr, tag, ack)
				} else {
					restUntilDead(ctx, httpAddr, tag, ack)
				}
			}()
		}
		time.Sleep(time.Duration(300+rand.IntN(900)) * time.Millisecond)
		n.kill()
		cancel()
		wg.Wait()
		time.Sleep(200 * time.Millisecond) // let the receiver finish what was sent before the kill
		inFlight += inFlightAtKill(t, n.spoolDir, world.rec)
	}
	if len(acked) == 0 {
		t.Fatal("no message was acknowledged: the test proved nothing")
	}
	n := startNode(t, dir, config, smtpAddr, httpAddr)
	defer n.stop()
	lost := func() (missing []string) {
		for a := range acked {
			if world.rec.deliveries(a) == 0 {
				missing = append(missing, a)
			}
		}
		return missing
	}
	deadline := time.Now().Add(3 * time.Minute)
	for len(lost()) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	missing := lost()
	delivered, dup := 0, 0
	for a := range acked {
		if d := world.rec.deliveries(a); d > 0 {
			delivered++
			dup += d - 1
		}
	}
	summaryRow(t, "01 kill -9 during injection", cycles, len(acked), delivered, len(missing), dup,
		fmt.Sprintf("recipients, SMTP+REST; in flight at kills %d", inFlight))
	if len(missing) > 0 {
		t.Fatalf("%d of %d acknowledged recipients never delivered after %d kill -9 cycles, e.g. %v",
			len(missing), len(acked), cycles, missing[:min(5, len(missing))])
	}
	if dup > inFlight {
		t.Fatalf("%d duplicate deliveries, more than the %d recipients in flight at the kills", dup, inFlight)
	}
}

// injectUntilDead sends messages over one SMTP session after another until
// the server dies or ctx ends, reporting the recipients of each 250.
func injectUntilDead(ctx context.Context, addr, tag string, ack func(...string)) {
	for seq := 0; ctx.Err() == nil; {
		c, err := smtp.Dial(addr)
		if err != nil {
			return // server gone
		}
		for i := 0; i < 50 && ctx.Err() == nil; i++ {
			seq++
			rcpts := make([]string, 1+seq%3)
			for r := range rcpts {
				rcpts[r] = fmt.Sprintf("%s-%d-%d@d%d.test", tag, seq, r, r)
			}
			if _, err := sendOne(c, tag, rcpts); err != nil {
				c.Close()
				if strings.Contains(err.Error(), "connection") || strings.Contains(err.Error(), "EOF") {
					return
				}
				break
			}
			ack(rcpts...)
		}
		c.Close()
	}
}

// sendOne sends one message over c and returns its queue ID.
func sendOne(c *smtp.Client, tag string, rcpts []string) (string, error) {
	if err := c.Mail("crash@sender.test", nil); err != nil {
		return "", err
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r, nil); err != nil {
			return "", err
		}
	}
	w, err := c.Data()
	if err != nil {
		return "", err
	}
	fmt.Fprintf(w, "Subject: crash %s\r\n\r\n%s\r\n", tag, strings.Repeat("crash test body line\r\n", 50))
	resp, err := w.CloseWithResponse()
	if err != nil {
		return "", err
	}
	i := strings.LastIndex(resp.StatusText, "queued as ")
	if i < 0 {
		return "", fmt.Errorf("250 without a queue ID: %q", resp.StatusText)
	}
	return strings.TrimSpace(resp.StatusText[i+len("queued as "):]), nil
}

// restUntilDead posts one-recipient messages to POST /v1/messages until the
// server dies or ctx ends, reporting the recipient of each 200.
func restUntilDead(ctx context.Context, addr, tag string, ack func(...string)) {
	client := &http.Client{Timeout: 10 * time.Second}
	for seq := 0; ctx.Err() == nil; seq++ {
		rcpt := fmt.Sprintf("rest-%s-%d@d%d.test", tag, seq, seq%4)
		body := fmt.Sprintf(`{"from": "api@sender.test", "recipients": [{"address": %q}],
			"content": {"subject": "crash %s", "text": "crash test"}}`, rcpt, tag)
		resp, err := client.Post("http://"+addr+"/v1/messages", "application/json", strings.NewReader(body))
		if err != nil {
			return // server gone
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && strings.Contains(string(b), `"id"`) {
			ack(rcpt)
		}
	}
}
