package run

import (
	"context"
	"fmt"
	"time"

	"github.com/sluice-mta/sluice/bench/inject"
	"github.com/sluice-mta/sluice/bench/sink"
)

// sample is one look at the run: the sink's stats and the server's metrics
// (deltas since the run began).
type sample struct {
	at        time.Time
	st        sink.Stats
	delivered int64 // recipients the sink accepted, DSNs excluded
	dsns      int64 // recipients at dsnDomain: DSNs the engine sent
	bounced   int64 // from the server's metrics; 0 without them
	queued    int64 // from the server's metrics; -1 without them
}

// look samples the sink and, if there are metrics, the server.
func (r *runner) look(ctx context.Context) sample {
	s := sample{at: time.Now(), st: r.sink.Stats(), queued: -1}
	s.dsns = s.st.ByDomain[dsnDomain]
	s.delivered = s.st.Recipients - s.dsns
	if r.httpAddr == "" {
		return s
	}
	m, err := scrape(ctx, r.hc, "http://"+r.httpAddr+"/metrics")
	if err != nil {
		r.log.Warn("run: metrics", "err", err)
		return s
	}
	s.bounced = m.int(metricBounced) - r.m0.int(metricBounced)
	s.queued = m.int(metricQueued)
	return s
}

// run injects, waits until every recipient is delivered or bounced (after
// the release, for a releasing scenario) or the scenario's timeout, and
// reports.
func (r *runner) run(ctx context.Context) (*Report, error) {
	rep := newReport(&r.sc)
	if r.httpAddr != "" {
		m, err := scrape(ctx, r.hc, "http://"+r.httpAddr+"/metrics")
		if err != nil {
			return nil, err
		}
		r.m0 = m
	}
	before := r.proc()
	if rep.Backlog != nil {
		rep.Backlog.RSSBeforeBytes = before.RSSBytes
	}

	start := time.Now()
	injected := make(chan inject.Result, 1)
	ictx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		res, err := inject.Run(ictx, r.injectConfig(), func(done, _ int) { r.sentMsgs.Store(int64(done)) })
		if err != nil {
			r.log.Warn("run: inject", "err", err)
		}
		injected <- res
	}()

	deadline := start.Add(r.sc.Timeout)
	var (
		res      *inject.Result
		want     int64 = -1 // recipients to account for, once injection is done
		released time.Time
		s        sample
	)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case x := <-injected:
			res = &x
			want = int64(x.Sent) * int64(r.sc.Rcpts)
			rep.setInjected(x, start)
			continue
		case <-r.serverExited():
			r.prog.done()
			return nil, fmt.Errorf("%w: %v: %s", errServerDied, r.srv.waitErr, r.srv.logTail())
		case <-tick.C:
		}
		s = r.look(ctx)
		var extra string
		if r.sc.Release && released.IsZero() {
			extra = fmt.Sprintf("  deferred once %d", s.st.ByCode["451"])
		}
		r.prog.update(s.at, r.sentMsgs.Load(), int64(r.sc.Count), s.delivered, r.sc.Recipients(), extra)

		if res != nil && r.sc.Release && released.IsZero() && s.st.ByCode["451"] >= want {
			// As many 451s as recipients: the backlog is built. NB: this
			// takes the engine's first pass to finish before its retries
			// start (it schedules by due time, oldest first); the sink
			// does not keep which recipients it deferred.
			p := r.proc()
			rep.Backlog.RSSQueuedBytes = p.RSSBytes
			rep.Backlog.QueuedSeconds = time.Since(start).Seconds()
			r.sink.SetBehaviour(r.sc.LocalPart, sink.Accept)
			released = time.Now()
			r.log.Info("run: backlog released", "rss", p.RSSBytes, "after", time.Since(start))
		}
		if res != nil && (!r.sc.Release || !released.IsZero()) && s.delivered+s.bounced >= want {
			break
		}
		if time.Now().After(deadline) {
			rep.TimedOut = true
			break
		}
	}
	r.prog.done()
	s = r.settle(ctx, s, want, rep.TimedOut)
	after := r.proc()
	rep.finish(s, start, released, before, after)
	return rep, nil
}

// serverExited returns a channel closed when the started server exits; nil
// (blocks forever) with a target.
func (r *runner) serverExited() <-chan struct{} {
	if r.srv == nil {
		return nil
	}
	return r.srv.exited
}

// proc samples the server process, or returns zeros without one.
func (r *runner) proc() procSample {
	if r.pid == 0 {
		return procSample{}
	}
	p, err := readProc(r.pid)
	if err != nil {
		r.log.Warn("run: sample server process", "err", err)
	}
	return p
}

// settleTimeout bounds the wait for the server's queued gauge to agree with
// what the sink saw.
const settleTimeout = 5 * time.Second

// settle looks again until the server's queued count equals the recipients
// neither delivered nor bounced, or settleTimeout passes, and returns the
// last look. NB: the engine updates its gauges after the delivery's reply
// is read, so the last deliveries may not show there yet.
func (r *runner) settle(ctx context.Context, s sample, want int64, timedOut bool) sample {
	if timedOut || s.queued < 0 {
		return s
	}
	deadline := time.Now().Add(settleTimeout)
	for s.queued != max(want-s.delivered-s.bounced, 0) && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return s
		case <-time.After(pollEvery):
		}
		s = r.look(ctx)
	}
	return s
}
