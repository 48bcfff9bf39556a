package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sluice-mta/sluice/engine/spool"
)

// TestCrash_KillDuringInjection_EveryAckedMessageSurvives runs cycles of:
// start serve, 20 concurrent SMTP sessions injecting, kill -9 at a random
// moment, then open the spool offline and check that every message that got
// a 250 is there with all its recipients. The next cycle restarts serve on
// the same spool, so recovery after a crash is exercised too.
//
// SLUICE_CRASH_CYCLES sets the number of cycles (default 5; `make
// crash-test` runs 100).
func TestCrash_KillDuringInjection_EveryAckedMessageSurvives(t *testing.T) {
	cycles := 5
	if s := os.Getenv("SLUICE_CRASH_CYCLES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("SLUICE_CRASH_CYCLES=%q: %v", s, err)
		}
		cycles = n
	}
	if testing.Short() {
		cycles = 1
	}
	dir := t.TempDir()
	smtpAddr, httpAddr := freeAddr(t), freeAddr(t)
	config := writeConfig(t, dir, smtpAddr, httpAddr, "delivery: {hold: true}\n")
	acked := map[string]int{} // queue ID -> recipients
	for cycle := 0; cycle < cycles; cycle++ {
		n := startNode(t, dir, config, smtpAddr, httpAddr)
		ctx, cancel := context.WithCancel(context.Background())
		var mu sync.Mutex
		var wg sync.WaitGroup
		for w := 0; w < 20; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				injectUntilDead(ctx, smtpAddr, w, func(id string, rcpts int) {
					mu.Lock()
					acked[id] = rcpts
					mu.Unlock()
				})
			}()
		}
		time.Sleep(time.Duration(200+rand.IntN(800)) * time.Millisecond)
		n.kill()
		cancel()
		wg.Wait()
		verifySpool(t, n.spoolDir, acked, cycle)
	}
	t.Logf("%d cycles, %d acknowledged messages, all present after kill -9", cycles, len(acked))
	if len(acked) == 0 {
		t.Fatal("no message was acknowledged: the test proved nothing")
	}
}

// injectUntilDead sends messages over one session after another until the
// server dies or ctx ends, reporting each acknowledged queue ID.
func injectUntilDead(ctx context.Context, addr string, worker int, ack func(id string, rcpts int)) {
	for seq := 0; ctx.Err() == nil; {
		c, err := smtp.Dial(addr)
		if err != nil {
			return // server gone
		}
		for i := 0; i < 50 && ctx.Err() == nil; i++ {
			seq++
			rcpts := 1 + seq%3
			id, err := sendOne(c, worker, seq, rcpts)
			if err != nil {
				c.Close()
				if strings.Contains(err.Error(), "connection") || strings.Contains(err.Error(), "EOF") {
					return
				}
				break
			}
			ack(id, rcpts)
		}
		c.Close()
	}
}

func sendOne(c *smtp.Client, worker, seq, rcpts int) (string, error) {
	if err := c.Mail("crash@sender.test", nil); err != nil {
		return "", err
	}
	for r := 0; r < rcpts; r++ {
		if err := c.Rcpt(fmt.Sprintf("w%d-%d-%d@d%d.test", worker, seq, r, r), nil); err != nil {
			return "", err
		}
	}
	w, err := c.Data()
	if err != nil {
		return "", err
	}
	fmt.Fprintf(w, "Subject: crash %d/%d\r\n\r\n%s\r\n", worker, seq, strings.Repeat("crash test body line\r\n", 50))
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

func verifySpool(t *testing.T, dir string, acked map[string]int, cycle int) {
	t.Helper()
	sp, err := spool.Open(spool.Options{Dir: dir, ReadOnly: true})
	if err != nil {
		t.Fatalf("cycle %d: reopen spool after kill -9: %v", cycle, err)
	}
	defer sp.Close()
	got := map[string]int{}
	if err := sp.Recipients(func(r spool.Recipient) bool { got[r.MsgID]++; return true }); err != nil {
		t.Fatal(err)
	}
	missing := 0
	for id, want := range acked {
		if got[id] != want {
			missing++
			if missing <= 5 {
				t.Errorf("cycle %d: acknowledged message %s has %d of %d recipients in the spool", cycle, id, got[id], want)
			}
			continue
		}
		if _, err := sp.Body(id); err != nil {
			t.Errorf("cycle %d: acknowledged message %s lost its body: %v", cycle, id, err)
		}
	}
	if missing > 0 {
		t.Fatalf("cycle %d: %d of %d acknowledged messages lost", cycle, missing, len(acked))
	}
}
