package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sluice-mta/sluice/engine/spool"
)

// TestReliability26_GracefulShutdown_Each250SpooledOrElse4xx is row 26:
// 20 SMTP sessions inject while serve gets SIGTERM. Every message must end
// in a 250 whose message is then in the spool with all its recipients, or in
// a 4xx reply (421 at shutdown): never a dropped connection or a 5xx in the
// middle of a transaction. Runs 3 cycles on one spool (20 under SLUICE_SOAK=1).
func TestReliability26_GracefulShutdown_Each250SpooledOrElse4xx(t *testing.T) {
	cycles := scale(t, "SLUICE_SHUTDOWN_CYCLES", 3, 20)
	dir := t.TempDir()
	smtpAddr, httpAddr := freeAddr(t), freeAddr(t)
	config := writeConfig(t, dir, smtpAddr, httpAddr, "delivery: {hold: true}\n")
	acked := map[string]int{} // queue ID -> recipients
	var deferred, broken int
	var firstBroken error
	for cycle := 0; cycle < cycles; cycle++ {
		n := startNode(t, dir, config, smtpAddr, httpAddr)
		var mu sync.Mutex
		var wg sync.WaitGroup
		ctx, cancel := context.WithCancel(context.Background())
		for w := 0; w < 20; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				injectUntilRefused(ctx, smtpAddr, fmt.Sprintf("c%d-w%d", cycle, w), func(id string, rcpts int, err error) {
					mu.Lock()
					defer mu.Unlock()
					var se *smtp.SMTPError
					switch {
					case err == nil:
						acked[id] = rcpts
					case errors.As(err, &se) && se.Code/100 == 4:
						deferred++
					default:
						broken++
						if firstBroken == nil {
							firstBroken = err
						}
					}
				})
			}()
		}
		time.Sleep(time.Duration(300+rand.IntN(700)) * time.Millisecond)
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.exited:
		case <-time.After(40 * time.Second):
			n.kill()
			t.Fatalf("serve did not exit on SIGTERM:\n%s", n.stderr)
		}
		cancel()
		wg.Wait()
		if !n.exitState.Success() {
			t.Fatalf("cycle %d: serve exited %v on SIGTERM:\n%s", cycle, n.exitState, n.stderr)
		}
		lost := checkSpooled(t, n.spoolDir, acked)
		if lost > 0 || broken > 0 {
			summaryRow(t, "26 graceful shutdown", cycle+1, len(acked), len(acked)-lost, lost, 0, "")
			t.Fatalf("cycle %d: %d acknowledged messages not in the spool; %d transactions ended without a reply or with a 5xx (first: %v)",
				cycle, lost, broken, firstBroken)
		}
	}
	summaryRow(t, "26 graceful shutdown", cycles, len(acked), len(acked), 0, 0, fmt.Sprintf("messages; %d answered 4xx", deferred))
	if len(acked) == 0 || deferred == 0 {
		t.Fatalf("%d acknowledged, %d answered 4xx: the shutdown never met a session in flight", len(acked), deferred)
	}
}

// injectUntilRefused runs SMTP sessions until a connection is refused or ctx
// ends, reporting each message's outcome: a nil error with its queue ID, or
// the error that ended it.
func injectUntilRefused(ctx context.Context, addr, tag string, done func(id string, rcpts int, err error)) {
	for seq := 0; ctx.Err() == nil; {
		c, err := smtp.Dial(addr)
		if err != nil {
			return // refused: the listener is closed
		}
		// The greeting first: a connection still in the kernel's backlog when
		// the listener closes is reset unanswered, and carried no message.
		if err := c.Hello("client.test"); err != nil {
			var se *smtp.SMTPError
			if errors.As(err, &se) {
				done("", 0, err) // 421 at the greeting
			}
			c.Close()
			return
		}
		for ctx.Err() == nil {
			seq++
			rcpts := make([]string, 1+seq%3)
			for r := range rcpts {
				rcpts[r] = fmt.Sprintf("%s-%d-%d@d%d.test", tag, seq, r, r)
			}
			id, err := sendOne(c, tag, rcpts)
			done(id, len(rcpts), err)
			if err != nil {
				break
			}
		}
		c.Close()
	}
}

// checkSpooled opens the spool offline and returns how many acknowledged
// messages are missing or short of recipients.
func checkSpooled(t *testing.T, dir string, acked map[string]int) int {
	t.Helper()
	sp, err := spool.Open(spool.Options{Dir: dir, ReadOnly: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("open spool offline: %v", err)
	}
	defer sp.Close()
	got := map[string]int{}
	if err := sp.Recipients(func(r spool.Recipient) bool { got[r.MsgID]++; return true }); err != nil {
		t.Fatal(err)
	}
	lost := 0
	for id, want := range acked {
		if got[id] != want {
			lost++
			if lost <= 5 {
				t.Errorf("acknowledged message %s has %d of %d recipients in the spool", id, got[id], want)
			}
		}
	}
	return lost
}
