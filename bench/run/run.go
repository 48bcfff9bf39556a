package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
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
	pid      int    // 0: no process to sample
	hc       *http.Client
	tmpDir   string  // removed by close; "" when Options.Dir was given
	m0       metrics // metrics before injection (a target's counters are not ours)

	sentMsgs atomic.Int64 // messages injected so far, for the progress line
	prog     progress
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
	defer r.close()
	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	return r.run(ctx)
}

// setup starts the sink, the fake DNS and, unless Options.Target, the server.
func (r *runner) setup(ctx context.Context) error {
	r.sink = sink.New(sink.Config{Behaviours: true, TrackDuplicates: true, Logger: r.log})
	l, err := net.Listen("tcp", cmp(r.opts.SinkAddr, "127.0.0.1:0"))
	if err != nil {
		return fmt.Errorf("run: sink: %w", err)
	}
	go func() {
		if err := r.sink.Serve(l); err != nil {
			r.log.Error("run: sink stopped", "err", err)
		}
	}()
	r.dns, err = sink.StartDNS(cmp(r.opts.DNSAddr, "127.0.0.1:0"), r.sc.MXHosts, l.Addr())
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	r.log.Info("run: sink and dns up", "sink", l.Addr().String(), "dns", r.dns.Addr())

	if r.opts.Target != "" {
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
	_, port, _ := net.SplitHostPort(l.Addr().String())
	mxPort, _ := strconv.Atoi(port)
	r.srv, err = startServer(ctx, bin, dir, r.dns.Addr(), mxPort, r.sc.Engine)
	if err != nil {
		return err
	}
	r.smtpAddr, r.httpAddr, r.pid = r.srv.smtpAddr, r.srv.httpAddr, r.srv.pid()
	r.log.Info("run: server up", "smtp", r.smtpAddr, "http", r.httpAddr, "pid", r.pid)
	return nil
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
func (r *runner) injectConfig() inject.Config {
	size, _ := r.sc.SizeBytes() // validated
	return inject.Config{
		Target:                r.smtpAddr,
		Count:                 r.sc.Count,
		Concurrency:           r.sc.Concurrency,
		Size:                  size,
		Recipients:            r.sc.Rcpts,
		Domains:               r.sc.Domains,
		MessagesPerConnection: r.sc.PerConn,
		LocalPart:             r.sc.LocalPart,
		StampHeader:           true,
	}
}

// errServerDied is returned when the server exits during a run.
var errServerDied = errors.New("run: sluice serve exited during the run")
