package queue

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// nextNow pops a queue that must already be due.
func nextNow(t *testing.T, s *Scheduler) (Key, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	k, err := s.Next(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return Key{}, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return k, true
}

func TestNext_PopsInDueOrder_NotBeforeDue(t *testing.T) {
	clk := NewManualClock(t0)
	s := NewScheduler(clk)
	a, b, c := Key{"v", "a.test"}, Key{"v", "b.test"}, Key{"v", "c.test"}
	s.Schedule(c, t0.Add(3*time.Minute))
	s.Schedule(a, t0)
	s.Schedule(b, t0.Add(time.Minute))
	if k, ok := nextNow(t, s); !ok || k != a {
		t.Fatalf("first pop %v %v, want %v", k, ok, a)
	}
	if k, ok := nextNow(t, s); ok {
		t.Fatalf("popped %v before it was due", k)
	}
	clk.Advance(time.Minute)
	if k, ok := nextNow(t, s); !ok || k != b {
		t.Fatalf("pop after 1m: %v %v, want %v", k, ok, b)
	}
	clk.Advance(5 * time.Minute)
	if k, ok := nextNow(t, s); !ok || k != c {
		t.Fatalf("pop after 6m: %v %v, want %v", k, ok, c)
	}
}

func TestSchedule_EarlierWins(t *testing.T) {
	clk := NewManualClock(t0)
	s := NewScheduler(clk)
	k := Key{"v", "a.test"}
	s.Schedule(k, t0.Add(time.Hour))
	s.Schedule(k, t0.Add(time.Minute))
	s.Schedule(k, t0.Add(2*time.Hour))
	clk.Advance(time.Minute)
	if got, ok := nextNow(t, s); !ok || got != k {
		t.Fatalf("queue not due at the earlier time")
	}
	if s.Len() != 0 {
		t.Fatalf("popped queue still in heap")
	}
}

func TestNext_WakesOnSchedule(t *testing.T) {
	s := NewScheduler(NewManualClock(t0))
	got := make(chan Key)
	go func() {
		k, _ := s.Next(context.Background())
		got <- k
	}()
	time.Sleep(10 * time.Millisecond)
	k := Key{"v", "late.test"}
	s.Schedule(k, t0)
	select {
	case g := <-got:
		if g != k {
			t.Fatalf("got %v", g)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Next did not wake on Schedule")
	}
}

func TestNext_WakesWhenTimerFires(t *testing.T) {
	clk := NewManualClock(t0)
	s := NewScheduler(clk)
	k := Key{"v", "a.test"}
	s.Schedule(k, t0.Add(time.Minute))
	got := make(chan Key)
	go func() {
		k, _ := s.Next(context.Background())
		got <- k
	}()
	time.Sleep(10 * time.Millisecond)
	clk.Advance(time.Minute)
	select {
	case g := <-got:
		if g != k {
			t.Fatalf("got %v", g)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Next did not wake when the due time came")
	}
}

func TestPause_KeepsDueForResume(t *testing.T) {
	clk := NewManualClock(t0)
	s := NewScheduler(clk)
	k := Key{"v", "a.test"}
	s.Schedule(k, t0)
	s.Pause(k)
	if _, ok := nextNow(t, s); ok {
		t.Fatal("paused queue popped")
	}
	s.Schedule(k, t0) // new mail for a paused queue stays parked
	s.Unschedule(k)
	s.Schedule(k, t0)
	if !s.Paused(k) {
		t.Fatal("Unschedule lifted the pause")
	}
	s.Resume(k)
	if got, ok := nextNow(t, s); !ok || got != k {
		t.Fatal("resumed queue not popped")
	}
}

func TestNext_ContextCancelled(t *testing.T) {
	s := NewScheduler(nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestScheduler_ManyQueues_Fair(t *testing.T) {
	clk := NewManualClock(t0)
	s := NewScheduler(clk)
	for i := 0; i < 1000; i++ {
		s.Schedule(Key{"v", fmt.Sprintf("d%d.test", i)}, t0.Add(time.Duration(i)*time.Millisecond))
	}
	clk.Advance(time.Second)
	prev := time.Time{}
	for i := 0; i < 1000; i++ {
		k, ok := nextNow(t, s)
		if !ok {
			t.Fatalf("only %d popped", i)
		}
		if k.Domain != fmt.Sprintf("d%d.test", i) {
			t.Fatalf("pop %d = %v, out of due order", i, k)
		}
		_ = prev
	}
}

func BenchmarkScheduleNext(b *testing.B) {
	s := NewScheduler(NewManualClock(t0))
	keys := make([]Key, 10000)
	for i := range keys {
		keys[i] = Key{"v", fmt.Sprintf("d%d.test", i)}
		s.Schedule(keys[i], t0)
	}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k, _ := s.Next(ctx)
		s.Schedule(k, t0)
	}
}
