package spool

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for Options.Clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// testOptions are small, quiet options for a spool in dir.
func testOptions(dir string, clock *fakeClock) Options {
	o := Options{
		Dir:          dir,
		MinFreeSpace: 1 << 20,
		BallastSize:  1 << 20,
		MemTableSize: 4 << 20,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if clock != nil {
		o.Clock = clock.Now
	}
	return o
}

// openTest opens a spool in a fresh temp dir and closes it at the end of the test.
func openTest(t testing.TB, clock *fakeClock, mod ...func(*Options)) (*Spool, Options) {
	t.Helper()
	o := testOptions(t.TempDir(), clock)
	for _, f := range mod {
		f(&o)
	}
	s, err := Open(o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, o
}

func mustPut(t testing.TB, s *Spool, m *NewMessage) string {
	t.Helper()
	id, err := s.Put(context.Background(), m)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	return id
}

func msg(vmta string, rcpts ...string) *NewMessage {
	return &NewMessage{
		Envelope:   Envelope{From: "news@sender.example", VMTA: vmta, Campaign: "c1"},
		Recipients: rcpts,
		Body:       []byte("Subject: hi\r\n\r\nhello\r\n"),
	}
}

func mustRecipients(t testing.TB, s *Spool) []Recipient {
	t.Helper()
	var out []Recipient
	if err := s.Recipients(func(r Recipient) bool { out = append(out, r); return true }); err != nil {
		t.Fatalf("Recipients: %v", err)
	}
	return out
}

func rcptString(r Recipient) string {
	return fmt.Sprintf("%s/%s %s#%d %s att=%d due=%d exp=%d reply=%q last=%d", r.VMTA, r.Domain, r.MsgID, r.Idx,
		r.Address, r.Attempts, r.NextDue.UnixMilli(), msOf(r.ExpiresAt), r.LastReply, msOf(r.LastAttempt))
}
