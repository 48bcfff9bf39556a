package inject

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"time"
)

// progressEvery is the interval between progress callbacks.
const progressEvery = 100 * time.Millisecond

// Result is what a run achieved.
type Result struct {
	// Sent is the number of messages the target acknowledged: in ModeSMTP a
	// 250 to end of data; in ModeGRPC and ModeGRPCStream an Inject response
	// or stream ack with every recipient QUEUED. In ModeGRPCBatch it counts
	// recipients, not messages: the recipients reported QUEUED.
	Sent int
	// Failed is the number of messages not acknowledged: a rejected MAIL, RCPT
	// (any one recipient) or DATA, a network error or a timeout; in the gRPC
	// modes an error status or any recipient not QUEUED. In ModeGRPCBatch it
	// counts recipients not QUEUED, those of a failed call included.
	Failed int
	// Unit is what Sent and Failed count: "messages", or "recipients" in
	// ModeGRPCBatch.
	Unit string
	// Recipients is the number of recipients acknowledged, in every mode
	// (in ModeSMTP, Sent times Config.Recipients).
	Recipients int
	// Duration is the wall time of the run.
	Duration time.Duration
	// MessagesPerSecond is Sent over Duration (recipients per second in
	// ModeGRPCBatch).
	MessagesPerSecond float64
	// RecipientsPerSecond is Recipients over Duration.
	RecipientsPerSecond float64
	// Bytes is the message text of the sent messages, in bytes (in
	// ModeGRPCBatch, the raw_mime of the batches that queued anything, once
	// per batch).
	Bytes int64
	// Latency summarizes the time to the acknowledgement over acknowledged
	// messages. In ModeSMTP it is from sending the end of data to reading
	// the 250. NB: go-smtp's client writes the last buffered part of the
	// message (up to 4 KiB) together with the final ".", so that write is
	// inside the measured span. In ModeGRPC and ModeGRPCBatch it is the
	// duration of the call (one sample per batch); in ModeGRPCStream from
	// the Send of a message to the Recv of its ack.
	Latency LatencySummary
	// Errors counts failures by class. In ModeSMTP: an SMTP reply's code
	// and enhanced code ("452 4.3.1"), or the step and cause of a network
	// failure ("connect: connection refused", "end of data: timeout"). In
	// the gRPC modes: the gRPC code's name ("Unauthenticated"), of the
	// call's status or of a recipient's or stream ack's refusal; a recipient
	// with no code counts under its state ("NOT_ATTEMPTED").
	Errors map[string]int
}

// tally is one worker's share of a Result; its worker owns it until Run
// merges it after the worker ended.
type tally struct {
	sent, failed int
	rcpts        int // acknowledged recipients
	bytes        int64
	lat          []time.Duration
	errs         map[string]int
}

func newTally(capacity int) tally {
	return tally{lat: make([]time.Duration, 0, capacity), errs: make(map[string]int)}
}

// Run sends cfg.Count messages (recipients in ModeGRPCBatch) to the target
// of cfg.Mode and reports the outcome. cfg gets its defaults and is
// validated first. progress, if not nil, is called from one goroutine at
// most every 100 ms and once at the end, with the number of messages (or
// batch recipients) done (sent or failed) and failed so far.
//
// The error is nil unless cfg is invalid or ctx ended before every message
// was tried; failed messages are reported in the Result, not as an error.
// When ctx ends, Run closes its connections and returns promptly with the
// partial Result.
func Run(ctx context.Context, cfg Config, progress func(done, failed int)) (Result, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	var cl claims
	start := time.Now()
	stopProgress := reportProgress(&cl, progress)
	var tallies []*tally
	var err error
	if cfg.Mode == ModeSMTP {
		tallies = runSMTP(ctx, &cfg, &cl, start)
	} else {
		tallies, err = runGRPC(ctx, &cfg, &cl, start)
	}
	stopProgress()
	if err != nil {
		return Result{}, err
	}

	res := merge(tallies, time.Since(start))
	res.Unit = "messages"
	if cfg.Mode == ModeGRPCBatch {
		res.Unit = "recipients"
	}
	if err := ctx.Err(); err != nil && res.Sent+res.Failed < cfg.Count {
		return res, fmt.Errorf("inject: stopped after %d of %d: %w",
			res.Sent+res.Failed, cfg.Count, err)
	}
	return res, nil
}

// runSMTP runs cfg.Concurrency SMTP workers until every message is claimed.
func runSMTP(ctx context.Context, cfg *Config, cl *claims, start time.Time) []*tally {
	dialer := net.Dialer{Timeout: cfg.Timeout}
	if cfg.LocalAddr != "" {
		dialer.LocalAddr = &net.TCPAddr{IP: net.ParseIP(cfg.LocalAddr)}
	}
	n := min(cfg.Concurrency, cfg.Count)
	tallies := make([]*tally, n)
	var wg sync.WaitGroup
	for i := range n {
		w := &worker{
			id:     i,
			cfg:    cfg,
			claims: cl,
			msg:    newMessage(cfg, i, start),
			dialer: dialer,
			tally:  newTally(cfg.Count/n + 1),
		}
		tallies[i] = &w.tally
		wg.Go(func() { w.loop(ctx) })
	}
	wg.Wait()
	return tallies
}

// reportProgress calls progress every progressEvery until the returned
// function is called, which makes one last call and returns after it.
func reportProgress(cl *claims, progress func(done, failed int)) (stop func()) {
	if progress == nil {
		return func() {}
	}
	report := func() {
		failed := int(cl.failed.Load())
		progress(int(cl.sent.Load())+failed, failed)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				report()
			case <-done:
				return
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
		report()
	}
}

// merge adds up the workers' results.
func merge(tallies []*tally, d time.Duration) Result {
	res := Result{Duration: d, Errors: make(map[string]int)}
	var lat []time.Duration
	for _, w := range tallies {
		res.Sent += w.sent
		res.Failed += w.failed
		res.Recipients += w.rcpts
		res.Bytes += w.bytes
		lat = append(lat, w.lat...)
		for k, v := range w.errs {
			res.Errors[k] += v
		}
	}
	if s := d.Seconds(); s > 0 {
		res.MessagesPerSecond = float64(res.Sent) / s
		res.RecipientsPerSecond = float64(res.Recipients) / s
	}
	res.Latency = summarize(lat)
	return res
}

// String reports r on a few lines, for people.
func (r Result) String() string {
	var b strings.Builder
	unit := r.Unit
	if unit == "" {
		unit = "messages"
	}
	fmt.Fprintf(&b, "sent      %d %s, %d failed, in %s (%d recipients acknowledged)\n",
		r.Sent, unit, r.Failed, r.Duration.Round(time.Millisecond), r.Recipients)
	var mibps float64
	if s := r.Duration.Seconds(); s > 0 {
		mibps = float64(r.Bytes) / s / (1 << 20)
	}
	fmt.Fprintf(&b, "rate      %.1f %s/s, %.1f rcpts/s, %.2f MiB/s (%d bytes)\n",
		r.MessagesPerSecond, unit, r.RecipientsPerSecond, mibps, r.Bytes)
	fmt.Fprintf(&b, "latency   p50 %s  p90 %s  p99 %s  max %s (to acknowledgement)\n",
		round(r.Latency.P50), round(r.Latency.P90), round(r.Latency.P99), round(r.Latency.Max))
	keys := slices.Sorted(maps.Keys(r.Errors))
	slices.SortStableFunc(keys, func(a, b string) int { return r.Errors[b] - r.Errors[a] })
	for _, k := range keys {
		fmt.Fprintf(&b, "error     %-40s %d\n", k, r.Errors[k])
	}
	return b.String()
}

// round keeps three significant figures or so of a latency.
func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}
