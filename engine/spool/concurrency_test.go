package spool

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestConcurrent_PutRescheduleComplete_CountersMatchRecovery runs writers and a
// scheduler-like loop together, then checks that the incrementally kept counters
// equal those that a reopen rebuilds from the keys.
func TestConcurrent_PutRescheduleComplete_CountersMatchRecovery(t *testing.T) {
	s, o := openTest(t, nil)
	domains := []string{"a.example", "b.example", "c.example"}
	var wg, writers sync.WaitGroup
	for w := range 8 {
		writers.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range 40 {
				var rcpts []string
				for j := range 1 + rng.IntN(3) {
					rcpts = append(rcpts, fmt.Sprintf("u%d.%d.%d@%s", w, i, j, domains[rng.IntN(len(domains))]))
				}
				if _, err := s.Put(context.Background(), msg(fmt.Sprintf("v%d", w%2), rcpts...)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	writing := make(chan struct{})
	go func() { writers.Wait(); close(writing) }()
	for w := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 2))
			for round := 0; ; round++ {
				select {
				case <-writing:
					if round > 20 {
						return
					}
				default:
				}
				for _, q := range s.Queues() {
					rs, err := s.Due(q.VMTA, q.Domain, time.Now().Add(time.Hour), 4)
					if err != nil {
						t.Error(err)
						return
					}
					for _, r := range rs {
						if rng.IntN(2) == 0 {
							err = s.Complete([]Recipient{r})
						} else {
							next := r.NextDue.Add(time.Duration(rng.IntN(5000)) * time.Millisecond)
							_, err = s.Reschedule(r, next, "451")
						}
						// Another loop may have completed r since Due read it.
						if err != nil && !errors.Is(err, ErrNotFound) {
							t.Error(err)
							return
						}
					}
				}
			}
		})
	}
	wg.Wait()

	live, liveQueues := s.Stats(), s.Queues()
	for _, q := range liveQueues {
		rs, err := s.Due(q.VMTA, q.Domain, time.Now().Add(24*time.Hour), 1)
		if err != nil || len(rs) == 0 || !rs[0].NextDue.Equal(q.EarliestDue) {
			t.Errorf("queue %s/%s: EarliestDue %v, head %v (%v)", q.VMTA, q.Domain, q.EarliestDue, rs, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	rec := s2.Stats()
	live.WALSyncs, rec.WALSyncs = 0, 0
	if !statsEqual(live, rec) {
		t.Errorf("live Stats %+v != recovered %+v", live, rec)
	}
	if !slices.Equal(liveQueues, s2.Queues()) {
		t.Errorf("live Queues %v != recovered %v", liveQueues, s2.Queues())
	}
	t.Logf("left: %d messages, %d recipients in %d queues", rec.Messages, rec.Recipients, len(liveQueues))
}
