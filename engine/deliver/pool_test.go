package deliver

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-mta/sluice/bench/sink"
	"github.com/sluice-mta/sluice/engine/deliver/client"
	"github.com/sluice-mta/sluice/engine/deliver/mx"
)

// waitFor is how long a test waits for something that takes milliseconds.
const waitFor = 5 * time.Second

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// newTestPool returns a pool whose sites all get lim and whose client gives
// up within seconds; the pool is closed when the test ends.
func newTestPool(t *testing.T, lim Limits) *Pool {
	t.Helper()
	p := NewPool(Options{
		Client: client.Options{
			TLS:             client.TLSOff,
			ConnectTimeout:  2 * time.Second,
			GreetingTimeout: 5 * time.Second,
			CommandTimeout:  5 * time.Second,
			ResetTimeout:    2 * time.Second,
		},
		Limits: func(string, string) Limits { return lim },
		Logger: quietLog,
	})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

// plan makes a plan for site whose hosts are mx1.test, mx2.test, ... at addrs,
// in that order.
func plan(site string, addrs ...netip.AddrPort) *mx.Plan {
	p := &mx.Plan{Domain: "d.test", Site: site}
	for i, a := range addrs {
		p.Hosts = append(p.Hosts, mx.Host{Name: hostName(i), Pref: 10 * (i + 1),
			Addrs: []netip.Addr{a.Addr()}, Port: int(a.Port())})
	}
	return p
}

func hostName(i int) string { return "mx" + string(rune('1'+i)) + ".test" }

// deadAddr returns a loopback address where nothing listens.
func deadAddr(t *testing.T) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddrPort(ln.Addr().String())
	ln.Close()
	return a
}

// tracker makes jobs and records how often each one's Done was called.
type tracker struct {
	wg sync.WaitGroup // one per job, done at its first Done
	mu struct {
		sync.Mutex
		calls     []int
		results   []*Result
		forgotten []bool       // Submit failed: Done is not owed
		index     map[*Job]int // into the slices above
	}
}

// job returns a job to plan for recipients to (one when none is given).
func (tr *tracker) job(p *mx.Plan, to ...string) *Job {
	if len(to) == 0 {
		to = []string{"rcpt@d.test"}
	}
	tr.mu.Lock()
	i := len(tr.mu.calls)
	tr.mu.calls = append(tr.mu.calls, 0)
	tr.mu.results = append(tr.mu.results, nil)
	tr.mu.forgotten = append(tr.mu.forgotten, false)
	tr.mu.Unlock()
	tr.wg.Add(1)
	j := &Job{
		VMTA: "v1", HELO: "out.test", Plan: p,
		Tx: client.Transaction{From: "sender@src.test", To: to,
			Body: strings.NewReader("Subject: test\r\n\r\nHello.\r\n")},
		Done: func(r *Result) {
			tr.mu.Lock()
			tr.mu.calls[i]++
			first := tr.mu.calls[i] == 1
			if first {
				tr.mu.results[i] = r
			}
			tr.mu.Unlock()
			if first {
				tr.wg.Done()
			}
		},
	}
	tr.mu.Lock()
	if tr.mu.index == nil {
		tr.mu.index = map[*Job]int{}
	}
	tr.mu.index[j] = i
	tr.mu.Unlock()
	return j
}

// forget notes that j's Submit failed: its Done must not be called.
func (tr *tracker) forget(j *Job) {
	tr.mu.Lock()
	tr.mu.forgotten[tr.mu.index[j]] = true
	tr.mu.Unlock()
	tr.wg.Done()
}

// wait waits until every job got its Done, or fails the test.
func (tr *tracker) wait(t *testing.T) {
	t.Helper()
	done := make(chan struct{})
	go func() { tr.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(waitFor):
		tr.mu.Lock()
		missing := 0
		for i, n := range tr.mu.calls {
			if n == 0 && !tr.mu.forgotten[i] {
				missing++
			}
		}
		tr.mu.Unlock()
		t.Fatalf("%d job(s) never got Done", missing)
	}
}

// results checks that every job got Done exactly once and returns their
// results, in the order the jobs were made.
func (tr *tracker) results(t *testing.T) []*Result {
	t.Helper()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for i, n := range tr.mu.calls {
		want := 1
		if tr.mu.forgotten[i] {
			want = 0
		}
		if n != want {
			t.Errorf("job %d: Done called %d times, want %d", i, n, want)
		}
	}
	return tr.mu.results
}

func submit(t *testing.T, p *Pool, j *Job) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := p.Submit(ctx, j); err != nil {
		t.Fatalf("Submit: %v", err)
	}
}

// eventually polls cond until it holds, or fails the test with what.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// wantDelivered fails unless every recipient of r was delivered.
func wantDelivered(t *testing.T, i int, r *Result) {
	t.Helper()
	if r.Err != nil {
		t.Errorf("job %d: Err = %v", i, r.Err)
	}
	for k := range r.Replies {
		if !r.Delivered(k) {
			t.Errorf("job %d: recipient %d not delivered: %v", i, k, r.Replies[k])
		}
	}
}

// wantLocalTemp fails unless every recipient of r has a local temporary
// failure with enhanced code enh ("" for any) and r.Err is set.
func wantLocalTemp(t *testing.T, i int, r *Result, enh string) {
	t.Helper()
	if r.Err == nil {
		t.Errorf("job %d: Err = nil, want a connection error", i)
	}
	for k, rep := range r.Replies {
		if !rep.Local || !rep.Temporary() || r.Delivered(k) || (enh != "" && rep.Enhanced != enh) {
			t.Errorf("job %d: recipient %d: reply %+v, want a local 451 %s", i, k, rep, enh)
		}
	}
}

func siteStats(p *Pool) map[string]SiteStats {
	out := map[string]SiteStats{}
	for _, s := range p.Stats() {
		out[s.Site] = s
	}
	return out
}

func TestPool_ManyJobs_NeverMoreThanMaxConnections(t *testing.T) {
	rcv := newReceiver(t)
	p := newTestPool(t, Limits{MaxConnections: 3})
	pl := plan("s1", rcv.addr)
	var tr tracker
	jobs := make([]*Job, 200)
	for i := range jobs {
		jobs[i] = tr.job(pl)
	}
	// Four submitters, so that the queue is full and Submit blocks too.
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < len(jobs); i += 4 {
				if err := p.Submit(context.Background(), jobs[i]); err != nil {
					t.Errorf("Submit: %v", err)
				}
			}
		})
	}
	wg.Wait()
	tr.wait(t)
	for i, r := range tr.results(t) {
		wantDelivered(t, i, r)
	}
	st := rcv.stats()
	if st.peak > 3 {
		t.Errorf("receiver saw %d connections at once, want <= 3", st.peak)
	}
	if st.messages != 200 {
		t.Errorf("receiver got %d messages, want 200", st.messages)
	}
}

func TestPool_FirstMXDead_FallsBackToNextHost(t *testing.T) {
	rcv := newReceiver(t)
	p := newTestPool(t, Limits{})
	var tr tracker
	// NB: both hosts are on 127.0.0.1: the result must name the host that
	// was dialed, not the first one with that address.
	submit(t, p, tr.job(plan("s1", deadAddr(t), rcv.addr)))
	tr.wait(t)
	r := tr.results(t)[0]
	wantDelivered(t, 0, r)
	if r.Host != "mx2.test" || r.IP != "127.0.0.1" {
		t.Errorf("Host, IP = %q, %q; want mx2.test, 127.0.0.1", r.Host, r.IP)
	}
	if n := rcv.stats().messages; n != 1 {
		t.Errorf("receiver got %d messages, want 1", n)
	}
}

func TestPool_AllHostsDead_AllRecipientsTempFailed(t *testing.T) {
	p := newTestPool(t, Limits{})
	var tr tracker
	submit(t, p, tr.job(plan("s1", deadAddr(t), deadAddr(t)), "a@d.test", "b@d.test"))
	tr.wait(t)
	r := tr.results(t)[0]
	wantLocalTemp(t, 0, r, "4.4.1")
	if len(r.Replies) != 2 {
		t.Fatalf("got %d replies, want 2", len(r.Replies))
	}
	if r.Replies[0].Code != 451 || r.Host != "" {
		t.Errorf("reply %v, Host %q; want 451 and no host", r.Replies[0], r.Host)
	}
}

func TestPool_ConnectionReused_UpToMaxMessagesPerConnection(t *testing.T) {
	rcv := newReceiver(t)
	// NB: one connection at most. With more, a job submitted just as the
	// previous one's Done returns may find no idle goroutine and start one.
	p := newTestPool(t, Limits{MaxConnections: 1, MaxMessagesPerConnection: 4})
	pl := plan("s1", rcv.addr)
	var tr tracker
	for range 10 {
		submit(t, p, tr.job(pl))
		tr.wait(t)
	}
	for i, r := range tr.results(t) {
		wantDelivered(t, i, r)
	}
	if st := rcv.stats(); st.conns != 3 || st.messages != 10 {
		t.Errorf("receiver saw %d connections and %d messages, want 3 and 10", st.conns, st.messages)
	}
	// The two retired connections ended with QUIT.
	eventually(t, "2 QUITs", func() bool { return rcv.stats().quits == 2 })
}

func TestPool_IdleConnectionClosedAfterIdleTimeout(t *testing.T) {
	rcv := newReceiver(t)
	p := newTestPool(t, Limits{IdleTimeout: 100 * time.Millisecond})
	var tr tracker
	submit(t, p, tr.job(plan("s1", rcv.addr)))
	tr.wait(t)
	wantDelivered(t, 0, tr.results(t)[0])
	eventually(t, "the receiver's connection to close", func() bool {
		st := rcv.stats()
		return st.conns == 1 && st.active == 0
	})
	if st := rcv.stats(); st.quits != 1 || st.logouts != 1 {
		t.Errorf("receiver saw %d QUITs and %d logouts, want 1 and 1", st.quits, st.logouts)
	}
	eventually(t, "the pool to count no connection", func() bool {
		return siteStats(p)["s1"].Connections == 0
	})
}

func TestPool_ReceiverDropsMidData_EveryRecipientTempFailed_NoneDelivered(t *testing.T) {
	rcv := newReceiver(t, withDropMidData())
	p := newTestPool(t, Limits{})
	var tr tracker
	submit(t, p, tr.job(plan("s1", rcv.addr), "a@d.test", "b@d.test", "c@d.test"))
	tr.wait(t)
	r := tr.results(t)[0]
	wantLocalTemp(t, 0, r, "")
	if len(r.Replies) != 3 {
		t.Errorf("got %d replies, want 3", len(r.Replies))
	}
	if r.Host != "mx1.test" {
		t.Errorf("Host = %q, want mx1.test", r.Host)
	}
	if n := rcv.stats().messages; n != 0 {
		t.Errorf("receiver accepted %d messages, want 0", n)
	}
}

func TestPool_SourceIP_BindsToVMTAAddress(t *testing.T) {
	snk := sink.New(sink.Config{Behaviours: true, Logger: quietLog})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- snk.Serve(ln) }()
	t.Cleanup(func() {
		snk.Close()
		if err := <-served; err != nil {
			t.Errorf("sink: %v", err)
		}
	})

	p := newTestPool(t, Limits{})
	var tr tracker
	j := tr.job(plan("s1", netip.MustParseAddrPort(ln.Addr().String())))
	j.Source = netip.MustParseAddr("127.0.0.2")
	submit(t, p, j)
	tr.wait(t)
	wantDelivered(t, 0, tr.results(t)[0])
	if got := snk.Stats().ByPeerIP; got["127.0.0.2"] != 1 || len(got) != 1 {
		t.Errorf("sink ByPeerIP = %v, want 127.0.0.2: 1", got)
	}
}

func TestPool_Close_FailsQueuedJobsAndReturns(t *testing.T) {
	rcv := newReceiver(t, withGate(make(chan struct{}))) // never opened
	p := NewPool(Options{
		Client: client.Options{TLS: client.TLSOff, ResetTimeout: 2 * time.Second},
		Limits: func(string, string) Limits { return Limits{MaxConnections: 2, QueueLength: 10} },
		Logger: quietLog,
	})
	pl := plan("s1", rcv.addr)
	var tr tracker
	for range 8 {
		submit(t, p, tr.job(pl))
	}
	eventually(t, "2 messages held in DATA", func() bool { return rcv.stats().inData == 2 })

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := p.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v, want %v", err, context.DeadlineExceeded)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
	// Close waited: every Done has been called by now.
	closed := 0
	for i, r := range tr.results(t) {
		if r == nil {
			continue
		}
		wantLocalTemp(t, i, r, "")
		if errors.Is(r.Err, ErrClosed) {
			closed++
		}
	}
	if closed != 6 {
		t.Errorf("%d jobs failed with ErrClosed, want the 6 queued", closed)
	}
	j := tr.job(pl)
	if err := p.Submit(context.Background(), j); !errors.Is(err, ErrClosed) {
		t.Errorf("Submit after Close = %v, want ErrClosed", err)
	}
	tr.forget(j)
	if n := rcv.stats().messages; n != 0 {
		t.Errorf("receiver accepted %d messages, want 0", n)
	}
}

func TestPool_TwoSites_SeparatePools(t *testing.T) {
	gate := make(chan struct{})
	rcv := newReceiver(t, withGate(gate))
	p := newTestPool(t, Limits{MaxConnections: 2})
	var tr tracker
	for _, site := range []string{"a", "b"} {
		pl := plan(site, rcv.addr)
		for range 5 {
			submit(t, p, tr.job(pl))
		}
	}
	eventually(t, "4 messages held in DATA", func() bool { return rcv.stats().inData == 4 })
	st := siteStats(p)
	for _, site := range []string{"a", "b"} {
		if s := st[site]; s.Connections != 2 || s.Queued != 3 || s.VMTA != "v1" {
			t.Errorf("site %s: %+v, want 2 connections and 3 queued", site, s)
		}
	}
	close(gate)
	tr.wait(t)
	for i, r := range tr.results(t) {
		wantDelivered(t, i, r)
	}
	if s := rcv.stats(); s.peak != 4 || s.messages != 10 {
		t.Errorf("receiver: %d connections at most and %d messages, want 4 and 10", s.peak, s.messages)
	}
}

func TestPool_JobArrivesAsIdleTimerFires_StillDelivered(t *testing.T) {
	rcv := newReceiver(t)
	// A one-connection site whose connection quits after 1 ms idle; each job
	// comes about when the timer fires.
	p := newTestPool(t, Limits{MaxConnections: 1, IdleTimeout: time.Millisecond})
	pl := plan("s1", rcv.addr)
	var tr tracker
	for i := range 300 {
		submit(t, p, tr.job(pl))
		tr.wait(t)
		time.Sleep(time.Duration(500+i%5*200) * time.Microsecond)
	}
	for i, r := range tr.results(t) {
		wantDelivered(t, i, r)
	}
}

// A Submit that passed its closing check before Close but queued its job
// after Close emptied the queue must still see the job failed. NB: a stress
// test; the window is narrow (GOMAXPROCS=2 hits it most often).
func TestPool_SubmitRacingClose_EveryAcceptedJobDone(t *testing.T) {
	rcv := newReceiver(t)
	pl := plan("s1", rcv.addr)
	for range 50 {
		p := NewPool(Options{
			Client: client.Options{TLS: client.TLSOff, ResetTimeout: 2 * time.Second},
			Limits: func(string, string) Limits { return Limits{MaxConnections: 4, QueueLength: 64} },
			Logger: quietLog,
		})
		var tr tracker
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for {
					j := tr.job(pl)
					if err := p.Submit(context.Background(), j); err != nil {
						tr.forget(j)
						return
					}
				}
			})
		}
		time.Sleep(2 * time.Millisecond)
		if err := p.Close(context.Background()); err != nil {
			t.Fatalf("Close: %v", err)
		}
		wg.Wait()
		tr.wait(t)
		tr.results(t)
	}
}
