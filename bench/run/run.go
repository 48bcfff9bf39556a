package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/sluice-mta/sluice/bench/fakedns"
	"github.com/sluice-mta/sluice/bench/inject"
	"github.com/sluice-mta/sluice/bench/scenarios"
	"github.com/sluice-mta/sluice/bench/sink"
)

// Options says where and how a scenario runs. The zero value starts the
// running executable as the server, on loopback, with no progress output.
type Options struct {
	// Bin is the sluice binary started as `Bin serve`. Default: the running
	// executable (os.Executable), which is right for `sluice bench run`.
	Bin string
	// Target is the SMTP address of a Sluice already running; empty starts
	// one. A target must send its mail to SinkAddr, looking MX up at
	// DNSAddr, so give both fixed addresses and configure it to match.
	Target string
	// TargetHTTP is the target's HTTP address ("127.0.0.1:8080"), for
	// bounced and queued counts from /metrics. Optional; without it nothing
	// is counted bounced, and what is not delivered counts deferred.
	TargetHTTP string
	// TargetPID is the target's process id, for CPU time and memory.
	// Optional; without it they are reported as 0.
	TargetPID int
	// SinkAddr is where the sink listens. Default "127.0.0.1:0".
	SinkAddr string
	// DNSAddr is where the fake DNS listens, UDP and TCP. Default
	// "127.0.0.1:0".
	DNSAddr string
	// Dir is the work directory (server config, spool, log). Default: a new
	// temporary directory, removed afterwards.
	Dir string
	// Progress receives a progress line (rewritten with '\r') while the
	// scenario runs. Optional.
	Progress io.Writer
	// Logger receives the runner's and the sink's log lines. Default: a
	// logger that drops them.
	Logger *slog.Logger
}

// pollEvery is the interval between looks at the sink and the server.
const pollEvery = 200 * time.Millisecond

// dsnDomain is the domain of the injector's envelope sender: the sink counts
// the DSNs the engine sends there apart from the scenario's recipients.
const dsnDomain = "sluice.test"

// runner is one Run's state.
type runner struct {
	sc   scenarios.Scenario
	opts Options
	log  *slog.Logger

	sink     *sink.Sink
	dns      *fakedns.Server
	srv      *server // nil with Options.Target
	smtpAddr string
	httpAddr string // "" without metrics
	grpcAddr string // "" without a gRPC listener
	pid      int    // 0: no process to sample
	hc       *http.Client
	tmpDir   string  // removed by close; "" when Options.Dir was given
	m0       metrics // metrics before injection (a target's counters are not ours)

	sentMsgs atomic.Int64 // messages injected so far, for the progress line
	prog     progress

	acked ackSet   // recipients the server acknowledged
	prev  procBase // what servers killed during the run used (crash)
}

// procBase is what earlier server processes of a run (before a kill -9)
// used, added to the last one's figures.
type procBase struct {
	cpuSeconds float64
	writeBytes int64
	peakRSS    int64
	fsyncs     int64
	bounced    int64
}

// Run runs scenario sc and reports what it measured. It returns an error if
// the run could not be set up or the server died; a run that timed out or
// lost mail is reported in the Report (TimedOut, Correct), not as an error.
func Run(ctx context.Context, sc scenarios.Scenario, opts Options) (*Report, error) {
	sc.SetDefaults()
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := &runner{sc: sc, opts: opts, log: opts.Logger, hc: &http.Client{Timeout: 5 * time.Second}}
	r.prog = progress{w: opts.Progress, name: sc.Name}
	r.acked = newAckSet(sc.Recipients())
	defer r.close()
	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	return r.run(ctx)
}

// setup starts the sink, the fake DNS and, unless Options.Target, the server.
func (r *runner) setup(ctx context.Context) error {
	r.sink = sink.New(sink.Config{Behaviours: true, TrackDuplicates: true, Profile: r.sc.Profile, Logger: r.log})
	addrs, err := r.listenSink()
	if err != nil {
		return err
	}
	r.dns, err = sink.StartDNSSpread(cmp(r.opts.DNSAddr, "127.0.0.1:0"), r.sc.MXHosts, addrs)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	for k := range r.sc.DeadDomains {
		r.dns.SetMX(fmt.Sprintf("d%d.%s", k, sink.DNSSuffix), time.Hour, fakedns.MX{Host: deadMX, Pref: 10})
	}
	r.dns.SetA(deadMX, time.Hour, deadIP)
	r.log.Info("run: sink and dns up", "sink", addrs[0].String(), "ips", len(addrs), "dns", r.dns.Addr())

	if r.opts.Target != "" {
		if r.sc.Inject != scenarios.InjectSMTP || r.sc.CrashAfter != "" {
			return fmt.Errorf("run: --target takes SMTP injection and no crash (scenario %s has inject %s, crash_after %q)",
				r.sc.Name, r.sc.Inject, r.sc.CrashAfter)
		}
		r.smtpAddr, r.httpAddr, r.pid = r.opts.Target, r.opts.TargetHTTP, r.opts.TargetPID
		return nil
	}
	bin := r.opts.Bin
	if bin == "" {
		if bin, err = os.Executable(); err != nil {
			return fmt.Errorf("run: find the sluice binary (give Bin): %w", err)
		}
	}
	dir := r.opts.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "sluice-bench-"); err != nil {
			return fmt.Errorf("run: work dir: %w", err)
		}
		r.tmpDir = dir
	}
	_, port, _ := net.SplitHostPort(addrs[0].String())
	mxPort, _ := strconv.Atoi(port)
	r.srv, err = startServer(ctx, bin, dir, r.dns.Addr(), mxPort, r.sc.Inject != scenarios.InjectSMTP, r.sc.Engine)
	if err != nil {
		return err
	}
	r.smtpAddr, r.httpAddr, r.grpcAddr, r.pid = r.srv.smtpAddr, r.srv.httpAddr, r.srv.grpcAddr, r.srv.pid()
	r.log.Info("run: server up", "smtp", r.smtpAddr, "http", r.httpAddr, "grpc", r.grpcAddr, "pid", r.pid)
	return nil
}

// The dead MX: a loopback address where nothing listens (sink_ips stops
// short of it), so connections to it are refused at once.
const deadMX = "dead-mx.bench.test"

var deadIP = netip.AddrFrom4([4]byte{127, 0, 0, 254})

// listenSink makes the sink listen on Options.SinkAddr and, with SinkIPs
// > 1, on 127.0.0.2 .. 127.0.0.<SinkIPs> at the same port.
func (r *runner) listenSink() ([]net.Addr, error) {
	l, err := net.Listen("tcp", cmp(r.opts.SinkAddr, "127.0.0.1:0"))
	if err != nil {
		return nil, fmt.Errorf("run: sink: %w", err)
	}
	ls := []net.Listener{l}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	for i := 2; i <= r.sc.SinkIPs; i++ {
		li, err := net.Listen("tcp", net.JoinHostPort(fmt.Sprintf("127.0.0.%d", i), port))
		if err != nil {
			for _, l := range ls {
				l.Close()
			}
			return nil, fmt.Errorf("run: sink on loopback IP %d of %d: %w", i, r.sc.SinkIPs, err)
		}
		ls = append(ls, li)
	}
	addrs := make([]net.Addr, len(ls))
	for i, l := range ls {
		addrs[i] = l.Addr()
		go func() {
			if err := r.sink.Serve(l); err != nil {
				r.log.Error("run: sink stopped", "err", err)
			}
		}()
	}
	return addrs, nil
}

// close stops what setup started, the server first.
func (r *runner) close() {
	if r.srv != nil {
		r.srv.stop()
	}
	if r.dns != nil {
		r.dns.Close()
	}
	if r.sink != nil {
		r.sink.Close()
	}
	if r.tmpDir != "" {
		os.RemoveAll(r.tmpDir)
	}
}

// cmp returns v, or def if v is empty.
func cmp(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// injectConfig is the load generator's configuration for the scenario.
// With grpc-batch its Count is recipients, not messages.
func (r *runner) injectConfig() inject.Config {
	size, _ := r.sc.SizeBytes() // validated
	cfg := inject.Config{
		Mode:                  r.sc.Inject,
		Target:                r.smtpAddr,
		GRPCTarget:            r.grpcAddr,
		Count:                 r.sc.Count,
		BatchSize:             r.sc.BatchSize,
		Concurrency:           r.sc.Concurrency,
		Size:                  size,
		Recipients:            r.sc.Rcpts,
		Domains:               r.sc.Domains,
		MessagesPerConnection: r.sc.PerConn,
		LocalPart:             r.sc.LocalPart,
		StampHeader:           true,
		Acked:                 r.acked.add,
	}
	if cfg.Mode == inject.ModeGRPCBatch {
		cfg.Count = int(r.sc.Recipients())
	}
	cfg.SetDefaults()
	return cfg
}

// errServerDied is returned when the server exits during a run.
var errServerDied = errors.New("run: sluice serve exited during the run")
