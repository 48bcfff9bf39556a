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
	// Sent is the number of messages the target accepted (250 to end of data).
	Sent int
	// Failed is the number of messages not accepted: a rejected MAIL, RCPT
	// (any one recipient) or DATA, a network error or a timeout.
	Failed int
	// Duration is the wall time of the run.
	Duration time.Duration
	// MessagesPerSecond is Sent over Duration.
	MessagesPerSecond float64
	// Bytes is the message text of the sent messages, in bytes.
	Bytes int64
	// Latency summarizes, over sent messages, the time from sending the end
	// of data to reading the 250. NB: go-smtp's client writes the last
	// buffered part of the message (up to 4 KiB) together with the final
	// ".", so that write is inside the measured span.
	Latency LatencySummary
	// Errors counts failures by class: an SMTP reply's code and enhanced
	// code ("452 4.3.1"), or the step and cause of a network failure
	// ("connect: connection refused", "end of data: timeout").
	Errors map[string]int
}

// Run sends cfg.Count messages to cfg.Target and reports the outcome.
// cfg gets its defaults and is validated first. progress, if not nil, is
// called from one goroutine at most every 100 ms and once at the end, with the
// number of messages done (sent or failed) and failed so far.
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
	dialer := net.Dialer{Timeout: cfg.Timeout}
	if cfg.LocalAddr != "" {
		dialer.LocalAddr = &net.TCPAddr{IP: net.ParseIP(cfg.LocalAddr)}
	}

	var cl claims
	start := time.Now()
	workers := make([]*worker, min(cfg.Concurrency, cfg.Count))
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{
			id:     i,
			cfg:    &cfg,
			claims: &cl,
			msg:    newMessage(&cfg, i, start),
			dialer: dialer,
			lat:    make([]time.Duration, 0, cfg.Count/len(workers)+1),
			errs:   make(map[string]int),
		}
		workers[i] = w
		wg.Go(func() { w.loop(ctx) })
	}
	stopProgress := reportProgress(&cl, progress)
	wg.Wait()
	stopProgress()

	res := merge(workers, time.Since(start))
	if err := ctx.Err(); err != nil && res.Sent+res.Failed < cfg.Count {
		return res, fmt.Errorf("inject: stopped after %d of %d messages: %w",
			res.Sent+res.Failed, cfg.Count, err)
	}
	return res, nil
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
func merge(workers []*worker, d time.Duration) Result {
	res := Result{Duration: d, Errors: make(map[string]int)}
	var lat []time.Duration
	for _, w := range workers {
		res.Sent += w.sent
		res.Failed += w.failed
		res.Bytes += w.bytes
		lat = append(lat, w.lat...)
		for k, v := range w.errs {
			res.Errors[k] += v
		}
	}
	if s := d.Seconds(); s > 0 {
		res.MessagesPerSecond = float64(res.Sent) / s
	}
	res.Latency = summarize(lat)
	return res
}

// String reports r on a few lines, for people.
func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "sent      %d messages, %d failed, in %s\n",
		r.Sent, r.Failed, r.Duration.Round(time.Millisecond))
	var mibps float64
	if s := r.Duration.Seconds(); s > 0 {
		mibps = float64(r.Bytes) / s / (1 << 20)
	}
	fmt.Fprintf(&b, "rate      %.1f msgs/s, %.2f MiB/s (%d bytes)\n", r.MessagesPerSecond, mibps, r.Bytes)
	fmt.Fprintf(&b, "latency   p50 %s  p90 %s  p99 %s  max %s (end of data to reply)\n",
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
