package main

import (
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// TestReliability08_ReceiverDropsAtEachStage is row 8: for each SMTP stage
// (greeting, EHLO, MAIL, RCPT, DATA, after the final dot) the receiver
// hangs up the first connection there, without a reply, and behaves after
// that. Each message (3 recipients, its own domain, so its own connection)
// must be retried and delivered; a drop before the final dot may not
// duplicate anything, and a drop after it at most the 3 recipients of that
// transaction (the receiver had the message; the sender could not know).
func TestReliability08_ReceiverDropsAtEachStage(t *testing.T) {
	world := newInet(t)
	dir := t.TempDir()
	smtpAddr, httpAddr := freeAddr(t), freeAddr(t)
	n := startNode(t, dir, writeConfig(t, dir, smtpAddr, httpAddr, world.yaml("[1s]")), smtpAddr, httpAddr)
	defer n.stop()
	totalDup := 0
	for _, stage := range []string{"greeting", "ehlo", "mail", "rcpt", "data", "dot"} {
		conns := world.rec.connections()
		world.rec.dropAt(stage, 1)
		rcpts := []string{"a@drop-" + stage + ".test", "b@drop-" + stage + ".test", "c@drop-" + stage + ".test"}
		injectTo(t, smtpAddr, rcpts)
		// The retry is a second connection; after a drop at the dot the
		// receiver already has the message, so the retry is what to wait for.
		waitUntil(t, time.Minute, "delivery after a drop at "+stage, func() bool {
			return deliveredOf(world.rec, rcpts) == len(rcpts) && world.rec.connections()-conns >= 2
		})
		time.Sleep(200 * time.Millisecond) // let the retry's transaction finish
		dup := 0
		for _, a := range rcpts {
			dup += world.rec.deliveries(a) - 1
		}
		totalDup += dup
		tries := world.rec.connections() - conns
		t.Logf("drop at %s: delivered after %d connections, %d duplicates", stage, tries, dup)
		if tries < 2 {
			t.Errorf("drop at %s: %d connection(s): the drop was not retried on a new connection", stage, tries)
		}
		limit := 0
		if stage == "dot" {
			limit = len(rcpts)
		}
		if dup > limit {
			t.Errorf("drop at %s: %d duplicates, at most %d allowed", stage, dup, limit)
		}
	}
	summaryRow(t, "08 receiver drops at each stage", 6, 18, 18, 0, totalDup, "duplicates only from the drop after the dot")
}

// injectTo sends one message to rcpts (it must get a 250).
func injectTo(t *testing.T, addr string, rcpts []string) {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := sendOne(c, "retry", rcpts); err != nil {
		t.Fatalf("inject to %v: %v", rcpts, err)
	}
}
