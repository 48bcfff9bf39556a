package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// memSource is an event log in memory with live appends.
type memSource struct {
	mu   sync.Mutex
	evs  []Event
	wake chan struct{}
}

func newMemSource() *memSource { return &memSource{wake: make(chan struct{})} }

func (m *memSource) add(types ...string) {
	m.mu.Lock()
	for _, t := range types {
		n := uint64(len(m.evs) + 1)
		m.evs = append(m.evs, Event{Cursor: n, Time: time.Unix(int64(n), 0).UTC(), Type: t, ID: fmt.Sprint("m", n),
			Recipient: fmt.Sprintf("r%d@d.test", n), VMTA: "ip2", Domain: "d.test"})
	}
	close(m.wake)
	m.wake = make(chan struct{})
	m.mu.Unlock()
}

func (m *memSource) Events(ctx context.Context, after uint64, fn func(Event) error) error {
	for {
		m.mu.Lock()
		evs, wake := slices.Clone(m.evs[min(after, uint64(len(m.evs))):]), m.wake
		m.mu.Unlock()
		for _, ev := range evs {
			if err := fn(ev); err != nil {
				return err
			}
			after = ev.Cursor
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// memCursors keeps cursors in a map.
type memCursors struct {
	mu sync.Mutex
	m  map[string]uint64
}

func (c *memCursors) Load(name string) (uint64, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[name]
	return v, ok, nil
}

func (c *memCursors) Save(name string, cursor uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]uint64{}
	}
	c.m[name] = cursor
	return nil
}

// receiver is an HTTP endpoint on loopback that answers a scripted status
// for its first requests, then 200, and keeps what it took.
type receiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	script   []int // statuses of the first requests
	requests int
	hang     int // the first hang requests wait past the client's timeout
	got      []Event
	badSig   int
	auth     []string
}

func newReceiver(t *testing.T, secret string, script ...int) *receiver {
	r := &receiver{script: script}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.requests++
		n := r.requests
		r.auth = append(r.auth, req.Header.Get("Authorization"))
		if secret != "" && !Verify(secret, req.Header.Get(TimestampHeader), body, req.Header.Get(SignatureHeader)) {
			r.badSig++
		}
		hang := n <= r.hang
		status := http.StatusOK
		if n <= len(r.script) {
			status = r.script[n-1]
		}
		r.mu.Unlock()
		if hang {
			<-req.Context().Done()
			return
		}
		if status == http.StatusOK {
			var p payload
			if err := json.Unmarshal(body, &p); err != nil || p.Webhook == "" {
				status = http.StatusBadRequest
			} else {
				r.mu.Lock()
				r.got = append(r.got, p.Events...)
				r.mu.Unlock()
			}
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func cursorsOf(evs []Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, ev := range evs {
		out[i] = ev.Cursor
	}
	return out
}

func seq(from, to uint64) []uint64 {
	var out []uint64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func testOptions(name, url string) Options {
	return Options{Name: name, URL: url, BatchSize: 10, FlushInterval: 20 * time.Millisecond,
		RetryInitial: 10 * time.Millisecond, RetryMax: 40 * time.Millisecond, Timeout: 2 * time.Second,
		Logger: slog.New(slog.DiscardHandler)}
}

// start runs a sink until the test ends (or stop is called).
func start(t *testing.T, opts Options, src Source, cur Cursors) (stop func()) {
	t.Helper()
	s, err := New(opts, src, cur)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func TestSink_ReceiverFails3TimesThenTakes_EveryEventArrivesInOrderOnce(t *testing.T) {
	const secret = "a signing secret of some length"
	r := newReceiver(t, secret, 503, 500, 502)
	src, cur := newMemSource(), &memCursors{}
	var mu sync.Mutex
	outcomes := map[Outcome]int{}
	opts := testOptions("crm", r.srv.URL)
	opts.Authorization, opts.SigningSecret = "Bearer tok", secret
	opts.Observe = func(o Outcome, n int) { mu.Lock(); outcomes[o]++; mu.Unlock() }
	start(t, opts, src, cur)
	for i := 0; i < 35; i++ {
		src.add("delivered", "bounced")
	}
	waitUntil(t, "70 events at the receiver", func() bool { return len(r.events()) >= 70 })
	// NB: the cursor is saved after the last answer is read (and observed).
	waitUntil(t, "the cursor saved", func() bool { c, _, _ := cur.Load("crm"); return c == 70 })
	if got := cursorsOf(r.events()); !slices.Equal(got, seq(1, 70)) {
		t.Fatalf("receiver got cursors %v, want 1..70 in order, once each", got)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.badSig != 0 {
		t.Fatalf("%d requests with a signature that does not verify", r.badSig)
	}
	for _, a := range r.auth {
		if a != "Bearer tok" {
			t.Fatalf("Authorization %q, want the configured one", a)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if outcomes[Failed] != 3 || outcomes[Sent] < 7 {
		t.Fatalf("outcomes %v: want 3 failed, 7 or more sent", outcomes)
	}
}

func TestSink_TimeoutAndConnectionRefused_AreRetried(t *testing.T) {
	r := newReceiver(t, "")
	r.hang = 2
	src, cur := newMemSource(), &memCursors{}
	opts := testOptions("slow", r.srv.URL)
	opts.Timeout = 100 * time.Millisecond
	start(t, opts, src, cur)
	src.add("delivered", "delivered", "deferred")
	waitUntil(t, "3 events after two time-outs", func() bool { return len(r.events()) >= 3 })
	if got := cursorsOf(r.events()); !slices.Equal(got, seq(1, 3)) {
		t.Fatalf("cursors %v, want 1..3", got)
	}

	// A receiver that is not listening yet: connection refused until it is.
	l := httptest.NewUnstartedServer(r.srv.Config.Handler)
	addr := l.Listener.Addr().String()
	_ = l.Listener.Close()
	src2, cur2 := newMemSource(), &memCursors{}
	start(t, testOptions("down", "http://"+addr+"/hook"), src2, cur2)
	src2.add("bounced")
	time.Sleep(100 * time.Millisecond) // a few refused attempts
	if c, _, _ := cur2.Load("down"); c != 0 {
		t.Fatalf("cursor moved to %d while the receiver was down", c)
	}
}

func TestSink_4xxIsSkipped_408And429AreRetried(t *testing.T) {
	r := newReceiver(t, "", 408, 429, 400)
	src, cur := newMemSource(), &memCursors{}
	opts := testOptions("strict", r.srv.URL)
	opts.BatchSize = 2
	start(t, opts, src, cur)
	src.add("delivered", "delivered") // 408, 429, then 400: skipped
	waitUntil(t, "the rejected batch skipped", func() bool { c, _, _ := cur.Load("strict"); return c == 2 })
	src.add("bounced", "bounced")
	waitUntil(t, "the next batch", func() bool { return len(r.events()) >= 2 })
	if got := cursorsOf(r.events()); !slices.Equal(got, seq(3, 4)) {
		t.Fatalf("cursors %v, want 3..4 (1..2 were rejected with 400)", got)
	}
}

func TestSink_RestartResumesAfterItsCursor(t *testing.T) {
	r := newReceiver(t, "")
	src, cur := newMemSource(), &memCursors{}
	src.add("delivered", "delivered") // before the webhook existed: not sent
	opts := testOptions("crm", r.srv.URL)
	opts.StartAfter = 2
	stop := start(t, opts, src, cur)
	src.add("delivered", "bounced", "deferred")
	waitUntil(t, "3 events", func() bool { return len(r.events()) >= 3 })
	waitUntil(t, "the cursor saved", func() bool { c, _, _ := cur.Load("crm"); return c == 5 })
	stop()
	src.add("expired", "delivered") // while it is down
	opts.StartAfter = 7             // ignored: the saved cursor wins
	start(t, opts, src, cur)
	src.add("complaint")
	waitUntil(t, "6 events", func() bool { return len(r.events()) >= 6 })
	if got := cursorsOf(r.events()); !slices.Equal(got, seq(3, 8)) {
		t.Fatalf("cursors %v, want 3..8: those while down sent after the restart, none twice", got)
	}
}

func TestSink_TypeFilter_SkipsOthersButAdvancesTheCursor(t *testing.T) {
	r := newReceiver(t, "")
	src, cur := newMemSource(), &memCursors{}
	opts := testOptions("complaints", r.srv.URL)
	opts.Types = []string{"complaint"}
	start(t, opts, src, cur)
	src.add("delivered", "delivered", "complaint", "bounced")
	waitUntil(t, "the cursor past the skipped events", func() bool { c, _, _ := cur.Load("complaints"); return c == 4 })
	got := r.events()
	if len(got) != 1 || got[0].Cursor != 3 || got[0].Type != "complaint" {
		t.Fatalf("got %+v, want the complaint alone", got)
	}
}

func TestOptions_BadValues_NameWhatIsWrong(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{URL: "http://x"}, "needs a name"},
		{Options{Name: "a", URL: "ftp://x"}, "http or https"},
		{Options{Name: "a", URL: "http://x", BatchSize: -1}, "BatchSize"},
		{Options{Name: "a", URL: "http://x", RetryInitial: time.Minute, RetryMax: time.Second}, "RetryMax"},
	} {
		_, err := New(tc.opts, newMemSource(), &memCursors{})
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
			t.Errorf("New(%+v) = %v, want an error naming %q", tc.opts, err, tc.want)
		}
	}
}

func TestVerify_RejectsATamperedBodyOrSecret(t *testing.T) {
	body := []byte(`{"webhook":"x","events":[]}`)
	sig := Sign("k1", "1700000000", body)
	switch {
	case !Verify("k1", "1700000000", body, sig):
		t.Fatal("own signature does not verify")
	case Verify("k2", "1700000000", body, sig), Verify("k1", "1700000001", body, sig),
		Verify("k1", "1700000000", append(body, ' '), sig):
		t.Fatal("a changed secret, timestamp or body verifies")
	}
}

// lostOnce fails the first subscription with ErrLost, as a source whose
// retention passed the cursor would.
type lostOnce struct {
	*memSource
	failed bool
	mu     sync.Mutex
}

func (l *lostOnce) Events(ctx context.Context, after uint64, fn func(Event) error) error {
	l.mu.Lock()
	first := !l.failed
	l.failed = true
	l.mu.Unlock()
	if first && after > 0 {
		return fmt.Errorf("%w: cursor %d", ErrLost, after)
	}
	return l.memSource.Events(ctx, after, fn)
}

func TestSink_EventsLostToRetention_GoesOnFromTheOldestKept(t *testing.T) {
	r := newReceiver(t, "")
	src := &lostOnce{memSource: newMemSource()}
	src.add("delivered", "bounced")
	cur := &memCursors{m: map[string]uint64{"crm": 1}}
	start(t, testOptions("crm", r.srv.URL), src, cur)
	waitUntil(t, "2 events", func() bool { return len(r.events()) >= 2 })
	if got := cursorsOf(r.events()); !slices.Equal(got, seq(1, 2)) {
		t.Fatalf("cursors %v, want 1..2: from the oldest kept after the loss", got)
	}
}
