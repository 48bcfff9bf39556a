package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/sluice-mta/sluice/engine/acct"
	"github.com/sluice-mta/sluice/engine/deliver"
	"github.com/sluice-mta/sluice/engine/deliver/client"
	"github.com/sluice-mta/sluice/engine/deliver/mx"
	"github.com/sluice-mta/sluice/engine/dsn"
	"github.com/sluice-mta/sluice/engine/queue"
	"github.com/sluice-mta/sluice/engine/shaping"
	"github.com/sluice-mta/sluice/engine/spool"
	"github.com/sluice-mta/sluice/feedback"
	"github.com/sluice-mta/sluice/warmup"
)

// The delivery loop, end to end:
//
//	dispatcher: k := sched.Next()                      (a due (vmta, domain) queue)
//	            batch := spool.DueAfter(k, where it stopped, now) less in-flight recipients
//	            go route(k, batch)
//	route:      expired recipients bounce at once
//	            plan := resolver.Lookup(domain)          (cached; DNS failures defer or bounce)
//	            one job per message (≤ max_rcpt_per_msg recipients) -> pool.Submit
//	pool:       a connection goroutine per connection of the (vmta, site) sends the job
//	results:    worker: delivered -> Complete, 5xx -> Complete + DSN, 4xx -> Reschedule
//	            once a queue has nothing in flight, schedule it at its spool head
//
// NB: a recipient is "in flight" from the moment the dispatcher reads it
// until its result is written back. The dispatcher reads a queue on from
// the last recipient it took (flight.pos), past the ones in flight, and
// skips any in-flight recipient a read from the head meets again, so new
// mail for a busy queue goes out without waiting for the batch ahead of
// it, and nothing is sent twice by the same node.

// rcptID names one recipient of one message.
type rcptID struct {
	msg string
	idx uint32
}

// deliveryState is the engine's bookkeeping of recipients in flight.
type deliveryState struct {
	mu     sync.Mutex
	queues map[queue.Key]*flight
}

// flight is one queue's recipients in flight.
//
// NB: the dispatcher holds mu across its spool read and the marking of
// what it read, and release deletes under mu only after the spool has been
// updated. So a recipient the dispatcher reads is either still marked (and
// skipped) or already completed or rescheduled in the spool (and not read):
// without the lock, a batch finishing between the read and the marking
// would be sent again.
type flight struct {
	mu  sync.Mutex
	set map[rcptID]struct{}
	// pos is where the dispatcher stopped reading the queue: every recipient
	// before it is in set, or was completed or moved by the spool since.
	// The zero pos (the head) is the safe value; whoever drops recipients
	// from set without a spool write puts it back there (spool.DueAfter).
	pos spool.QueuePos
}

// flight returns queue k's in-flight set, creating it.
func (d *deliveryState) flight(k queue.Key) *flight {
	d.mu.Lock()
	defer d.mu.Unlock()
	f := d.queues[k]
	if f == nil {
		f = &flight{set: map[rcptID]struct{}{}}
		d.queues[k] = f
	}
	return f
}

// resultItem is one finished job waiting for its bookkeeping.
type resultItem struct {
	key    queue.Key
	batch  []spool.Recipient
	env    *spool.Envelope
	res    *deliver.Result
	start  time.Time
	retry  []time.Duration // the retry_after in force for this queue
	source string          // the vmta's source IP, for accounting
	// warm is the warm-up reservation the batch was sent under (zero
	// when its vmta has no plan).
	warm warmup.Reservation
	// mxSite is the MX site (sorted MX hosts) the batch went to, site and
	// scope the deliver pool's key; "" when no connection was planned.
	mxSite, site, scope string
}

// maxInflightPerQueue bounds the recipients one queue has in flight; past
// it the dispatcher leaves the queue until a batch finishes.
func (e *Engine) maxInflightPerQueue() int { return 4 * e.batchSize }

// startDelivery launches the dispatcher and the result workers, and puts
// every queue recovered from the spool on the schedule.
func (e *Engine) startDelivery() {
	for _, q := range e.spool.Queues() {
		e.sched.Schedule(queue.Key{VMTA: q.VMTA, Domain: q.Domain}, q.EarliestDue)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.stopDelivery = cancel
	e.bg.Add(1)
	go func() {
		defer e.bg.Done()
		e.dispatchLoop(ctx)
	}()
	e.bg.Add(1)
	go func() {
		defer e.bg.Done()
		tk := time.NewTicker(time.Minute)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
				e.warmupTick()
			}
		}
	}()
	for i := 0; i < resultWorkers; i++ {
		e.resultsWG.Add(1)
		go func() {
			defer e.resultsWG.Done()
			for it := range e.results {
				e.finish(it)
			}
		}()
	}
}

// resultWorkers write delivery results back to the spool; their syncs are
// group-committed together.
const resultWorkers = 8

func (e *Engine) dispatchLoop(ctx context.Context) {
	for {
		k, err := e.sched.Next(ctx)
		if err != nil {
			return
		}
		e.dispatch(ctx, k)
	}
}

func (e *Engine) dispatch(ctx context.Context, k queue.Key) {
	if e.pause.paused(k) {
		return // out of the heap until Resume schedules it again
	}
	now := e.clock()
	if until := e.holds.heldUntil(k, now); !until.IsZero() {
		e.sched.Schedule(k, until) // held (warm-up cap, feedback action) until then
		return
	}
	f := e.dstate.flight(k)
	f.mu.Lock()
	skip := len(f.set)
	if skip >= e.maxInflightPerQueue() {
		f.mu.Unlock()
		return // a finishing batch reschedules the queue
	}
	rs, fromHead, err := e.spool.DueAfter(k.VMTA, k.Domain, f.pos, now, e.batchSize, skip)
	if err != nil {
		f.mu.Unlock()
		e.log.Error("read queue", "vmta", k.VMTA, "domain", k.Domain, "err", err)
		e.sched.Schedule(k, now.Add(5*time.Second))
		return
	}
	limit := e.batchSize
	if fromHead {
		limit += skip
	}
	more := len(rs) == limit
	batch := rs[:0]
	for _, r := range rs {
		id := rcptID{r.MsgID, r.Idx}
		if _, busy := f.set[id]; busy {
			f.pos = spool.PosOf(r)
			continue
		}
		if len(batch) == e.batchSize {
			more = true
			break
		}
		batch = append(batch, r)
		f.set[id] = struct{}{}
		f.pos = spool.PosOf(r)
	}
	idle := len(f.set) == 0
	f.mu.Unlock()
	switch {
	case len(batch) == 0 && idle:
		e.scheduleHead(k)
		return
	case len(batch) == 0:
		return
	}
	// NB: the batch is marked in flight before the wait, so a slow pipeline
	// never lets the dispatcher read it twice.
	if err := e.inflight.acquire(ctx, len(batch)); err != nil {
		e.forget(k, batch) // stopping: not acquired, so nothing to give back
		return
	}
	if more {
		e.sched.Schedule(k, now) // take turns with other queues
	}
	e.bg.Add(1)
	go func() {
		defer e.bg.Done()
		e.route(ctx, k, batch)
	}()
}

// scheduleHead puts queue k back on the schedule at its spool head, or
// forgets it when empty.
func (e *Engine) scheduleHead(k queue.Key) {
	if due, ok := e.spool.QueueHead(k.VMTA, k.Domain); ok {
		if until := e.holds.heldUntil(k, e.clock()); until.After(due) {
			due = until
		}
		e.sched.Schedule(k, due)
	} else {
		e.sched.Unschedule(k)
	}
}

// route resolves the queue's domain and hands one job per message to the
// connection pool.
func (e *Engine) route(ctx context.Context, k queue.Key, batch []spool.Recipient) {
	now := e.clock()
	live := batch[:0:0]
	var expired []spool.Recipient
	for _, r := range batch {
		if !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt) {
			expired = append(expired, r)
		} else {
			live = append(live, r)
		}
	}
	if len(expired) > 0 {
		e.failLocally(k, expired, client.Reply{Code: 550, Enhanced: "4.4.7", Local: true,
			Text: "Message expired: not delivered within its bounce_after"}, true)
	}
	if len(live) == 0 {
		return
	}
	snd, ok := e.sender(k.VMTA)
	if !ok {
		e.log.Error("queued mail names a vmta that is not configured; it waits (configure it again, or purge the queue)",
			"vmta", k.VMTA, "domain", k.Domain)
		e.failLocally(k, live, client.Reply{Code: 451, Enhanced: "4.3.5", Local: true,
			Text: "vmta " + k.VMTA + " is not configured"}, false)
		return
	}
	pre := e.limits(k.VMTA, k.Domain, "")
	plan, err := e.resolver.Load().Lookup(ctx, k.Domain)
	if err != nil {
		reply, bounce := dnsFailureReply(err)
		e.failLocally(k, live, reply, bounce)
		return
	}
	mxSite := plan.Site // warm-up and feedback groups match MX hosts, whatever the rollup
	if !pre.MXRollup {
		p := *plan
		p.Site = "domain:" + k.Domain // its own pool and limits
		plan = &p
	}
	lim := e.limits(k.VMTA, k.Domain, plan.Site)
	js := e.jobSettings(k, snd, plan, lim)
	if live = e.actionGate(k, plan.Site, js.scope, live); len(live) == 0 {
		return // suspended, moved or bounced by a feedback action
	}
	live, warm := e.warmupGate(k, mxSite, live)
	if len(live) == 0 {
		return
	}
	js.warm, js.mxSite = warm, mxSite
	for _, job := range e.jobs(js, live) {
		if err := e.conns.Submit(ctx, job.job); err != nil {
			e.release(k, job.batch) // shutting down: the spool still holds them
		}
	}
}

// dnsFailureReply turns a resolver error into the reply recipients get:
// temporary errors defer, the rest bounce.
func dnsFailureReply(err error) (client.Reply, bool) {
	switch {
	case errors.Is(err, mx.ErrTemporary):
		return client.Reply{Code: 451, Enhanced: "4.4.3", Text: "DNS lookup failed: " + err.Error(), Local: true}, false
	case errors.Is(err, mx.ErrNullMX):
		return client.Reply{Code: 556, Enhanced: "5.1.10", Text: "Recipient domain accepts no mail (null MX)", Local: true}, true
	case errors.Is(err, mx.ErrInvalidDomain):
		return client.Reply{Code: 550, Enhanced: "5.1.3", Text: "Invalid recipient domain", Local: true}, true
	case errors.Is(err, mx.ErrNoMailHosts):
		return client.Reply{Code: 550, Enhanced: "5.4.4", Text: "No mail host for the recipient domain: " + err.Error(), Local: true}, true
	default: // ErrNoSuchDomain and anything unforeseen but permanent
		return client.Reply{Code: 550, Enhanced: "5.1.2", Text: "Recipient domain not found: " + err.Error(), Local: true}, true
	}
}

type plannedJob struct {
	job   *deliver.Job
	batch []spool.Recipient
}

// byMessage splits a batch into its messages' recipients, in the order the
// messages first appear.
func byMessage(batch []spool.Recipient) [][]spool.Recipient {
	idx := map[string]int{}
	var out [][]spool.Recipient
	for _, r := range batch {
		i, ok := idx[r.MsgID]
		if !ok {
			i = len(out)
			idx[r.MsgID] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], r)
	}
	return out
}

// jobSettings is what every job of one routed batch shares: worked out
// once per batch, not per job.
type jobSettings struct {
	k      queue.Key
	snd    *sender
	helo   string
	source string // the source IP for accounting, "" when the kernel chooses
	plan   *mx.Plan
	lim    shaping.Limits
	dl     deliver.Limits
	tls    client.TLSPolicy
	scope  string
	// warm and mxSite: see resultItem.
	warm   warmup.Reservation
	mxSite string
}

func (e *Engine) jobSettings(k queue.Key, snd *sender, plan *mx.Plan, lim shaping.Limits) *jobSettings {
	js := &jobSettings{k: k, snd: snd, helo: snd.HELO, plan: plan, lim: lim, dl: e.deliverLimits(lim),
		tls: tlsPolicy(lim.TLS), scope: fmt.Sprint(e.table().Scope(k.VMTA, k.Domain))}
	if js.helo == "" {
		js.helo = e.hostname
	}
	if snd.Source.IsValid() {
		js.source = snd.Source.String()
	}
	return js
}

// jobs groups a batch by message, at most max_rcpt_per_msg recipients a job.
func (e *Engine) jobs(js *jobSettings, batch []spool.Recipient) []plannedJob {
	k, lim := js.k, js.lim
	var out []plannedJob
	for _, rs := range byMessage(batch) {
		id := rs[0].MsgID
		env, err := e.spool.Envelope(id)
		var body []byte
		if err == nil {
			body, err = e.spool.Body(id)
		}
		if err != nil {
			e.log.Error("load message", "id", id, "err", err)
			e.release(k, rs)
			continue
		}
		per := lim.MaxRcptPerMsg
		if env.From != "" && e.verpOn() {
			per = 1 // a return path per recipient
		}
		for len(rs) > 0 {
			n := min(len(rs), per)
			chunk := rs[:n:n]
			rs = rs[n:]
			out = append(out, plannedJob{job: e.newJob(js, &env, body, chunk), batch: chunk})
		}
	}
	return out
}

func (e *Engine) newJob(js *jobSettings, env *spool.Envelope, body []byte, chunk []spool.Recipient) *deliver.Job {
	to := make([]string, len(chunk))
	for i, r := range chunk {
		to[i] = r.Address
	}
	start := e.clock()
	from := env.From
	if len(chunk) == 1 {
		from = e.verpFrom(env.From, chunk[0].MsgID, chunk[0].Idx)
	}
	job := &deliver.Job{
		VMTA:   js.k.VMTA,
		Source: js.snd.Source,
		HELO:   js.helo,
		Plan:   js.plan,
		Limits: &js.dl,
		TLS:    &js.tls,
		Scope:  js.scope,
		Tx: client.Transaction{
			From:     from,
			To:       to,
			Body:     bytes.NewReader(body),
			Size:     int64(len(body)),
			Body8Bit: env.Body8Bit,
			SMTPUTF8: env.SMTPUTF8,
		},
	}
	if env.DSNRet != "" || env.EnvID != "" {
		job.Tx.DSN = &client.DSN{Ret: env.DSNRet, EnvID: env.EnvID}
	}
	job.Done = func(res *deliver.Result) {
		e.results <- resultItem{key: js.k, batch: chunk, env: env, res: res, start: start, retry: js.lim.RetryAfter, source: js.source,
			warm: js.warm, mxSite: js.mxSite, site: js.plan.Site, scope: js.scope}
	}
	return job
}

// failLocally gives every recipient of batch the same locally made reply:
// a bounce when permanent, else a deferral.
func (e *Engine) failLocally(k queue.Key, batch []spool.Recipient, reply client.Reply, permanent bool) {
	if permanent && reply.Code/100 != 5 {
		reply.Code = 550
	}
	replies := make([]client.Reply, len(batch))
	for i := range replies {
		replies[i] = reply
	}
	retry := e.limits(k.VMTA, k.Domain, "").RetryAfter
	for _, rs := range byMessage(batch) {
		env, err := e.spool.Envelope(rs[0].MsgID)
		if err != nil {
			e.log.Error("load envelope", "id", rs[0].MsgID, "err", err)
			e.release(k, rs)
			continue
		}
		e.finish(resultItem{key: k, batch: rs, env: &env, res: &deliver.Result{Replies: replies[:len(rs)]}, start: e.clock(),
			retry: retry})
	}
}

// release forgets that recipients are in flight without changing the
// spool, and reschedules their queue when it has nothing left in flight.
// The dispatcher reads the queue from its head again: they are still there.
func (e *Engine) release(k queue.Key, rs []spool.Recipient) { e.unmark(k, rs, false) }

// unmark is release; written says the spool entries of rs were all
// completed or moved (rescheduled) already, so the dispatcher's position
// stays where it is.
func (e *Engine) unmark(k queue.Key, rs []spool.Recipient, written bool) {
	f := e.dstate.flight(k)
	f.mu.Lock()
	if !written {
		f.pos = spool.QueuePos{}
	}
	n := 0
	for _, r := range rs {
		id := rcptID{r.MsgID, r.Idx}
		if _, ok := f.set[id]; ok {
			delete(f.set, id)
			n++
		}
	}
	idle := len(f.set) == 0
	if idle {
		f.pos = spool.QueuePos{} // nothing in flight: the head is as cheap
	}
	f.mu.Unlock()
	e.inflight.release(n)
	if idle {
		e.scheduleHead(k)
	}
}

// finish writes a job's outcome back: completes delivered and bounced
// recipients, reschedules deferred ones, logs accounting, sends DSNs.
func (e *Engine) finish(it resultItem) {
	written := false
	defer func() { e.unmark(it.key, it.batch, written) }()
	now := e.clock()
	e.warmupResult(it, now) // local replies (shutdown included) give their reservation back
	if errors.Is(it.res.Err, deliver.ErrClosed) {
		return // not an attempt: the node is stopping; the spool keeps them
	}
	e.feedbackResult(it, now)
	var done []spool.Recipient
	var bounced, delayed []bounce
	var retries []spool.Retry
	recs := make([]acct.Record, 0, len(it.batch))
	evs := make([]Event, 0, len(it.batch))
	var nDelivered, nBounced, nDeferred int
	var delivered []spool.Recipient
	var suppress []SuppressionEntry
	cats := e.fbSet.Load().suppressCats
	for i, r := range it.batch {
		reply := it.res.Replies[i]
		rec := e.acctRecord(it, r, reply, now)
		switch {
		case reply.Positive():
			e.outcomes.record(it.key.VMTA, it.key.Domain, now, 'd')
			done = append(done, r)
			rec.Type, rec.DSNAction = acct.TypeDelivered, "relayed"
			nDelivered++
			delivered = append(delivered, r)
		case reply.Permanent():
			e.outcomes.record(it.key.VMTA, it.key.Domain, now, 'b')
			done = append(done, r)
			bounced = append(bounced, bounce{r, reply})
			rec.Type, rec.DSNAction = acct.TypeBounced, "failed"
			nBounced++
			if cats[rec.Category] && !reply.Local {
				suppress = append(suppress, e.autoEntry(r.Address, it.env.From, it.env.Tenant, rec.Category, "bounce: "+reply.String()))
			}
		default:
			next := retryAt(now, r.Attempts, it.retry, rand.Float64()*0.2-0.1)
			if !r.ExpiresAt.IsZero() && next.After(r.ExpiresAt) {
				next = r.ExpiresAt // the final word comes at expiry, not later
			}
			e.outcomes.record(it.key.VMTA, it.key.Domain, now, 't')
			retries = append(retries, spool.Retry{Recipient: r, Next: next, Reply: reply.String()})
			if r.Attempts == 0 {
				delayed = append(delayed, bounce{r, reply}) // NOTIFY=DELAY gets one report
			}
			rec.Type, rec.DSNAction = acct.TypeTransient, "delayed"
			nDeferred++
		}
		recs = append(recs, rec)
		evs = append(evs, outcomeEvent(it, r, reply, eventTypeOf(rec.Type), rec.Category, now))
	}
	// NB: the DSN is queued before Complete: completing the last recipient
	// deletes the body the DSN quotes, and a crash between the two must
	// leave the recipient pending (a DSN twice beats none).
	if len(bounced) > 0 {
		e.sendDSN(it.env, dsn.ActionFailed, bounced, it.res.Host, now)
	}
	if len(delayed) > 0 {
		e.sendDSN(it.env, dsn.ActionDelayed, delayed, it.res.Host, now)
	}
	// NB: events before the synced spool writes below, whose fsync covers them
	// (events.go); subscribers are woken only once the outcome is stored.
	e.appendEvents(evs)
	defer e.events.notify()
	written = true
	if len(retries) > 0 {
		if _, err := e.spool.RescheduleMany(retries); err != nil {
			e.log.Error("reschedule", "id", retries[0].Recipient.MsgID, "n", len(retries), "err", err)
			written = false
		}
	}
	if len(done) > 0 {
		if err := e.spool.Complete(done); err != nil {
			e.log.Error("complete", "id", done[0].MsgID, "err", err)
			written = false
		}
	}
	// NB: counted once the spool holds the outcome, so a reader who sees a
	// delivery counted also sees it gone from the queue gauges.
	e.metrics.delivered.Add(float64(nDelivered))
	e.metrics.bounced.Add(float64(nBounced))
	e.metrics.deferred.Add(float64(nDeferred))
	e.countOutcomes(it, recs)
	e.replies.record(it.key, it.site, it.res.Replies, it.res.Host, now)
	e.rememberSent(it, delivered, now)
	if len(suppress) > 0 {
		if _, err := e.Suppress(suppress...); err != nil {
			e.log.Warn("suppress bounced recipients", "n", len(suppress), "err", err)
		}
	}
	if e.acct != nil {
		if err := e.acct.Write(recs...); err != nil {
			e.log.Warn("accounting write", "err", err)
		}
	}
	e.logOutcomes(recs)
}

func (e *Engine) acctRecord(it resultItem, r spool.Recipient, reply client.Reply, now time.Time) acct.Record {
	src := it.source
	diag := ""
	if reply.Code != 0 {
		diag = "smtp;" + reply.String()
	}
	cat := ""
	if !reply.Positive() {
		cat = string(feedback.Classify(fbReply(reply), e.rules()))
	}
	return acct.Record{
		Category:   cat,
		TimeQueued: it.env.ReceivedAt, TimeLogged: now,
		From: it.env.From, Recipient: r.Address,
		VMTA: it.key.VMTA, SourceIP: src,
		DestHost: it.res.Host, DestIP: it.res.IP,
		DSNStatus: statusOf(reply), DSNDiag: diag,
		Size: it.env.BodySize, Campaign: it.env.Campaign, MsgID: r.MsgID,
		TLS: it.res.TLS, Attempt: r.Attempts + 1,
	}
}

// statusOf is the reply's enhanced status, or one derived from its code.
func statusOf(r client.Reply) string {
	if r.Enhanced != "" {
		return r.Enhanced
	}
	switch r.Code / 100 {
	case 2:
		return "2.0.0"
	case 4:
		return "4.0.0"
	}
	return "5.0.0"
}

// waitDelivery stops the dispatcher and waits for routing goroutines, then
// closes the pool and the result workers.
func (e *Engine) waitDelivery(timeout time.Duration) {
	if e.stopDelivery == nil {
		e.bg.Wait() // background checks (FCrDNS) only
		return
	}
	e.stopDelivery()
	e.bg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := e.conns.Close(ctx); err != nil {
		e.log.Warn("delivery pool did not drain in time", "err", err)
	}
	close(e.results)
	e.resultsWG.Wait()
	e.stopDelivery = nil
}

// deliverLimits maps shaping limits onto a connection pool's.
func (e *Engine) deliverLimits(lim shaping.Limits) deliver.Limits {
	dl := deliver.Limits{MaxConnections: lim.MaxSMTPOut, MaxMessagesPerConnection: lim.MaxMsgPerConnection,
		IdleTimeout: e.idleTimeout}
	if !lim.MaxMsgRate.IsZero() {
		dl.MsgRate, dl.MsgBurst = lim.MaxMsgRate.Limit(), lim.MaxMsgRate.Burst()
	}
	if !lim.MaxConnRate.IsZero() {
		dl.ConnRate, dl.ConnBurst = lim.MaxConnRate.Limit(), lim.MaxConnRate.Burst()
	}
	return dl
}

// forget unmarks recipients as in flight without giving back capacity.
func (e *Engine) forget(k queue.Key, rs []spool.Recipient) {
	f := e.dstate.flight(k)
	f.mu.Lock()
	for _, r := range rs {
		delete(f.set, rcptID{r.MsgID, r.Idx})
	}
	f.pos = spool.QueuePos{}
	f.mu.Unlock()
}
