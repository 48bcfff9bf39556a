package api

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/sluice-mta/sluice/bench/fakedns"
	"github.com/sluice-mta/sluice/bench/sink"
	"github.com/sluice-mta/sluice/configs"
	"github.com/sluice-mta/sluice/engine"
)

// liveNode is a node that delivers: a real engine on a temp spool, whose
// DNS is a fake server on loopback that makes every *.test domain's MX the
// scripted sink, served over HTTP as `sluice serve` serves it (the monitor
// and metrics at /, the REST API under /v1/). Two vmtas, ip2 (warming up)
// and ip3, share the default pool.
type liveNode struct {
	eng  *engine.Engine
	sink *sink.Sink
	dns  *fakedns.Server
	url  string // http://127.0.0.1:port
}

func startLiveNode(t *testing.T) *liveNode {
	t.Helper()
	n := &liveNode{sink: sink.New(sink.Config{Behaviours: true, Logger: slog.New(slog.DiscardHandler)})}
	sl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = n.sink.Serve(sl) }()
	t.Cleanup(func() { _ = n.sink.Close() })
	if n.dns, err = fakedns.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.dns.Close() })
	n.dns.Synthetic("test", 0, netip.MustParseAddr("127.0.0.1"))

	cfg, err := configs.Load("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Spool.Dir = t.TempDir()
	cfg.Spool.MinFreeSpace, cfg.Spool.BallastSize = 0, 0
	cfg.SMTPIn.Hostname = "mta.sluice.test"
	cfg.DNS.Resolvers = []string{n.dns.Addr()}
	cfg.Delivery.MXPort = sl.Addr().(*net.TCPAddr).Port
	cfg.Delivery.TLS = "off"
	cfg.VMTAs = []configs.VMTA{
		{Name: "ip2", SourceIP: "127.0.0.2", HELO: "ip2.sluice.test",
			Warmup: &configs.VMTAWarmup{Plan: "new-ip", Start: time.Now().UTC().Format(time.DateOnly)}},
		{Name: "ip3", SourceIP: "127.0.0.3", HELO: "ip3.sluice.test"},
	}
	cfg.Pools = []configs.Pool{{Name: "default", Members: []configs.PoolMember{{VMTA: "ip2", Weight: 1}, {VMTA: "ip3", Weight: 1}}}}
	cfg.Warmup.Groups = map[string][]string{"bigmail": {"*.bigmail.test"}}
	cfg.Warmup.Plans = []configs.WarmupPlan{{
		Name:     "new-ip",
		Doubling: &configs.WarmupDoubling{Start: 200, Factor: 2, Days: 12},
		Groups:   map[string]configs.WarmupGroupPlan{"bigmail": {Fraction: 0.5}},
	}}
	n.eng, err = engine.New(cfg, engine.Deps{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.eng.Close() })

	srv, err := New(Options{Submitter: n.eng, Admin: n.eng, Keys: testKeys, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	rest, err := srv.RESTHandler(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux() // as cmd/sluice serve mounts them
	mux.Handle("/", NewHTTPHandler(n.eng))
	mux.Handle("/v1/", rest)
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(hl) }()
	t.Cleanup(func() { _ = hs.Close() })
	n.url = "http://" + hl.Addr().String()
	return n
}

// traffic is what sendTraffic has injected in all: recipients the sink
// accepts, defers (451) and bounces (550).
type traffic struct {
	rounds                       int
	delivered, deferred, bounced int
	deferredIDs                  []string // queue IDs of the deferred messages
}

// sendTraffic injects one more round, one message per recipient (null
// sender: no DSNs), and waits until the engine has written back every
// outcome so far.
func (n *liveNode) sendTraffic(t *testing.T, tr *traffic) {
	t.Helper()
	r := tr.rounds
	tr.rounds++
	submit := func(rcpt string) string {
		id, err := n.eng.Submit(t.Context(), engine.Envelope{To: []string{rcpt}},
			[]byte("From: <news@shop.test>\r\nSubject: monitor test\r\n\r\nhello\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	for i := range 24 {
		submit(fmt.Sprintf("user%d.%d@d%d.test", r, i, i%4))
		tr.delivered++
	}
	for i := range 6 {
		submit(fmt.Sprintf("reader%d.%d@mx.bigmail.test", r, i))
		tr.delivered++
	}
	for i := range 5 {
		tr.deferredIDs = append(tr.deferredIDs, submit(fmt.Sprintf("defer%d.%d@slow.test", r, i)))
		tr.deferred++
	}
	for i := range 3 {
		submit(fmt.Sprintf("bounce%d.%d@d1.test", r, i))
		tr.bounced++
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		byVMTA, _ := n.eng.OutcomeStats(0)
		var d, f, b int64
		for _, o := range byVMTA {
			d, f, b = d+o.Delivered, f+o.Deferred, b+o.Bounced
		}
		if d == int64(tr.delivered) && f == int64(tr.deferred) && b == int64(tr.bounced) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("outcomes after 60 s: delivered %d, deferred %d, bounced %d; want %d, %d, %d",
				d, f, b, tr.delivered, tr.deferred, tr.bounced)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
