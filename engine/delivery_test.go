package engine

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sluice-mta/sluice/bench/fakedns"
	"github.com/sluice-mta/sluice/bench/sink"
	"github.com/sluice-mta/sluice/configs"
	"github.com/sluice-mta/sluice/engine/dsn"
	"github.com/sluice-mta/sluice/engine/queue"
)

// world is a loopback Internet for delivery tests: a fake DNS whose *.test
// domains have MX hosts pointing at a scripted sink, and a capturing server
// for the sender's domain (sender.example) that keeps DSNs.
type world struct {
	dns      *fakedns.Server
	sink     *sink.Sink
	sinkPort int
	capture  *captureServer
	clock    *queue.ManualClock
}

func newWorld(t *testing.T, mxHosts int) *world {
	t.Helper()
	w := &world{clock: queue.NewManualClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))}
	w.sink = sink.New(sink.Config{Behaviours: true, TrackDuplicates: true, SlowDelay: 300 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w.sinkPort = l.Addr().(*net.TCPAddr).Port
	go func() { _ = w.sink.Serve(l) }()
	t.Cleanup(func() { _ = w.sink.Close() })
	if w.dns, err = fakedns.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.dns.Close() })
	w.dns.Synthetic("test", mxHosts, netip.MustParseAddr("127.0.0.1"))
	w.capture = startCapture(t)
	return w
}

// engine starts an engine delivering into the world; mutate adjusts config.
func (w *world) engine(t *testing.T, dir string, mutate func(*configs.Config)) *Engine {
	t.Helper()
	cfg, err := configs.Load("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Spool.Dir = dir
	cfg.Spool.MinFreeSpace, cfg.Spool.BallastSize = 0, 0
	cfg.SMTPIn.Hostname = "mta.sluice.test"
	cfg.DNS.Resolvers = []string{w.dns.Addr()}
	cfg.Delivery.MXPort = w.sinkPort
	cfg.Delivery.TLS = "off"
	cfg.Routes = []configs.Route{{Domain: "sender.example", Hosts: []string{w.capture.addr}}}
	if mutate != nil {
		mutate(cfg)
	}
	e, err := New(cfg, Deps{Clock: w.clock.Now, SchedClock: w.clock, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// waitFor polls cond (real time: delivery runs on real sockets) for up to 2 min
// (generous: the race detector on a loaded 2-core CI box is slow).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func submit(t *testing.T, e *Engine, from string, to ...string) string {
	t.Helper()
	id, err := e.Submit(context.Background(), Envelope{From: from, To: to},
		[]byte("From: <"+from+">\r\nSubject: test\r\nMessage-ID: <m"+strconv.Itoa(len(to))+"@x>\r\n\r\nhello\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestDelivery_10000RecipientsOver50Domains_EachDeliveredOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	w := newWorld(t, 0)
	e := w.engine(t, t.TempDir(), nil)
	defer e.Close()
	var wg sync.WaitGroup
	for g := 0; g < 10; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := 0; m < 100; m++ {
				to := make([]string, 10)
				for r := range to { // a message's recipients share a domain: one transaction each
					n := (g*100+m)*10 + r
					to[r] = fmt.Sprintf("user%d@d%d.test", n, (g*100+m)%50)
				}
				submit(t, e, "news@sender.example", to...)
			}
		}()
	}
	wg.Wait()
	waitFor(t, "10,000 deliveries", func() bool { return w.sink.Stats().Recipients >= 10000 && e.SpoolStats().Recipients == 0 })
	st := w.sink.Stats()
	if st.Recipients != 10000 || st.Duplicates != 0 || len(st.ByDomain) != 50 {
		t.Fatalf("sink: %d recipients, %d duplicates, %d domains", st.Recipients, st.Duplicates, len(st.ByDomain))
	}
	if st.PipelinedTransactions == 0 {
		t.Fatalf("no transaction arrived pipelined: %+v", st)
	}
	if st.Transactions != 1000 {
		t.Fatalf("%d transactions for 1,000 messages of 10 recipients each (same domain): want 1,000", st.Transactions)
	}
}

func TestDelivery_MXRollup_TwoDomainsOneSitePool(t *testing.T) {
	w := newWorld(t, 1) // every *.test domain -> mx0.test
	e := w.engine(t, t.TempDir(), func(c *configs.Config) { c.Delivery.MaxSMTPOut = 2 })
	defer e.Close()
	for i := 0; i < 40; i++ {
		submit(t, e, "a@sender.example", fmt.Sprintf("u%d@alpha.test", i), fmt.Sprintf("u%d@beta.test", i))
	}
	waitFor(t, "80 deliveries", func() bool { return w.sink.Stats().Recipients == 80 })
	sites := e.conns.Stats()
	if len(sites) != 1 {
		t.Fatalf("want one (vmta, site) pool for two domains with the same MX, got %+v", sites)
	}
}

func TestDelivery_Bounce_DSNToSenderWithOriginalHeaders(t *testing.T) {
	w := newWorld(t, 0)
	e := w.engine(t, t.TempDir(), nil)
	defer e.Close()
	id := submit(t, e, "alice@sender.example", "bounce1@d1.test", "ok1@d1.test")
	waitFor(t, "the DSN", func() bool { return w.capture.count() == 1 })
	m := w.capture.messages()[0]
	if m.from != "" || m.to[0] != "alice@sender.example" {
		t.Fatalf("DSN envelope from %q to %v; want null sender to alice", m.from, m.to)
	}
	rep, err := dsn.Parse(m.data)
	if err != nil {
		t.Fatalf("DSN does not parse: %v\n%s", err, m.data)
	}
	if len(rep.Recipients) != 1 || rep.Recipients[0].Final != "bounce1@d1.test" || rep.Recipients[0].Action != "failed" ||
		rep.Recipients[0].Status != "5.1.1" || !strings.Contains(rep.Recipients[0].Diagnostic, "550") {
		t.Fatalf("DSN recipients: %+v", rep.Recipients)
	}
	if !strings.Contains(string(rep.OriginalHeaders), "Subject: test") {
		t.Fatalf("DSN lacks the original headers: %q", rep.OriginalHeaders)
	}
	waitFor(t, "the good recipient", func() bool { return w.sink.Stats().Recipients == 1 })
	// The DSN's own delivery is written back just after the capture server saw it.
	waitFor(t, "an empty spool ("+id+" and its DSN done)", func() bool { return e.SpoolStats().Recipients == 0 })
}

func TestDelivery_DeferThenDeliver_RetriesOnlyThatRecipient(t *testing.T) {
	w := newWorld(t, 0)
	dir := t.TempDir()
	e := w.engine(t, dir, nil)
	defer e.Close()
	submit(t, e, "a@sender.example", "defer1@d2.test", "ok2@d2.test")
	waitFor(t, "ok2 delivered and defer1 deferred", func() bool {
		return w.sink.Stats().Recipients == 1 && e.SpoolStats().Recipients == 1
	})
	w.sink.SetBehaviour("defer", sink.Accept)
	w.clock.Advance(4 * time.Minute) // retry_after[0] is 5m ±10%: not yet
	time.Sleep(50 * time.Millisecond)
	if w.sink.Stats().Recipients != 1 {
		t.Fatal("retried before retry_after")
	}
	w.clock.Advance(2 * time.Minute)
	waitFor(t, "the retry", func() bool { return w.sink.Stats().Recipients == 2 && e.SpoolStats().Recipients == 0 })
	if d := w.sink.Stats().Duplicates; d != 0 {
		t.Fatalf("%d duplicates: the deferral retried more than the deferred recipient", d)
	}
	e.Close()
	rows := readAcct(t, filepath.Join(dir, "acct"))
	types := ""
	for _, r := range rows {
		types += r[0]
	}
	if strings.Count(types, "d") != 2 || strings.Count(types, "t") != 1 {
		t.Fatalf("accounting types %q, want two d and one t", types)
	}
	for _, r := range rows {
		if r[0] == "t" && r[12] != "transient" {
			t.Errorf("deferral's bounce category %q, want transient (row %v)", r[12], r)
		}
	}
}

func TestDelivery_Expiry_BouncesWithDSN(t *testing.T) {
	w := newWorld(t, 0)
	e := w.engine(t, t.TempDir(), func(c *configs.Config) { c.Delivery.BounceAfter = configs.Duration(time.Hour) })
	defer e.Close()
	submit(t, e, "bob@sender.example", "defer9@d3.test")
	waitFor(t, "first attempt", func() bool { return w.sink.Stats().ByCode["451"] == 1 })
	for i := 0; i < 8 && w.capture.count() == 0; i++ {
		w.clock.Advance(15 * time.Minute)
		time.Sleep(100 * time.Millisecond)
	}
	waitFor(t, "expiry DSN", func() bool { return w.capture.count() == 1 })
	rep, err := dsn.Parse(w.capture.messages()[0].data)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Recipients[0].Status != "4.4.7" || rep.Recipients[0].Action != "failed" {
		t.Fatalf("expiry DSN recipient %+v", rep.Recipients[0])
	}
	waitFor(t, "an empty spool (the expired recipient and its DSN done)", func() bool { return e.SpoolStats().Recipients == 0 })
}

func TestDelivery_DSNThatBounces_IsDroppedNoLoop(t *testing.T) {
	w := newWorld(t, 0)
	e := w.engine(t, t.TempDir(), nil)
	defer e.Close()
	// The sender's own domain bounces: the DSN to it bounces in turn and must be dropped.
	submit(t, e, "bounce-sender@d5.test", "bounce2@d4.test")
	waitFor(t, "both bounces", func() bool { return w.sink.Stats().ByCode["550"] == 2 })
	waitFor(t, "an empty queue after the bounced DSN", func() bool { return e.SpoolStats().Recipients == 0 })
	time.Sleep(200 * time.Millisecond) // a loop would bounce a third time by now
	if n := w.sink.Stats().ByCode["550"]; n != 2 {
		t.Fatalf("%d bounces: DSN loop", n)
	}
}

func TestDelivery_NullMXAndNXDomain_BounceAtOnce(t *testing.T) {
	w := newWorld(t, 0)
	w.dns.SetNullMX("nullmx.test")
	w.dns.SetNXDomain("gone.test")
	e := w.engine(t, t.TempDir(), nil)
	defer e.Close()
	submit(t, e, "carol@sender.example", "x@nullmx.test", "y@gone.test")
	waitFor(t, "two DSNs", func() bool { return w.capture.count() == 2 })
	got := map[string]string{}
	for _, m := range w.capture.messages() {
		rep, err := dsn.Parse(m.data)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rep.Recipients {
			got[r.Final] = r.Status
		}
	}
	if got["x@nullmx.test"] != "5.1.10" || got["y@gone.test"] != "5.1.2" {
		t.Fatalf("statuses %v", got)
	}
}

func TestDelivery_RestartMidDelivery_LosesNothing(t *testing.T) {
	w := newWorld(t, 0)
	dir := t.TempDir()
	e := w.engine(t, dir, func(c *configs.Config) { c.Delivery.MaxSMTPOut = 2 })
	for i := 0; i < 30; i++ {
		submit(t, e, "a@sender.example", fmt.Sprintf("slow%d@d6.test", i))
	}
	waitFor(t, "some deliveries", func() bool { return w.sink.Stats().Recipients >= 2 })
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = w.engine(t, dir, func(c *configs.Config) { c.Delivery.MaxSMTPOut = 10 })
	defer e.Close()
	waitFor(t, "all 30 after restart", func() bool {
		st := w.sink.Stats()
		return st.Recipients-st.Duplicates >= 30 && e.SpoolStats().Recipients == 0
	})
	if n := len(w.sink.Stats().ByDomain); n != 1 {
		t.Fatalf("domains %d", n)
	}
}

func readAcct(t *testing.T, dir string) [][]string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "acct-*.csv"))
	var rows [][]string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if i == 0 || line == "" {
				continue
			}
			rows = append(rows, strings.Split(line, ","))
		}
	}
	return rows
}

// captureServer is an SMTP server that keeps every message (for DSNs).
type captureServer struct {
	addr string
	mu   sync.Mutex
	msgs []captured
}

type captured struct {
	from string
	to   []string
	data []byte
}

func (c *captureServer) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.msgs)
}

func (c *captureServer) messages() []captured {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]captured(nil), c.msgs...)
}

func startCapture(t *testing.T) *captureServer {
	t.Helper()
	c := &captureServer{}
	s := smtp.NewServer(c)
	s.Domain = "capture.test"
	s.AllowInsecureAuth = true
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.addr = l.Addr().String()
	go func() { _ = s.Serve(l) }()
	t.Cleanup(func() { _ = s.Close() })
	return c
}

func (c *captureServer) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &captureSession{srv: c}, nil
}

type captureSession struct {
	srv *captureServer
	cur captured
}

func (s *captureSession) Mail(from string, _ *smtp.MailOptions) error {
	s.cur = captured{from: from}
	return nil
}
func (s *captureSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.to = append(s.cur.to, to)
	return nil
}
func (s *captureSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = b
	s.srv.mu.Lock()
	s.srv.msgs = append(s.srv.msgs, s.cur)
	s.srv.mu.Unlock()
	return nil
}
func (s *captureSession) Reset()        {}
func (s *captureSession) Logout() error { return nil }

// testLogger discards logs unless SLUICE_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("SLUICE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func TestDelivery_NotifyDelayAndNever_Honoured(t *testing.T) {
	w := newWorld(t, 0)
	e := w.engine(t, t.TempDir(), nil)
	defer e.Close()
	body := []byte("Subject: dsn options\r\n\r\nx\r\n")
	// NOTIFY=DELAY,FAILURE: a delay report on the first deferral.
	if _, err := e.Submit(context.Background(), Envelope{From: "dave@sender.example", To: []string{"defer5@d7.test"},
		Notify: []string{"DELAY,FAILURE"}, EnvID: "env-42"}, body); err != nil {
		t.Fatal(err)
	}
	// NOTIFY=NEVER: no report on a bounce.
	if _, err := e.Submit(context.Background(), Envelope{From: "erin@sender.example", To: []string{"bounce5@d7.test"},
		Notify: []string{"NEVER"}}, body); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the delay DSN", func() bool { return w.capture.count() >= 1 })
	waitFor(t, "the bounce", func() bool { return w.sink.Stats().ByCode["550"] == 1 })
	time.Sleep(200 * time.Millisecond)
	msgs := w.capture.messages()
	if len(msgs) != 1 || msgs[0].to[0] != "dave@sender.example" {
		t.Fatalf("DSNs %+v, want one delay report to dave", msgs)
	}
	rep, err := dsn.Parse(msgs[0].data)
	if err != nil {
		t.Fatal(err)
	}
	if rep.EnvelopeID != "env-42" || rep.Recipients[0].Action != "delayed" || rep.Recipients[0].WillRetryUntil.IsZero() {
		t.Fatalf("delay report: envid %q, %+v", rep.EnvelopeID, rep.Recipients[0])
	}
}

func TestDelivery_DNSServfail_DefersNotBounces(t *testing.T) {
	w := newWorld(t, 0)
	w.dns.SetServFail("flaky.test")
	e := w.engine(t, t.TempDir(), nil)
	defer e.Close()
	submit(t, e, "f@sender.example", "u@flaky.test")
	waitFor(t, "a deferral", func() bool {
		var got bool
		_ = e.spool.Recipients(func(r spoolRecipient) bool { got = r.Attempts == 1; return false })
		return got
	})
	if w.capture.count() != 0 {
		t.Fatal("a temporary DNS failure produced a DSN")
	}
	w.dns.Clear("flaky.test")
	w.clock.Advance(6 * time.Minute)
	waitFor(t, "delivery after DNS recovers", func() bool { return w.sink.Stats().Recipients == 1 })
}

// waitLimit bounds waitFor; SLUICE_TEST_WAIT shortens it when debugging.
var waitLimit = func() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("SLUICE_TEST_WAIT")); err == nil {
		return d
	}
	return 2 * time.Minute
}()
