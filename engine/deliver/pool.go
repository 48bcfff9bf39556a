package deliver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/sluice-mta/sluice/engine/deliver/client"
)

// ErrClosed is returned by Submit after Close.
var ErrClosed = errors.New("deliver: pool closed")

// Limits bound one (vmta, site) pool.
type Limits struct {
	// MaxConnections is max_smtp_out: concurrent connections. Default 20.
	MaxConnections int
	// MaxMessagesPerConnection is max_msg_per_connection: transactions on one
	// connection before it is closed with QUIT and a new one opened. Default 1000.
	MaxMessagesPerConnection int
	// IdleTimeout is how long an idle connection is kept before QUIT.
	// Default 5s.
	IdleTimeout time.Duration
	// QueueLength is the ready queue's capacity in jobs; Submit blocks when it
	// is full. Default 4 × MaxConnections. Fixed when the site is created.
	QueueLength int
	// MsgRate and MsgBurst bound transactions per second (max_msg_rate);
	// 0 = unlimited.
	MsgRate  rate.Limit
	MsgBurst int
	// ConnRate and ConnBurst bound new connections per second
	// (max_conn_rate); 0 = unlimited.
	ConnRate  rate.Limit
	ConnBurst int
}

// SetDefaults fills zero fields.
func (l *Limits) SetDefaults() {
	if l.MaxConnections <= 0 {
		l.MaxConnections = 20
	}
	if l.MaxMessagesPerConnection <= 0 {
		l.MaxMessagesPerConnection = 1000
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = 5 * time.Second
	}
	if l.QueueLength <= 0 {
		l.QueueLength = 4 * l.MaxConnections
	}
}

// Options configure a Pool.
type Options struct {
	// Client are the SMTP client options (timeouts, TLS policy); HELO and
	// LocalAddr are set per job.
	Client client.Options
	// Limits returns the limits of a (vmta, site) pool; nil means defaults.
	// It is called once, when the site's pool is created.
	Limits func(vmta, site string) Limits
	// Logger receives connection-level events. Default slog.Default().
	Logger *slog.Logger
}

// Pool holds the connection pools of every (vmta, site).
type Pool struct {
	opts   Options
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// closing is closed when Close starts: idle connections quit at once.
	closing chan struct{}

	mu     sync.Mutex
	sites  map[siteKey]*site
	closed bool
}

type siteKey struct{ vmta, site, scope string }

// NewPool returns an empty pool; sites are created on first use.
func NewPool(opts Options) *Pool {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Pool{opts: opts, log: opts.Logger, ctx: ctx, cancel: cancel, sites: map[siteKey]*site{},
		closing: make(chan struct{})}
}

// Submit queues job on its (vmta, site) ready queue, blocking while that
// queue is full or until ctx ends. After a nil return, job.Done will be
// called exactly once.
func (p *Pool) Submit(ctx context.Context, job *Job) error {
	s, err := p.site(job)
	if err != nil {
		return err
	}
	return s.submit(ctx, job)
}

func (p *Pool) site(job *Job) (*site, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	k := siteKey{job.VMTA, job.Plan.Site, job.Scope}
	s := p.sites[k]
	if s == nil {
		var lim Limits
		switch {
		case job.Limits != nil:
			lim = *job.Limits
		case p.opts.Limits != nil:
			lim = p.opts.Limits(job.VMTA, job.Plan.Site)
		}
		lim.SetDefaults()
		s = &site{pool: p, key: k, limits: lim, jobs: make(chan *Job, lim.QueueLength), domain: job.Plan.Domain}
		s.msgLimiter = newLimiter(lim.MsgRate, lim.MsgBurst)
		s.connLimiter = newLimiter(lim.ConnRate, lim.ConnBurst)
		p.sites[k] = s
	}
	return s, nil
}

// newLimiter returns a limiter, or nil for "unlimited".
func newLimiter(r rate.Limit, burst int) *rate.Limiter {
	if r <= 0 {
		return nil
	}
	return rate.NewLimiter(r, max(burst, 1))
}

// Reconfigure recomputes every site's limits with limits(vmta, site,
// domain), domain being the destination that first opened the site (a
// reload). Open connections use the new limits from their next transaction.
func (p *Pool) Reconfigure(limits func(vmta, site, domain string) Limits) {
	p.mu.Lock()
	sites := make([]*site, 0, len(p.sites))
	for _, s := range p.sites {
		sites = append(sites, s)
	}
	p.mu.Unlock()
	for _, s := range sites {
		s.adopt(limits(s.key.vmta, s.key.site, s.domain))
	}
}

// Adopt applies lim to the running (vmta, site, scope) pool at once (the
// adaptive rate); open connections follow from their next transaction. A
// pool not yet created takes its limits from its first job as usual.
func (p *Pool) Adopt(vmta, site, scope string, lim Limits) {
	p.mu.Lock()
	s := p.sites[siteKey{vmta, site, scope}]
	p.mu.Unlock()
	if s != nil {
		s.adopt(lim)
	}
}

// adopt applies new limits to a running site (a reload, or a rule that
// changed): open connections use them from their next transaction on.
func (s *site) adopt(lim Limits) {
	lim.SetDefaults()
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.limits
	lim.QueueLength = old.QueueLength // the channel's capacity is fixed
	if lim == old {
		return
	}
	s.limits = lim
	s.msgLimiter = retune(s.msgLimiter, lim.MsgRate, lim.MsgBurst)
	s.connLimiter = retune(s.connLimiter, lim.ConnRate, lim.ConnBurst)
}

func retune(l *rate.Limiter, r rate.Limit, burst int) *rate.Limiter {
	if r <= 0 {
		return nil
	}
	if l == nil {
		return rate.NewLimiter(r, max(burst, 1))
	}
	l.SetLimit(r)
	l.SetBurst(max(burst, 1))
	return l
}

func (s *site) idleTimeout() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limits.IdleTimeout
}

// current returns the site's limits and limiters (they change on reload).
func (s *site) current() (Limits, *rate.Limiter, *rate.Limiter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limits, s.msgLimiter, s.connLimiter
}

// SiteStats describes one (vmta, site) pool.
type SiteStats struct {
	VMTA, Site  string
	Scope       string
	Connections int // open or opening
	Queued      int // jobs in the ready queue
	// MaxConnections and MsgRate are the limits in force (0: no rate limit).
	MaxConnections int
	MsgRate        float64
	// Transactions counts the transactions sent (whatever their replies);
	// MsgWaits and ConnWaits the times max_msg_rate and max_conn_rate made
	// a connection wait, WaitSeconds for how long in all.
	Transactions, MsgWaits, ConnWaits int64
	WaitSeconds                       float64
}

// Stats lists every site pool.
func (p *Pool) Stats() []SiteStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]SiteStats, 0, len(p.sites))
	for k, s := range p.sites {
		s.mu.Lock()
		out = append(out, SiteStats{VMTA: k.vmta, Site: k.site, Scope: k.scope, Connections: s.conns, Queued: len(s.jobs),
			MaxConnections: s.limits.MaxConnections, MsgRate: float64(s.limits.MsgRate),
			Transactions: s.counts.transactions.Load(), MsgWaits: s.counts.msgWaits.Load(), ConnWaits: s.counts.connWaits.Load(),
			WaitSeconds: time.Duration(s.counts.waitNanos.Load()).Seconds()})
		s.mu.Unlock()
	}
	return out
}

// Close stops accepting jobs, fails the queued ones as temporary, closes
// idle connections with QUIT and waits for connection goroutines, which
// finish the transaction they are in unless ctx ends first.
func (p *Pool) Close(ctx context.Context) error {
	p.mu.Lock()
	if !p.closed {
		close(p.closing)
	}
	p.closed = true
	sites := make([]*site, 0, len(p.sites))
	for _, s := range p.sites {
		sites = append(sites, s)
	}
	p.mu.Unlock()
	for _, s := range sites {
		s.close()
	}
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		p.cancel() // abort transactions in flight; their jobs report failure
		<-done
		return ctx.Err()
	}
}

// site is one (vmta, site) pool: a ready queue and the goroutines that own
// its connections.
type site struct {
	pool   *Pool
	key    siteKey
	domain string // the destination that opened the site, for Reconfigure
	limits Limits // under mu; changed by adopt
	// msgLimiter and connLimiter enforce max_msg_rate and max_conn_rate for
	// the whole site (nil = unlimited); under mu, changed by adopt.
	msgLimiter, connLimiter *rate.Limiter
	jobs                    chan *Job

	counts siteCounts // for metrics (metrics.go)

	mu      sync.Mutex
	conns   int  // connection goroutines running
	idle    int  // of which waiting for a job
	closing bool // no new jobs; goroutines drain and exit
}

func (s *site) submit(ctx context.Context, job *Job) error {
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if closing {
		return ErrClosed
	}
	select {
	case s.jobs <- job:
	case <-ctx.Done():
		return ctx.Err()
	}
	// NB: the job is queued before we decide whether a goroutine must be
	// started for it. A goroutine that gives up waiting checks the queue and
	// leaves s.conns under s.mu (see retire), so either it sees this job and
	// stays, or we see it gone and start another.
	s.mu.Lock()
	closing = s.closing
	spawn := !closing && s.idle == 0 && s.conns < s.limits.MaxConnections
	if spawn {
		s.conns++
		s.pool.wg.Add(1)
	}
	s.mu.Unlock()
	if closing {
		// Close may have emptied the queue before job landed in it, and no
		// goroutine waits for jobs any more: fail it (and any other) here.
		s.failQueued()
		return nil
	}
	if spawn {
		go s.run()
	}
	return nil
}

func (s *site) close() {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.failQueued()
}

// failQueued fails whatever is queued; connection goroutines see closing.
func (s *site) failQueued() {
	for {
		select {
		case job := <-s.jobs:
			job.Done(failAll(len(job.Tx.To), localTemp("4.3.2", "delivery stopped: engine shutting down"), ErrClosed))
		default:
			return
		}
	}
}

// run is one connection's goroutine: it takes jobs until idle for
// IdleTimeout or the site closes.
func (s *site) run() {
	defer s.pool.wg.Done()
	var (
		c        *client.Conn
		host     string // the MX host c is connected to
		sent     int
		lastUsed time.Time
		opened   time.Time
	)
	idle := time.NewTimer(s.idleTimeout())
	defer idle.Stop()
	for {
		job := s.next(idle)
		if job == nil {
			// Quit before giving the slot back: a site never has more
			// than MaxConnections connections open.
			if c != nil {
				s.endConn(c, host, sent, opened, "idle")
				c, sent = nil, 0
			}
			if s.retire() {
				return
			}
			continue
		}
		lim, msgLim, connLim := s.current()
		if c != nil && (c.Err() != nil || sent >= lim.MaxMessagesPerConnection) {
			s.endConn(c, host, sent, opened, endReason(c))
			c, sent = nil, 0
		}
		// NB: a connection that sat idle may have been closed by the receiver
		// (many close idle sessions after a few seconds). Sending on it would
		// fail the job and count an attempt against every recipient, so probe
		// it with RSET first and redial if the probe fails.
		if c != nil && time.Since(lastUsed) > staleAfter {
			if err := c.Reset(s.pool.ctx); err != nil {
				s.endConn(c, host, sent, opened, "stale")
				c, sent = nil, 0
			}
		}
		if c == nil {
			var res *Result
			if connLim != nil && s.counts.wait(s.pool.ctx, connLim, &s.counts.connWaits) != nil {
				job.Done(failAll(len(job.Tx.To), localTemp("4.3.2", "delivery stopped: engine shutting down"), ErrClosed))
				continue
			}
			c, host, res = s.dial(job)
			if c == nil {
				job.Done(res)
				continue
			}
			opened = time.Now()
		}
		if msgLim != nil && s.counts.wait(s.pool.ctx, msgLim, &s.counts.msgWaits) != nil {
			job.Done(failAll(len(job.Tx.To), localTemp("4.3.2", "delivery stopped: engine shutting down"), ErrClosed))
			continue
		}
		job.Done(s.send(c, host, job))
		s.counts.transactions.Add(1)
		sent++
		lastUsed = time.Now()
	}
}

// staleAfter is how long a connection may sit idle before it is probed with
// RSET before reuse.
const staleAfter = time.Second

// next returns the next queued job, waiting up to IdleTimeout for one; nil
// when none came or the site is closing.
func (s *site) next(idle *time.Timer) *Job {
	select {
	case job := <-s.jobs:
		return job
	default:
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return nil
	}
	s.idle++
	s.mu.Unlock()
	idle.Reset(s.idleTimeout())
	var job *Job
	select {
	case job = <-s.jobs:
	case <-idle.C:
	case <-s.pool.closing:
	}
	s.mu.Lock()
	s.idle--
	s.mu.Unlock()
	return job
}

// retire removes a goroutine that found no job from s.conns and reports
// true, unless a job was queued since and the site is open: then the
// goroutine must go on, since the Submit that queued it may have counted on
// it (it saw the goroutine idle, or s.conns at the limit) and started none.
func (s *site) retire() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.jobs) > 0 && !s.closing {
		return false
	}
	s.conns--
	return true
}

// dial tries the plan's hosts in order, each of their addresses, and returns
// the first connection and its host's name, or a Result failing the job.
func (s *site) dial(job *Job) (*client.Conn, string, *Result) {
	opts := s.pool.opts.Client
	opts.HELO = job.HELO
	opts.LocalAddr = job.Source
	if job.TLS != nil {
		opts.TLS = *job.TLS
	}
	var lastErr error
	tried := 0
	for _, h := range job.Plan.Hosts {
		for _, a := range h.Addrs {
			if job.Source.IsValid() && job.Source.Is4() != a.Is4() {
				continue // a v4 source cannot reach a v6 host, and back
			}
			tried++
			addr := net.JoinHostPort(a.String(), strconv.Itoa(h.Port))
			c, err := client.Dial(s.pool.ctx, addr, h.Name, opts)
			if err == nil {
				return c, h.Name, nil
			}
			lastErr = fmt.Errorf("%s [%s]: %w", h.Name, a, err)
			s.pool.log.Debug("connect failed", "vmta", job.VMTA, "site", job.Plan.Site, "host", h.Name, "ip", a, "err", err)
			var re *client.ReplyError
			if errors.As(err, &re) && re.Reply.Permanent() && re.Command == "greeting" {
				// A 554 greeting means "no service here for you": try the next host.
				continue
			}
		}
	}
	if tried == 0 {
		lastErr = fmt.Errorf("no MX host of %s has an address of the source IP's family", job.Plan.Domain)
	}
	return nil, "", failAll(len(job.Tx.To), localTemp("4.4.1", "connection failed: "+errString(lastErr)), lastErr)
}

// send runs job on c, connected to host.
func (s *site) send(c *client.Conn, host string, job *Job) *Result {
	start := time.Now()
	res, err := c.Send(s.pool.ctx, &job.Tx)
	ip := remoteIP(c)
	if err != nil {
		r := failAll(len(job.Tx.To), localTemp("4.4.2", "connection lost: "+err.Error()), err)
		r.Host, r.IP = host, ip
		s.logTransaction(job, r, start)
		return r
	}
	out := &Result{Replies: make([]client.Reply, len(job.Tx.To)), Host: host, IP: ip, TLS: c.TLS()}
	for i := range out.Replies {
		out.Replies[i] = res.Outcome(i)
	}
	s.logTransaction(job, out, start)
	return out
}

// remoteIP returns the address c is connected to, "" if it has none.
// NB: the host is remembered at dial time, not looked up by this address:
// two MX hosts may share one (and differ by port, in tests).
func remoteIP(c *client.Conn) string {
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().String()
	}
	return ""
}

func localTemp(enhanced, text string) client.Reply {
	return client.Reply{Code: 451, Enhanced: enhanced, Text: text, Local: true}
}

func errString(err error) string {
	if err == nil {
		return "no host to try"
	}
	return err.Error()
}
