package engine

import (
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"

	memdb "github.com/hashicorp/go-memdb"

	"github.com/sluice-mta/sluice/configs"
	"github.com/sluice-mta/sluice/engine/acct"
	"github.com/sluice-mta/sluice/engine/deliver"
	"github.com/sluice-mta/sluice/engine/deliver/client"
	"github.com/sluice-mta/sluice/engine/deliver/mx"
	"github.com/sluice-mta/sluice/engine/queue"
)

// setupDelivery builds the scheduler, resolver, connection pool and
// accounting log from cfg, and starts delivery unless deps say not to.
func (e *Engine) setupDelivery(cfg *configs.Config, deps Deps) error {
	d := cfg.Delivery
	e.batchSize = d.BatchSize
	e.idleTimeout = d.IdleTimeout.D()
	e.hostname = cfg.SMTPIn.Hostname
	if e.hostname == "" {
		e.hostname, _ = os.Hostname()
	}
	// The vmtas and pools defined through the API replace the file's.
	cfg, err := e.mergeDynamic(cfg)
	if err != nil {
		return err
	}
	e.cfg = cfg
	// The same whole validation as a reload.
	p, err := e.prepareConfig(cfg, !deps.NoBindCheck)
	if err != nil {
		return err
	}
	r := p.r
	if err := e.installPolicies(p); err != nil {
		return err
	}
	if e.state, err = memdb.NewMemDB(routingSchema); err != nil {
		return fmt.Errorf("engine: state: %w", err)
	}
	if err := e.applyRouting(r); err != nil {
		return fmt.Errorf("engine: state: %w", err)
	}
	for _, s := range r.senders {
		if s.Disabled {
			e.pause.rules[QueueFilter{VMTA: s.Name}] = struct{}{}
		}
	}
	if !deps.NoBindCheck {
		e.checkFCrDNS(cfg)
	}
	if deps.NoDelivery || d.Hold {
		if d.Hold {
			e.log.Warn("delivery.hold is set: mail is accepted and queued, nothing is delivered")
		}
		return nil
	}
	res, err := e.newResolver(cfg, r)
	if err != nil {
		return err
	}
	e.resolver.Store(res)
	copts := client.Options{
		HELO:             e.hostname,
		TLS:              tlsPolicy(d.TLS),
		ConnectTimeout:   d.Timeouts.Connect.D(),
		GreetingTimeout:  d.Timeouts.Greeting.D(),
		CommandTimeout:   d.Timeouts.EHLO.D(),
		MailTimeout:      d.Timeouts.Mail.D(),
		RcptTimeout:      d.Timeouts.Rcpt.D(),
		DataInitTimeout:  d.Timeouts.DataInit.D(),
		DataBlockTimeout: d.Timeouts.DataBlock.D(),
		DataTermTimeout:  d.Timeouts.DataTerm.D(),
		NoChunking:       d.Chunking == "off",
	}
	if d.TLS == "require" {
		copts.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	// NB: no SetDefaults here: it would fix a Dialer bound to no source
	// address, and every job's vmta source IP would be ignored.
	e.conns = deliver.NewPool(deliver.Options{Client: copts, Logger: e.log.With("component", "deliver")})
	dir := cfg.Acct.Dir
	if dir == "" {
		dir = filepath.Join(cfg.Spool.Dir, "acct")
	}
	maxAge := cfg.Acct.MaxAge.D()
	if maxAge == 0 {
		maxAge = -1
	}
	if e.acct, err = acct.Open(acct.Options{Dir: dir, Format: cfg.Acct.Format, MaxSize: int64(cfg.Acct.MaxSize),
		MaxAge: maxAge, Clock: e.clock}); err != nil {
		return fmt.Errorf("engine: accounting: %w", err)
	}
	sc := deps.SchedClock
	if sc == nil {
		sc = queue.RealClock{}
	}
	e.sched = queue.NewScheduler(sc)
	e.dstate.queues = map[queue.Key]*flight{}
	e.inflight = newInflightLimit(d.MaxInflight)
	e.results = make(chan resultItem, 1024)
	e.startDelivery()
	return nil
}

func tlsPolicy(s string) client.TLSPolicy {
	switch s {
	case "require":
		return client.TLSRequire
	case "off":
		return client.TLSOff
	}
	return client.TLSOpportunistic
}

func (e *Engine) newResolver(cfg *configs.Config, r *routing) (*mx.Resolver, error) {
	res, err := mx.New(mx.Config{Resolvers: cfg.DNS.Resolvers, Port: cfg.Delivery.MXPort, Timeout: cfg.DNS.Timeout.D(),
		Routes: r.routes, Clock: e.clock})
	if err != nil {
		return nil, fmt.Errorf("engine: dns: %w", err)
	}
	return res, nil
}
