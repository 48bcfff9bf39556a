package main

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sluice-mta/sluice/engine/spool"
)

// TestReliability02_KillDuringDelivery_NothingLostDuplicatesBounded is row
// 2: each cycle injects a batch, lets delivery run into a receiver that
// holds each DATA reply a little, and kills serve with -9 part-way. Right
// after each kill the spool is opened offline: the recipients it still holds
// that the receiver already has are the ones in flight at the kill (sent,
// not yet recorded as done). After the last cycle a node delivers the rest.
// Pass: every injected recipient delivered, and duplicates at the receiver
// no more than the recipients in flight at the kills.
func TestReliability02_KillDuringDelivery_NothingLostDuplicatesBounded(t *testing.T) {
	cycles := scale(t, "SLUICE_KILL_DELIVERY_CYCLES", 3, 30)
	world := newInet(t)
	world.rec.setDelay(5 * time.Millisecond)
	dir := t.TempDir()
	smtpAddr, httpAddr := freeAddr(t), freeAddr(t)
	config := writeConfig(t, dir, smtpAddr, httpAddr, world.yaml("[1s]"))
	var all []string
	inFlight := 0
	for cycle := 0; cycle < cycles; cycle++ {
		n := startNode(t, dir, config, smtpAddr, httpAddr)
		batch := injectBatch(t, smtpAddr, fmt.Sprintf("c%d", cycle), 100, 10)
		all = append(all, batch...)
		// Kill once between a tenth and nine tenths of this batch is delivered.
		target := len(batch)/10 + rand.IntN(len(batch)*8/10)
		waitUntil(t, 2*time.Minute, "part of the batch delivered", func() bool { return deliveredOf(world.rec, batch) >= target })
		n.kill()
		time.Sleep(200 * time.Millisecond) // let the receiver finish what was sent before the kill
		inFlight += inFlightAtKill(t, n.spoolDir, world.rec)
	}
	n := startNode(t, dir, config, smtpAddr, httpAddr)
	defer n.stop()
	waitUntil(t, 3*time.Minute, "every recipient delivered", func() bool { return deliveredOf(world.rec, all) == len(all) })
	dup := 0
	for _, a := range all {
		dup += world.rec.deliveries(a) - 1
	}
	summaryRow(t, "02 kill -9 during delivery", cycles, len(all), len(all), 0, dup, fmt.Sprintf("in flight at kills %d", inFlight))
	if dup > inFlight {
		t.Fatalf("%d duplicate deliveries, more than the %d recipients in flight at the %d kills", dup, inFlight, cycles)
	}
}

// injectBatch sends msgs messages of rcpts recipients each over one SMTP
// session and returns the recipients (every message must get a 250).
func injectBatch(t *testing.T, addr, tag string, msgs, rcpts int) []string {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var all []string
	for m := 0; m < msgs; m++ {
		to := make([]string, rcpts)
		for r := range to {
			to[r] = fmt.Sprintf("%s-%d-%d@d%d.test", tag, m, r, r)
		}
		if _, err := sendOne(c, tag, to); err != nil {
			t.Fatalf("inject %s message %d: %v", tag, m, err)
		}
		all = append(all, to...)
	}
	return all
}

// deliveredOf counts the addresses of rcpts the receiver has.
func deliveredOf(r *recorder, rcpts []string) int {
	n := 0
	for _, a := range rcpts {
		if r.deliveries(a) > 0 {
			n++
		}
	}
	return n
}

// inFlightAtKill opens the killed node's spool offline and counts the
// recipients still queued that the receiver already has.
func inFlightAtKill(t *testing.T, dir string, r *recorder) int {
	t.Helper()
	sp, err := spool.Open(spool.Options{Dir: dir, ReadOnly: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("reopen spool after kill -9: %v", err)
	}
	defer sp.Close()
	n := 0
	if err := sp.Recipients(func(rc spool.Recipient) bool {
		if r.deliveries(strings.ToLower(rc.Address)) > 0 {
			n++
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return n
}
