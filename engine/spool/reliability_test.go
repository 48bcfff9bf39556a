package spool

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// soakScale returns ci, or soak under SLUICE_SOAK=1, or env's value when set.
func soakScale(t *testing.T, env string, ci, soak int) int {
	t.Helper()
	if s := os.Getenv(env); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("%s=%q: want a positive integer", env, s)
		}
		return n
	}
	if os.Getenv("SLUICE_SOAK") == "1" {
		return soak
	}
	return ci
}

// summaryRow appends a row to $SLUICE_SOAK_SUMMARY (see cmd/sluice/RELIABILITY.md).
func summaryRow(t *testing.T, scenario string, runs, acked, delivered, lost, dup int, note string) {
	t.Helper()
	t.Logf("summary: %s runs=%d acked=%d delivered=%d lost=%d duplicated=%d %s", scenario, runs, acked, delivered, lost, dup, note)
	if path := os.Getenv("SLUICE_SOAK_SUMMARY"); path != "" {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Errorf("summary file: %v", err)
			return
		}
		defer f.Close()
		fmt.Fprintf(f, "%s\t%d\t%d\t%d\t%d\t%d\t%s\n", scenario, runs, acked, delivered, lost, dup, note)
	}
}

// memOptions opens a spool at /spool on fs: no ballast, no space check.
func memOptions(fs vfs.FS, readOnly bool) Options {
	return Options{Dir: "/spool", FS: fs, ReadOnly: readOnly, MinFreeSpace: -1, BallastSize: -1,
		MemTableSize: 1 << 20, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// powerLossLedger is what the writers of TestReliability03 were told.
type powerLossLedger struct {
	mu         sync.Mutex
	acked      map[string]int      // Put returned: id -> recipients
	completing map[string]struct{} // Complete called, not yet returned
	// done holds the Completes that returned, with the spool's WAL sync
	// count then: Complete does not sync (lazysync.go), so a removal is
	// owed to survive only once a sync that started after it has finished.
	done map[string]int64
}

// snapshot copies the ledger as a power cut at WAL sync count syncs leaves
// it: a Complete not yet covered by a sync counts as in progress (all or
// nothing), since its removal may or may not have reached the disk.
func (l *powerLossLedger) snapshot(syncs int64) (acked map[string]int, completing map[string]struct{}, done map[string]int64) {
	acked = make(map[string]int, len(l.acked))
	for k, v := range l.acked {
		acked[k] = v
	}
	completing = make(map[string]struct{}, len(l.completing))
	for k := range l.completing {
		completing[k] = struct{}{}
	}
	done = make(map[string]int64, len(l.done))
	for k, v := range l.done {
		// NB: the first sync to finish after Complete may have started
		// before it; the second cannot have.
		if syncs >= v+2 {
			done[k] = v
		} else {
			completing[k] = struct{}{}
		}
	}
	return acked, completing, done
}

// TestReliability03_PowerLoss_EveryAckedRecordSurvives is row 3: 8 writers
// Put messages (and Complete a third of them) on Pebble's crashable
// in-memory FS; at a random moment the FS is cloned as a power cut would
// leave it (what was synced, plus a random share of what was not). The
// clone is opened as the next cycle's spool: every Put acknowledged before
// the cut must be there with its body and all its recipients, every
// Complete acknowledged before it gone, and a Complete in progress all or
// nothing. 5 cycles (50 under SLUICE_SOAK=1).
func TestReliability03_PowerLoss_EveryAckedRecordSurvives(t *testing.T) {
	cycles := soakScale(t, "SLUICE_POWERLOSS_CYCLES", 5, 50)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	fs := vfs.NewCrashableMem()
	l := &powerLossLedger{acked: map[string]int{}, completing: map[string]struct{}{}, done: map[string]int64{}}
	var want map[string]int
	var completing map[string]struct{}
	var done map[string]int64
	lost := 0
	for cycle := 0; cycle <= cycles; cycle++ {
		s, err := Open(memOptions(fs, false))
		if err != nil {
			t.Fatalf("cycle %d: open after power loss: %v", cycle, err)
		}
		if want != nil {
			lost += checkAfterPowerLoss(t, s, cycle, want, completing, done)
		}
		if cycle == cycles {
			_ = s.Close()
			break
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() { defer wg.Done(); powerLossWriter(ctx, s, l, fmt.Sprintf("c%d-w%d", cycle, w)) }()
		}
		time.Sleep(time.Duration(20+rng.IntN(80)) * time.Millisecond)
		l.mu.Lock()
		want, completing, done = l.snapshot(s.syncs.Load())
		crashed := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(101), RNG: rng})
		l.mu.Unlock()
		cancel()
		wg.Wait()
		_ = s.Close()
		// What the writers did after the cut happened on the old FS only.
		l.acked, l.completing, l.done = want, completing, done
		want, completing, done = l.snapshot(1 << 62)
		fs = crashed
	}
	summaryRow(t, "03 power loss (crashable FS)", cycles, len(want), len(want)-lost, lost, 0, "messages acked by Put")
	if len(want) == 0 {
		t.Fatal("nothing was acknowledged: the test proved nothing")
	}
}

func powerLossWriter(ctx context.Context, s *Spool, l *powerLossLedger, tag string) {
	for i := 0; ctx.Err() == nil; i++ {
		m := msg("v1")
		for r := 0; r <= i%3; r++ {
			m.Recipients = append(m.Recipients, fmt.Sprintf("%s-%d-%d@d%d.test", tag, i, r, r))
		}
		id, err := s.Put(context.Background(), m)
		if err != nil {
			return
		}
		l.mu.Lock()
		l.acked[id] = len(m.Recipients)
		if i%3 == 0 {
			l.completing[id] = struct{}{}
		}
		l.mu.Unlock()
		if i%3 != 0 {
			continue
		}
		rs := make([]Recipient, len(m.Recipients))
		for r := range rs {
			rs[r] = Recipient{MsgID: id, Idx: uint32(r)}
		}
		if err := s.Complete(rs); err != nil {
			return
		}
		l.mu.Lock()
		delete(l.completing, id)
		l.done[id] = s.syncs.Load()
		l.mu.Unlock()
	}
}

// checkAfterPowerLoss compares the reopened spool with what was acknowledged
// before the cut and returns how many acknowledged messages are wrong.
func checkAfterPowerLoss(t *testing.T, s *Spool, cycle int, acked map[string]int, completing map[string]struct{}, done map[string]int64) int {
	t.Helper()
	got := map[string]int{}
	if err := s.Recipients(func(r Recipient) bool { got[r.MsgID]++; return true }); err != nil {
		t.Fatal(err)
	}
	bad := 0
	for id, n := range acked {
		_, isDone := done[id]
		_, inProgress := completing[id]
		switch {
		case isDone && got[id] != 0:
			t.Errorf("cycle %d: %s completed before the power cut, back with %d recipients", cycle, id, got[id])
		case inProgress && got[id] != 0 && got[id] != n:
			t.Errorf("cycle %d: %s was being completed: %d of %d recipients, want all or none", cycle, id, got[id], n)
		case !isDone && !inProgress && got[id] != n:
			t.Errorf("cycle %d: %s acknowledged before the power cut: %d of %d recipients", cycle, id, got[id], n)
		default:
			if got[id] > 0 {
				if _, err := s.Body(id); err != nil {
					t.Errorf("cycle %d: %s lost its body: %v", cycle, id, err)
				}
			}
			continue
		}
		bad++
	}
	return bad
}

// syncedHas opens what a power cut would leave of fs now (only synced data)
// and reports whether message id is there with n recipients.
func syncedHas(fs *vfs.MemFS, id string, n int) error {
	s, err := Open(memOptions(fs.CrashClone(vfs.CrashCloneCfg{}), true))
	if err != nil {
		return err
	}
	defer s.Close()
	got := 0
	if err := s.Recipients(func(r Recipient) bool {
		if r.MsgID == id {
			got++
		}
		return true
	}); err != nil {
		return err
	}
	if got != n {
		return fmt.Errorf("message %s acknowledged with %d of %d recipients synced", id, got, n)
	}
	return nil
}

// TestReliability04_AckBeforeSync_GuardCatchesIt is row 4 at the spool: at
// each acknowledgement (Put returning an ID) the guard takes what a power
// cut would leave at that instant and requires the message in it. The real
// Put passes; a deliberately broken Put that commits without a sync before
// acknowledging must be caught, which proves the guard can fail.
// (engine and api hold the same guard at the SMTP 250 and the gRPC OK.)
func TestReliability04_AckBeforeSync_GuardCatchesIt(t *testing.T) {
	fs := vfs.NewCrashableMem()
	s, err := Open(memOptions(fs, false))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < 20; i++ {
		m := msg("v1", fmt.Sprintf("a%d@d.test", i), fmt.Sprintf("b%d@e.test", i))
		id := mustPut(t, s, m)
		if err := syncedHas(fs, id, 2); err != nil {
			t.Fatalf("Put acknowledged before its batch was synced: %v", err)
		}
	}
	// The broken variant: the same batch, committed NoSync, then acknowledged.
	brokenPut := func(m *NewMessage) string {
		now := s.opts.Clock()
		id := s.ids.next(now)
		b, _, err := s.putBatch(id, now, m)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if err := b.Commit(pebble.NoSync); err != nil {
			t.Fatal(err)
		}
		return id
	}
	id := brokenPut(msg("v1", "early@d.test"))
	if err := syncedHas(fs, id, 1); err == nil {
		t.Fatal("the guard missed an acknowledgement of an unsynced batch")
	} else {
		t.Logf("broken variant caught as it must be: %v", err)
	}
}

// TestReliability28_ChurnKeepsDueScanWorkFlat is row 28: the spool takes
// ops recipient inserts and as many deletes, as the scheduler does them (Put,
// then Due from the queue's head, then Complete), on one queue, with the
// clock moving 1 ms a round. The work of each Due scan (internal keys
// Pebble steps over, deletion tombstones included) over the last rounds
// must stay within a small bound of the first rounds': a scan that walked
// the trail of deleted keys would grow with the number of deletes. 200,000
// recipients (10,000,000 under SLUICE_SOAK=1); times only in the log.
func TestReliability28_ChurnKeepsDueScanWorkFlat(t *testing.T) {
	ops := soakScale(t, "SLUICE_SPOOL_OPS", 200_000, 10_000_000)
	clock := newFakeClock()
	s, _ := openTest(t, clock)
	const perRound, writers = 500, 10 // recipients per round: 50 messages of 10
	rounds := max(ops/perRound, 20)
	window := max(rounds/20, 5)
	var firstSteps, lastSteps, firstReturned, lastReturned int64
	var firstTime, lastTime time.Duration
	for round := 0; round < rounds; round++ {
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for m := 0; m < perRound/writers/10; m++ {
					rc := make([]string, 10)
					for r := range rc {
						rc[r] = fmt.Sprintf("r%d-%d-%d-%d@churn.test", round, w, m, r)
					}
					if _, err := s.Put(context.Background(), msg("v1", rc...)); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		steps0, ret0 := s.scans.internalSteps.Load(), s.scans.returned.Load()
		start := time.Now()
		due, err := s.Due("v1", "churn.test", clock.Now(), perRound)
		took := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		steps, ret := s.scans.internalSteps.Load()-steps0, s.scans.returned.Load()-ret0
		if len(due) != perRound {
			t.Fatalf("round %d: Due returned %d of %d", round, len(due), perRound)
		}
		if err := s.Complete(due); err != nil {
			t.Fatal(err)
		}
		switch {
		case round < window:
			firstSteps, firstReturned, firstTime = firstSteps+steps, firstReturned+ret, firstTime+took
		case round >= rounds-window:
			lastSteps, lastReturned, lastTime = lastSteps+steps, lastReturned+ret, lastTime+took
		}
		clock.Advance(time.Millisecond)
	}
	first, last := float64(firstSteps)/float64(firstReturned), float64(lastSteps)/float64(lastReturned)
	note := fmt.Sprintf("internal steps per key returned %.2f -> %.2f; Due of %d took %v -> %v (mean of %d rounds)",
		first, last, perRound, firstTime/time.Duration(window), lastTime/time.Duration(window), window)
	summaryRow(t, "28 spool churn (inserts+deletes)", rounds*perRound, rounds*perRound, rounds*perRound, 0, 0, note)
	if st := s.Stats(); st.Recipients != 0 {
		t.Fatalf("%d recipients left after the churn", st.Recipients)
	}
	// Flat: at most twice the first rounds' steps per key, plus a little slack.
	if last > 2*first+0.5 {
		t.Fatalf("Due scan work grew with churn: %s", note)
	}
}
