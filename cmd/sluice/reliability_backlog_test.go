package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sluice-mta/sluice/engine/spool"
)

// TestReliability07_RestartWithBacklog_ServesSoonDeliversAll is row 7: a
// spool holding a backlog (50,000 recipients; 1,000,000 under SLUICE_SOAK=1;
// SLUICE_BACKLOG sets it), written offline as 100-recipient messages over
// 10 domains, is opened by serve. It must answer SMTP within a bounded
// start-up (a generous liveness bound: 60 s for the CI size, 10 min for a
// million; the measured time goes to the log and the soak summary) and then
// deliver every recipient.
func TestReliability07_RestartWithBacklog_ServesSoonDeliversAll(t *testing.T) {
	backlog := scale(t, "SLUICE_BACKLOG", 50_000, 1_000_000)
	const perMsg = 100
	world := newInet(t)
	dir := t.TempDir()
	rcpts := writeBacklog(t, filepath.Join(dir, "spool"), backlog/perMsg, perMsg)
	smtpAddr, httpAddr := freeAddr(t), freeAddr(t)
	config := writeConfig(t, dir, smtpAddr, httpAddr, world.yaml("[1s]"))
	startLimit := 60 * time.Second
	if backlog > 100_000 {
		startLimit = 10 * time.Minute
	}
	start := time.Now()
	n := startNodeWithin(t, dir, config, smtpAddr, httpAddr, startLimit)
	defer n.stop()
	// serve binds its ports before opening the spool: serving is the first
	// EHLO answered, not the first TCP connect.
	waitUntil(t, startLimit-time.Since(start), "an SMTP greeting and EHLO reply", func() bool {
		c, err := smtp.Dial(smtpAddr)
		if err != nil {
			return false
		}
		defer c.Close()
		return c.Hello("client.test") == nil
	})
	serving := time.Since(start)
	drainLimit := 3*time.Minute + time.Duration(backlog/1000)*time.Second
	waitUntil(t, drainLimit, "every backlog recipient delivered", func() bool {
		d, _ := world.rec.counts()
		return d >= len(rcpts)
	})
	drained := time.Since(start)
	lost := len(rcpts) - deliveredOf(world.rec, rcpts)
	_, total := world.rec.counts()
	summaryRow(t, "07 restart with a backlog", 1, len(rcpts), len(rcpts)-lost, lost, total-len(rcpts),
		fmt.Sprintf("serving after %v, all delivered after %v", serving.Round(time.Millisecond), drained.Round(time.Second)))
	if lost > 0 {
		t.Fatalf("%d of %d backlog recipients not delivered", lost, len(rcpts))
	}
}

// writeBacklog stores msgs messages of perMsg recipients in a spool at dir
// (16 writers, as many injecting sessions would) and returns the recipients.
func writeBacklog(t *testing.T, dir string, msgs, perMsg int) []string {
	t.Helper()
	sp, err := spool.Open(spool.Options{Dir: dir, MinFreeSpace: -1, BallastSize: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	all := make([]string, msgs*perMsg)
	body := []byte("From: <backlog@sender.test>\r\nSubject: backlog\r\n\r\nqueued before the restart\r\n")
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := w; m < msgs; m += 16 {
				to := all[m*perMsg : (m+1)*perMsg]
				for r := range to {
					to[r] = fmt.Sprintf("b%d-%d@d%d.test", m, r, r%10)
				}
				if _, err := sp.Put(context.Background(), &spool.NewMessage{
					Envelope:   spool.Envelope{From: "backlog@sender.test", ExpiresAt: time.Now().Add(24 * time.Hour)},
					Recipients: to, Body: body}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatalf("write the backlog: %v", err)
	}
	return all
}
