package inject_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"go.uber.org/goleak"

	"github.com/sluice-mta/sluice/bench/inject"
	"github.com/sluice-mta/sluice/bench/sink"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startSink serves a sink on each of addrs ("127.0.0.1:0") and returns it with
// the addresses it listens on.
func startSink(t testing.TB, addrs ...string) (*sink.Sink, []string) {
	t.Helper()
	s := sink.New(sink.Config{Logger: slog.New(slog.DiscardHandler)})
	var wg sync.WaitGroup
	var bound []string
	for _, a := range addrs {
		l, err := net.Listen("tcp", a)
		if err != nil {
			t.Skipf("cannot listen on %s: %v", a, err)
		}
		bound = append(bound, l.Addr().String())
		wg.Go(func() {
			if err := s.Serve(l); err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	t.Cleanup(func() {
		s.Close()
		wg.Wait()
	})
	return s, bound
}

func TestRun_AgainstSink_SinkCountsWhatInjectSent(t *testing.T) {
	s, addrs := startSink(t, "127.0.0.1:0")
	cfg := inject.Config{
		Target:      addrs[0],
		Count:       500,
		Concurrency: 8,
		Recipients:  3,
		Domains:     7,
		Size:        2048,
		Timeout:     10 * time.Second,
		Headers:     map[string]string{"X-Sluice-Pool": "bench"},
	}
	var calls, lastDone, lastFailed int
	res, err := inject.Run(context.Background(), cfg, func(done, failed int) {
		calls++
		lastDone, lastFailed = done, failed
	})
	if err != nil {
		t.Fatal(err)
	}

	if res.Sent != 500 || res.Failed != 0 || len(res.Errors) != 0 {
		t.Fatalf("sent %d failed %d errors %v; want 500, 0, none", res.Sent, res.Failed, res.Errors)
	}
	l := res.Latency
	if !(0 < l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.Max) {
		t.Errorf("latency not ordered: %+v", l)
	}
	if res.MessagesPerSecond <= 0 || res.Duration <= 0 {
		t.Errorf("rate %v over %v", res.MessagesPerSecond, res.Duration)
	}
	if calls == 0 || lastDone != 500 || lastFailed != 0 {
		t.Errorf("progress: %d calls, last (%d, %d); want the last to be (500, 0)", calls, lastDone, lastFailed)
	}

	st := s.Stats()
	if st.Messages != 500 || st.Recipients != 1500 {
		t.Errorf("sink messages %d recipients %d; want 500, 1500", st.Messages, st.Recipients)
	}
	var sum int64
	for _, n := range st.ByDomain {
		sum += n
	}
	if len(st.ByDomain) != 7 || sum != 1500 || st.ByDomain["d0.test"] == 0 || st.ByDomain["d6.test"] == 0 {
		t.Errorf("by domain %v: want d0..d6.test summing to 1500", st.ByDomain)
	}
	if st.ByPeerIP["127.0.0.1"] != 500 {
		t.Errorf("by peer %v, want 127.0.0.1: 500", st.ByPeerIP)
	}
	if st.Bytes != res.Bytes {
		t.Errorf("sink read %d bytes, inject sent %d", st.Bytes, res.Bytes)
	}
	if per := res.Bytes / 500; per < 2048-100 || per > 2048+100 {
		t.Errorf("%d bytes per message, want about 2048", per)
	}
	// Each of 8 workers connects; one that claims more than 100 of the 500
	// messages connects again.
	if st.Connections < 8 || st.Connections > 8+5 {
		t.Errorf("sink connections %d, want 8 to 13", st.Connections)
	}
	// The sink closes a connection just after its reply to QUIT.
	for deadline := time.Now().Add(5 * time.Second); s.Stats().ActiveConnections != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("sink still has %d active connections", s.Stats().ActiveConnections)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if out := res.String(); !strings.Contains(out, "500 messages, 0 failed") || !strings.Contains(out, "p99") {
		t.Errorf("String() =\n%s", out)
	}
}

func TestRun_TwoSinkAddresses_PeerIsLocalAddr(t *testing.T) {
	s, addrs := startSink(t, "127.0.0.1:0", "127.0.0.2:0")
	for _, a := range addrs {
		res, err := inject.Run(context.Background(), inject.Config{
			Target: a, Count: 20, Concurrency: 2, LocalAddr: "127.0.0.3", Timeout: 10 * time.Second,
		}, nil)
		if err != nil || res.Sent != 20 {
			t.Fatalf("to %s: sent %d, err %v, errors %v", a, res.Sent, err, res.Errors)
		}
	}
	st := s.Stats()
	if st.Messages != 40 || len(st.ByPeerIP) != 1 || st.ByPeerIP["127.0.0.3"] != 40 {
		t.Errorf("messages %d by peer %v; want 40 all from 127.0.0.3", st.Messages, st.ByPeerIP)
	}
}

func TestRun_MessagesPerConnection_SetsConnectionCount(t *testing.T) {
	for _, tc := range []struct {
		name      string
		perConn   int
		wantConns int64
	}{
		{"one connection per message", 1, 12},
		{"four messages per connection", 4, 3},
		{"more than count", 100, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, addrs := startSink(t, "127.0.0.1:0")
			res, err := inject.Run(context.Background(), inject.Config{
				Target: addrs[0], Count: 12, Concurrency: 1, MessagesPerConnection: tc.perConn,
			}, nil)
			if err != nil || res.Sent != 12 {
				t.Fatalf("sent %d err %v errors %v", res.Sent, err, res.Errors)
			}
			if st := s.Stats(); st.Connections != tc.wantConns || st.Messages != 12 {
				t.Errorf("connections %d messages %d; want %d, 12", st.Connections, st.Messages, tc.wantConns)
			}
		})
	}
}

// scriptedBackend is a go-smtp backend whose replies the test chooses.
type scriptedBackend struct {
	rcpt func(to string) error
	data func() error
}

func (b scriptedBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return scriptedSession(b), nil }

type scriptedSession scriptedBackend

func (scriptedSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s scriptedSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.rcpt != nil {
		return s.rcpt(to)
	}
	return nil
}
func (s scriptedSession) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	if s.data != nil {
		return s.data()
	}
	return nil
}
func (scriptedSession) Reset()        {}
func (scriptedSession) Logout() error { return nil }

// testServer serves be on 127.0.0.1:0 and returns its address.
func testServer(t *testing.T, be smtp.Backend) string {
	t.Helper()
	srv := smtp.NewServer(be)
	srv.Domain = "scripted.test"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(l) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return l.Addr().String()
}

func TestRun_ServerDefersData_FailuresCountedByCode(t *testing.T) {
	var mu sync.Mutex
	n := 0
	addr := testServer(t, scriptedBackend{data: func() error {
		mu.Lock()
		defer mu.Unlock()
		n++
		if n%2 == 0 { // every other message
			return &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "insufficient storage"}
		}
		return nil
	}})
	res, err := inject.Run(context.Background(), inject.Config{Target: addr, Count: 40, Concurrency: 4}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 20 || res.Failed != 20 || res.Errors["452 4.3.1"] != 20 || len(res.Errors) != 1 {
		t.Errorf("sent %d failed %d errors %v; want 20, 20, {452 4.3.1: 20}", res.Sent, res.Failed, res.Errors)
	}
	if !strings.Contains(res.String(), "452 4.3.1") {
		t.Errorf("String() lacks the error:\n%s", res)
	}
}

func TestRun_ServerRejectsOneRcpt_MessageFailedConnectionKept(t *testing.T) {
	addr := testServer(t, scriptedBackend{rcpt: func(to string) error {
		if strings.HasSuffix(to, "@d1.test") {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}
		return nil
	}})
	// Recipient n goes to d<n mod 2>: messages with an odd recipient fail.
	res, err := inject.Run(context.Background(), inject.Config{
		Target: addr, Count: 10, Concurrency: 1, Recipients: 1, Domains: 2,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 5 || res.Failed != 5 || res.Errors["550 5.1.1"] != 5 {
		t.Errorf("sent %d failed %d errors %v; want 5, 5, {550 5.1.1: 5}", res.Sent, res.Failed, res.Errors)
	}
}

func TestRun_ServerClosesWith421_Reconnects(t *testing.T) {
	var mu sync.Mutex
	n := 0
	addr := testServer(t, scriptedBackend{data: func() error {
		mu.Lock()
		defer mu.Unlock()
		n++
		if n == 3 {
			return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "try later"}
		}
		return nil
	}})
	res, err := inject.Run(context.Background(), inject.Config{Target: addr, Count: 10, Concurrency: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 9 || res.Failed != 1 || res.Errors["421 4.7.0"] != 1 {
		t.Errorf("sent %d failed %d errors %v; want 9, 1, {421 4.7.0: 1}", res.Sent, res.Failed, res.Errors)
	}
}

func TestRun_NothingListening_AllFailFast(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	res, err := inject.Run(context.Background(), inject.Config{Target: addr, Count: 4, Concurrency: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 0 || res.Failed != 4 || res.Errors["connect: connection refused"] != 4 {
		t.Errorf("sent %d failed %d errors %v; want 0, 4, connection refused", res.Sent, res.Failed, res.Errors)
	}
}

func TestRun_SinkClosedMidRun_RestFailsWithoutHanging(t *testing.T) {
	s, addrs := startSink(t, "127.0.0.1:0")
	var once sync.Once
	res, err := inject.Run(context.Background(), inject.Config{
		Target: addrs[0], Count: 3000, Concurrency: 4, Size: 512, Timeout: 5 * time.Second,
	}, func(done, _ int) {
		if done > 0 {
			once.Do(func() { s.Close() })
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent+res.Failed != 3000 || res.Failed == 0 {
		t.Errorf("sent %d failed %d; want all 3000 tried, some failed", res.Sent, res.Failed)
	}
	t.Logf("report:\n%s", res)
	// A message the sink counted may lose its 250 to the Close: never fewer.
	if n := s.Stats().Messages; n < int64(res.Sent) || n > int64(res.Sent)+4 {
		t.Errorf("inject sent %d, sink counted %d", res.Sent, n)
	}
}

// silentServer accepts connections and never says a word.
func silentServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

func TestRun_SilentServer_TimesOut(t *testing.T) {
	addr := silentServer(t)
	res, err := inject.Run(context.Background(), inject.Config{
		Target: addr, Count: 2, Concurrency: 1, Timeout: 100 * time.Millisecond,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed != 2 || res.Errors["connect: timeout"] != 2 {
		t.Errorf("failed %d errors %v; want 2 connect timeouts", res.Failed, res.Errors)
	}
}

func TestRun_ContextCancelled_ReturnsPromptly(t *testing.T) {
	addr := silentServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := inject.Run(ctx, inject.Config{Target: addr, Count: 10, Concurrency: 3, Timeout: time.Minute}, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run took %v after cancel", d)
	}
	if res.Sent != 0 || res.Failed != 0 {
		t.Errorf("sent %d failed %d; want nothing counted for cancelled messages", res.Sent, res.Failed)
	}
}

func TestRun_InvalidConfig_Error(t *testing.T) {
	if _, err := inject.Run(context.Background(), inject.Config{}, nil); err == nil {
		t.Error("Run without Target succeeded")
	}
}

// BenchmarkSinkInject measures inject against the sink over loopback: the
// ceiling of the bench harness itself. One op is one message.
func BenchmarkSinkInject(b *testing.B) {
	for _, tc := range []struct {
		name string
		size int
	}{{"1KB", 1024}, {"4KB", 4096}} {
		b.Run(tc.name, func(b *testing.B) {
			_, addrs := startSink(b, "127.0.0.1:0")
			b.ResetTimer()
			res, err := inject.Run(context.Background(), inject.Config{
				Target: addrs[0], Count: b.N, Concurrency: 16, Size: tc.size,
			}, nil)
			if err != nil || res.Failed != 0 {
				b.Fatalf("err %v, failed %d: %v", err, res.Failed, res.Errors)
			}
			b.ReportMetric(res.MessagesPerSecond, "msgs/s")
			b.SetBytes(res.Bytes / int64(b.N))
		})
	}
}

func TestRun_SMTPAcked_NamesEveryDeliveredRecipient(t *testing.T) {
	s, addrs := startSink(t, "127.0.0.1:0")
	var mu sync.Mutex
	var acked []int64
	cfg := inject.Config{Target: addrs[0], Count: 50, Concurrency: 3, Recipients: 3, Domains: 5,
		Acked: func(first int64, n int) {
			mu.Lock()
			defer mu.Unlock()
			for i := range int64(n) {
				acked = append(acked, first+i)
			}
		}}
	if _, err := inject.Run(context.Background(), cfg, nil); err != nil {
		t.Fatal(err)
	}
	cfg.SetDefaults()
	slices.Sort(acked)
	if len(acked) != 150 {
		t.Fatalf("acked %d recipients, want 150", len(acked))
	}
	for i, n := range acked {
		if n != int64(i) {
			t.Fatalf("acked %v, want 0..149 once each", acked)
		}
	}
	if got := s.Stats().ByDomain; got["d3.test"] != 30 || cfg.Address(8) != "user8@d3.test" {
		t.Errorf("by domain %v; Address(8) = %s", got, cfg.Address(8))
	}
}
