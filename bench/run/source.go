package run

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/sluice-mta/sluice/bench/peers"
	"github.com/sluice-mta/sluice/bench/scenarios"
	"github.com/sluice-mta/sluice/bench/sink"
)

// Row is one system's run in a Comparison: smtp-source offers the
// scenario's messages and a fresh sink counts what arrives.
type Row struct {
	// System names what delivered ("loopback limit", "postfix 3.7.11",
	// "sluice"); Command is the injector's command line.
	System  string `json:"system"`
	Command string `json:"command"`
	// Messages and Recipients are what the sink accepted; Duplicates the
	// recipient addresses it got more than once.
	Messages   int64 `json:"messages"`
	Recipients int64 `json:"recipients"`
	Duplicates int64 `json:"duplicates"`
	// Complete is every recipient delivered, once, before the scenario's
	// timeout.
	Complete bool `json:"complete"`
	// InjectSeconds is smtp-source's wall time; DeliverSeconds runs from
	// its start to the sink's last message. DeliveredPerS is recipients
	// delivered over DeliverSeconds divided by recipients per message
	// (messages' worth per second).
	InjectSeconds  float64 `json:"inject_s"`
	DeliverSeconds float64 `json:"deliver_s"`
	DeliveredPerS  float64 `json:"delivered_per_s"`
	// CPUSeconds is the relay's CPU time (all its processes) over the run;
	// CPUSPer1k per 1,000 messages delivered. 0 for the loopback limit.
	CPUSeconds float64 `json:"cpu_s"`
	CPUSPer1k  float64 `json:"cpu_s_per_1k"`
}

// sourceRunner runs smtp-source with a scenario's load into a target.
type sourceRunner struct {
	sc     scenarios.Scenario
	source string
	log    *slog.Logger
}

// sourceSender is the envelope sender of every smtp-source message.
const sourceSender = "bench@sluice.test"

// sourceRecipient is smtp-source's recipient; -N numbers its local part
// (1user@d0.test, 2user@d0.test, ...) so that every recipient is distinct.
const sourceRecipient = "user@d0.test"

// sourceArgs returns smtp-source's arguments for sc into target: sessions
// kept open for all their messages (-d), distinct recipients (-N).
func sourceArgs(sc scenarios.Scenario, target string) []string {
	size, _ := sc.SizeBytes()
	args := []string{"-d", "-N", "-s", strconv.Itoa(sc.Concurrency), "-m", strconv.Itoa(sc.Count),
		"-l", strconv.Itoa(size), "-f", sourceSender, "-t", sourceRecipient}
	if sc.Rcpts > 1 {
		args = append(args, "-r", strconv.Itoa(sc.Rcpts))
	}
	return append(args, target)
}

// newSink starts a sink that tracks duplicates on a loopback port.
func newSink(log *slog.Logger) (*sink.Sink, net.Addr, error) {
	s := sink.New(sink.Config{TrackDuplicates: true, Logger: log})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("run: sink: %w", err)
	}
	go s.Serve(l)
	return s, l.Addr(), nil
}

// measure runs smtp-source into target and waits until snk has every
// recipient, the scenario's timeout passes or alive, if not nil, returns an
// error (the relay died). cpu, if not nil, reads the relay's CPU time.
func (r *sourceRunner) measure(ctx context.Context, system, target string, snk *sink.Sink,
	cpu func() (float64, error), alive func() error) (Row, error) {
	row := Row{System: system}
	var cpu0 float64
	if cpu != nil {
		var err error
		if cpu0, err = cpu(); err != nil {
			return row, err
		}
	}
	deadline := time.Now().Add(r.sc.Timeout)
	sctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	cmd := exec.CommandContext(sctx, r.source, sourceArgs(r.sc, target)...)
	row.Command = cmd.String()
	start := time.Now()
	out, err := cmd.CombinedOutput()
	row.InjectSeconds = time.Since(start).Seconds()
	if err != nil {
		if alive != nil {
			if aerr := alive(); aerr != nil {
				return row, aerr // the cause, not smtp-source's lost connections
			}
		}
		return row, fmt.Errorf("run: %s: %w: %s", cmd, err, out)
	}
	want := r.sc.Recipients()
	st := snk.Stats()
	for st.Recipients < want && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return row, ctx.Err()
		case <-time.After(pollEvery):
		}
		if alive != nil {
			if err := alive(); err != nil {
				return row, err
			}
		}
		st = snk.Stats()
	}
	if cpu != nil {
		cpu1, err := cpu()
		if err != nil {
			return row, err
		}
		row.CPUSeconds = cpu1 - cpu0
	}
	row.fill(st, start, want, r.sc.Rcpts)
	r.log.Info("compare: row", "system", system, "delivered_per_s", row.DeliveredPerS, "complete", row.Complete)
	return row, nil
}

// fill sets the row's counts and rates from the sink's stats.
func (row *Row) fill(st sink.Stats, start time.Time, want int64, rcpts int) {
	row.Messages, row.Recipients, row.Duplicates = st.Messages, st.Recipients, st.Duplicates
	row.Complete = st.Recipients == want && st.Duplicates == 0
	if !st.LastMessage.IsZero() {
		row.DeliverSeconds = st.LastMessage.Sub(start).Seconds()
	}
	if row.DeliverSeconds > 0 {
		row.DeliveredPerS = float64(st.Recipients) / float64(rcpts) / row.DeliverSeconds
	}
	if st.Messages > 0 {
		row.CPUSPer1k = row.CPUSeconds / float64(st.Messages) * 1000
	}
}

// limit measures smtp-source straight into a sink.
func (r *sourceRunner) limit(ctx context.Context) (Row, error) {
	snk, addr, err := newSink(r.log)
	if err != nil {
		return Row{}, err
	}
	defer snk.Close()
	return r.measure(ctx, "loopback limit", addr.String(), snk, nil, nil)
}

// postfix measures smtp-source into a private Postfix relaying to a sink.
func (r *sourceRunner) postfix(ctx context.Context, lim DeliveryLimits) (row Row, err error) {
	snk, addr, err := newSink(r.log)
	if err != nil {
		return row, err
	}
	defer snk.Close()
	dir, err := os.MkdirTemp("", "sluice-compare-postfix-")
	if err != nil {
		return row, fmt.Errorf("run: postfix dir: %w", err)
	}
	defer os.RemoveAll(dir)
	listen, err := peers.FreeLoopbackAddr()
	if err != nil {
		return row, err
	}
	pf, err := peers.StartPostfix(ctx, peers.PostfixConfig{Dir: dir, Relay: addr.String(), Listen: listen,
		Concurrency: lim.Connections, MsgsPerConn: lim.MsgsPerConn, RcptsPerMsg: lim.RcptsPerMsg})
	if err != nil {
		return row, err
	}
	defer func() { err = errors.Join(err, pf.Stop()) }()
	pid, err := pf.MasterPID()
	if err != nil {
		return row, err
	}
	system := "postfix"
	if v := peers.PostfixVersion(); v != "" {
		system += " " + v
	}
	alive := func() error {
		if syscall.Kill(pid, 0) != nil {
			return fmt.Errorf("run: postfix master (pid %d) exited during the run: %s", pid, pf.LogTail())
		}
		return nil
	}
	row, err = r.measure(ctx, system, pf.Addr(), snk, func() (float64, error) { return treeCPUSeconds(pid) }, alive)
	if err == nil && !row.Complete {
		r.log.Warn("compare: postfix did not deliver everything", "log", pf.LogTail())
	}
	return row, err
}

// sluice measures smtp-source into a `sluice serve` child delivering to a
// sink through the fake DNS.
func (r *sourceRunner) sluice(ctx context.Context, opts Options) (Row, error) {
	snk, addr, err := newSink(r.log)
	if err != nil {
		return Row{}, err
	}
	defer snk.Close()
	dns, err := sink.StartDNS("127.0.0.1:0", r.sc.MXHosts, addr)
	if err != nil {
		return Row{}, fmt.Errorf("run: %w", err)
	}
	defer dns.Close()
	bin := opts.Bin
	if bin == "" {
		if bin, err = os.Executable(); err != nil {
			return Row{}, fmt.Errorf("run: find the sluice binary (give Bin): %w", err)
		}
	}
	dir, err := os.MkdirTemp("", "sluice-compare-")
	if err != nil {
		return Row{}, fmt.Errorf("run: work dir: %w", err)
	}
	defer os.RemoveAll(dir)
	_, port, _ := net.SplitHostPort(addr.String())
	mxPort, _ := strconv.Atoi(port)
	srv, err := startServer(ctx, bin, dir, dns.Addr(), mxPort, false, r.sc.Engine)
	if err != nil {
		return Row{}, err
	}
	defer srv.stop()
	pid := srv.pid()
	alive := func() error {
		select {
		case <-srv.exited:
			return fmt.Errorf("%w: %v: %s", errServerDied, srv.waitErr, srv.logTail())
		default:
			return nil
		}
	}
	return r.measure(ctx, "sluice", srv.smtpAddr, snk, func() (float64, error) {
		p, err := readProc(pid)
		return p.CPUSeconds, err
	}, alive)
}
