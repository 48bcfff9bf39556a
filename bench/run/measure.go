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
	fsyncs    int64 // from the server's metrics; 0 without them
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
	s.bounced = r.prev.bounced + m.int(metricBounced) - r.m0.int(metricBounced)
	s.queued = m.int(metricQueued)
	s.fsyncs = r.prev.fsyncs + m.int(metricSyncs) - r.m0.int(metricSyncs)
	return s
}

// run injects, waits until every recipient is accounted for (after the
// release, for a releasing scenario; after the restart, for a crashing one)
// or the scenario's timeout, and reports.
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
	crashShare, _ := r.sc.CrashShare() // validated
	crashAt := int64(crashShare * float64(r.sc.Count))

	start := time.Now()
	rep.Timeline = []Point{{}} // the origin: nothing yet
	injected := make(chan inject.Result, 1)
	ictx, cancel := context.WithCancel(ctx)
	defer cancel()
	icfg := r.injectConfig()
	go func() {
		res, err := inject.Run(ictx, icfg, func(done, _ int) { r.sentMsgs.Store(int64(done)) })
		if err != nil {
			r.log.Warn("run: inject", "err", err)
		}
		injected <- res
	}()

	deadline := start.Add(r.sc.Timeout)
	var (
		res      *inject.Result
		want     int64 = -1 // recipients to account for, once injection is done
		stuck    int64      // of them, at dead domains
		released time.Time
		s        sample
		polls    int
	)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case x := <-injected:
			res = &x
			rep.setInjected(x, r.acked.count(), start)
			want = rep.Injected
			stuck = r.deadRecipients()
			rep.DeadMXRecipients = stuck
			continue
		case <-r.serverExited():
			r.prog.done()
			return nil, fmt.Errorf("%w: %v: %s", errServerDied, r.srv.waitErr, r.srv.logTail())
		case <-tick.C:
		}
		s = r.look(ctx)
		if polls++; polls%timelineEvery == 0 {
			rep.Timeline = append(rep.Timeline, point(s, start, r.sentMsgs.Load()))
		}
		extra := fmt.Sprintf("  queued %d", max(s.queued, 0))
		if r.sc.Release && released.IsZero() {
			extra = fmt.Sprintf("  deferred once %d", s.st.ByCode["451"])
		}
		r.prog.update(s.at, r.sentMsgs.Load(), int64(r.sc.Count), s.delivered, r.sc.Recipients(), extra)

		if crashAt > 0 && rep.Crash == nil && r.sentMsgs.Load() >= crashAt {
			if err := r.crash(ctx, rep, s, start); err != nil {
				r.prog.done()
				return nil, err
			}
			continue
		}
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
		if res != nil && r.accounted(s, want, stuck, rep.Crash != nil, released) {
			break
		}
		if time.Now().After(deadline) {
			rep.TimedOut = true
			break
		}
	}
	r.prog.done()
	s = r.settle(ctx, s, want, rep.TimedOut)
	// The last look closes the timeline; one a moment after the previous
	// point replaces it (a rate over a few milliseconds means nothing).
	last := point(s, start, r.sentMsgs.Load())
	if n := len(rep.Timeline); n > 1 && last.Seconds-rep.Timeline[n-1].Seconds < 0.5 {
		rep.Timeline[n-1] = last
	} else {
		rep.Timeline = append(rep.Timeline, last)
	}
	after := r.proc()
	rep.finish(s, start, released, before, after, r.prev)
	if rep.Crash != nil {
		r.countLost(rep, icfg)
	}
	return rep, nil
}

// timelineEvery is how many polls apart the report's timeline points are
// (one a second).
const timelineEvery = 5

func point(s sample, start time.Time, sent int64) Point {
	return Point{Seconds: s.at.Sub(start).Seconds(), Injected: sent, Delivered: s.delivered, Queued: max(s.queued, 0)}
}

// accounted reports whether the run is over: every acknowledged recipient
// delivered or bounced, except those at dead domains, which stay queued.
// A releasing run must have released; a crashing one must have restarted
// and see nothing queued but the dead domains' recipients (recipients
// stored but not acknowledged before the kill are delivered too).
func (r *runner) accounted(s sample, want, stuck int64, crashed bool, released time.Time) bool {
	switch {
	case r.sc.Release && released.IsZero():
		return false
	case r.sc.CrashAfter != "" && (!crashed || s.queued > stuck):
		return false
	}
	return s.delivered+s.bounced >= want-stuck
}

// deadRecipients returns the acknowledged recipients at dead domains.
func (r *runner) deadRecipients() int64 {
	if r.sc.DeadDomains == 0 {
		return 0
	}
	var n int64
	r.acked.each(func(i int64) {
		if r.sc.DeadRecipient(i) {
			n++
		}
	})
	return n
}

// crash kills the server with SIGKILL, notes what it had used, and
// restarts it on the same spool and ports.
func (r *runner) crash(ctx context.Context, rep *Report, s sample, start time.Time) error {
	p := r.proc()
	fsyncs := r.fsyncs(ctx)
	r.srv.kill()
	killed := time.Now()
	r.prev.cpuSeconds += p.CPUSeconds
	r.prev.writeBytes += p.WriteBytes
	r.prev.peakRSS = max(r.prev.peakRSS, p.HWMBytes)
	r.prev.fsyncs += fsyncs
	r.prev.bounced = s.bounced
	rep.Crash = &Crash{KilledAtSeconds: killed.Sub(start).Seconds(), AckedBeforeKill: r.acked.count()}
	r.log.Info("run: server killed", "after", killed.Sub(start), "acked", rep.Crash.AckedBeforeKill)
	if err := r.srv.launch(ctx); err != nil {
		return fmt.Errorf("run: restart after kill -9: %w", err)
	}
	rep.Crash.RestartSeconds = time.Since(killed).Seconds()
	r.pid = r.srv.pid()
	r.m0 = metrics{} // a new process counts from zero
	r.log.Info("run: server restarted", "took", time.Since(killed), "pid", r.pid)
	return nil
}

// fsyncs returns the server's WAL syncs since the run began, or 0.
func (r *runner) fsyncs(ctx context.Context) int64 {
	if r.httpAddr == "" {
		return 0
	}
	m, err := scrape(ctx, r.hc, "http://"+r.httpAddr+"/metrics")
	if err != nil {
		r.log.Warn("run: metrics", "err", err)
		return 0
	}
	return m.int(metricSyncs) - r.m0.int(metricSyncs)
}

// countLost fills in the crash figures: acknowledged recipients the sink
// never got are lost.
func (r *runner) countLost(rep *Report, icfg inject.Config) {
	c := rep.Crash
	c.Acked = rep.Injected
	r.acked.each(func(i int64) {
		if !r.sink.Delivered(icfg.Address(i)) {
			c.Lost++
		}
	})
	c.DeliveredAcked = c.Acked - c.Lost
	c.Duplicates = rep.Duplicates
	rep.Correct = !rep.TimedOut && c.Lost == 0
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
