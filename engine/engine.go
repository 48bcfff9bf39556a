package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	memdb "github.com/hashicorp/go-memdb"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-mta/sluice/configs"
	"github.com/sluice-mta/sluice/engine/acct"
	"github.com/sluice-mta/sluice/engine/deliver"
	"github.com/sluice-mta/sluice/engine/deliver/mx"
	"github.com/sluice-mta/sluice/engine/dkim"
	"github.com/sluice-mta/sluice/engine/queue"
	"github.com/sluice-mta/sluice/engine/spool"
	"github.com/sluice-mta/sluice/feedback"
	"github.com/sluice-mta/sluice/warmup"
)

// domainOf returns the lowercased domain of an address.
func domainOf(addr string) string {
	return strings.ToLower(addr[strings.LastIndexByte(addr, '@')+1:])
}

// Deps are the engine's seams for time and I/O. Zero fields get the real
// thing.
type Deps struct {
	// Clock returns the current time. Default time.Now.
	Clock func() time.Time
	// SchedClock drives the scheduler's timers; it must agree with Clock.
	// Default queue.RealClock. Tests pass a queue.ManualClock for both.
	SchedClock queue.Clock
	// Logger receives structured logs. Default slog.Default().
	Logger *slog.Logger
	// NoDelivery leaves mail queued (tools and tests of injection alone).
	NoDelivery bool
	// NoBindCheck skips checking that each vmta's source IP is configured
	// on this host (for tools that open the engine without sending).
	NoBindCheck bool
	// SpoolFS is the file system the spool lives on. Default the OS's.
	// Tests pass Pebble's crashable or error-injecting FS (spool.Options.FS).
	SpoolFS vfs.FS
}

// Engine is a running Sluice node's core. It is safe for concurrent use.
type Engine struct {
	cfg     *configs.Config // the running configuration: the file's merged with the API's (dynamic.go)
	fileCfg *configs.Config // the file's configuration alone
	clock   func() time.Time
	log     *slog.Logger
	spool   *spool.Spool
	metrics *metrics

	maxRecipients   int
	maxMessageBytes int64
	batchSize       int
	idleTimeout     time.Duration
	hostname        string

	pause pauses
	// outcomes counts delivery results per vmta and domain (stats.go).
	outcomes outcomeStats
	dkim     atomic.Pointer[dkim.Signer]
	events   *eventHub  // the delivery event stream (events.go)
	hooks    webhookSet // webhooks pushing the event stream (webhooks.go)
	// warm is the warm-up tracker (warmup.go); replaced by a reload.
	warm atomic.Pointer[warmup.Tracker]
	// holds are queues kept off the schedule until a time (holds.go).
	holds holds
	// fb is what receivers said, per (vmta, site) (feedback.go); fbRules
	// and fbSet the reply rules and feedback settings in force.
	fb      feedbackState
	fbRules atomic.Pointer[feedback.Rules]
	fbSet   atomic.Pointer[fbSettings]
	suppr   suppressionList // suppression.go
	// sites maps a domain to its MX site, learned at delivery (for the
	// warm-up check at submit); at most maxSites entries.
	sites     sync.Map
	siteCount atomic.Int64

	// replies are the recent replies per queue and the failure reasons (replies.go).
	replies replyLog

	// Delivery (see delivery.go).
	sched        *queue.Scheduler
	resolver     atomic.Pointer[mx.Resolver]
	reloadMu     sync.Mutex // one reload at a time
	conns        *deliver.Pool
	state        *memdb.MemDB
	acct         *acct.Log
	dstate       deliveryState
	inflight     *inflightLimit
	results      chan resultItem
	resultsWG    sync.WaitGroup
	bg           sync.WaitGroup
	stopDelivery context.CancelFunc
}

// New opens the spool named by cfg (recovering every pending recipient) and
// returns a ready engine.
func New(cfg *configs.Config, deps Deps) (*Engine, error) {
	if deps.Clock == nil {
		deps.Clock = time.Now
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	// In the file 0 means "off"; the spool reads 0 as "default" and a
	// negative value as "off".
	minFree, ballast := int64(cfg.Spool.MinFreeSpace), int64(cfg.Spool.BallastSize)
	if minFree == 0 {
		minFree = -1
	}
	if ballast == 0 {
		ballast = -1
	}
	sp, err := spool.Open(spool.Options{
		Dir:          cfg.Spool.Dir,
		MinFreeSpace: minFree,
		BallastSize:  ballast,
		Logger:       deps.Logger.With("component", "spool"),
		Clock:        deps.Clock,
		FS:           deps.SpoolFS,
	})
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	e := &Engine{
		cfg:             cfg,
		fileCfg:         cfg,
		clock:           deps.Clock,
		log:             deps.Logger,
		spool:           sp,
		maxRecipients:   cfg.SMTPIn.MaxRecipients,
		maxMessageBytes: int64(cfg.SMTPIn.MaxMessageSize),
	}
	e.pause.rules = map[QueueFilter]struct{}{}
	if e.events, err = newEventHub(sp); err != nil {
		_ = sp.Close()
		return nil, err
	}
	e.metrics = newMetrics(e)
	if err := e.loadSuppressions(); err != nil {
		_ = sp.Close()
		return nil, err
	}
	st := sp.Stats()
	e.log.Info("spool recovered", "dir", cfg.Spool.Dir, "messages", st.Messages, "recipients", st.Recipients)
	if err := e.setupDelivery(cfg, deps); err != nil {
		_ = sp.Close()
		return nil, err
	}
	if !deps.NoDelivery {
		if err := e.startWebhooks(cfg.Webhooks); err != nil {
			_ = e.Close()
			return nil, err
		}
	}
	return e, nil
}

// Close stops delivery (transactions in flight get up to 30 s to finish),
// flushes the accounting log and closes the spool. Submit must not be
// called after Close.
func (e *Engine) Close() error {
	e.stopWebhooks()
	e.waitDelivery(30 * time.Second)
	if t := e.warm.Load(); t != nil {
		e.persistWarmup(t, e.clock(), nil)
	}
	e.events.close()
	if e.acct != nil {
		if err := e.acct.Close(); err != nil {
			e.log.Warn("accounting close", "err", err)
		}
	}
	return e.spool.Close()
}

// Registry is the engine's Prometheus registry (served at /metrics).
func (e *Engine) Registry() *prometheus.Registry { return e.metrics.registry }

// Accepting reports whether new mail can be accepted now. It returns
// spool.ErrLowSpace (wrapped) while the spool's disk is short of space.
func (e *Engine) Accepting() error {
	return e.spool.CheckSpace()
}

// Healthy returns nil while the spool's storage works, and an error
// wrapping spool.ErrUnavailable while it is failing (I/O errors): the
// injectors then shed load (421 at the SMTP greeting, UNAVAILABLE on the API).
func (e *Engine) Healthy() error {
	return e.spool.Healthy()
}

// Submit validates a message and stores it durably. It returns the queue
// ID only once the message is on disk (synced); on error nothing was
// stored. Errors wrap ErrInvalidEnvelope, ErrTooLarge, spool.ErrLowSpace or
// a storage failure.
func (e *Engine) Submit(ctx context.Context, env Envelope, body []byte) (string, error) {
	start := time.Now() // NB: the real clock: a latency, not a date
	if int64(len(body)) <= e.maxMessageBytes && e.takeFeedback(&env, body) > 0 && len(env.To) == 0 {
		return FeedbackID, nil // read, not queued
	}
	if err := e.validate(&env, body); err != nil {
		e.metrics.rejected.WithLabelValues(rejectReason(err)).Inc()
		return "", err
	}
	now := e.clock()
	if err := e.checkSuppressed(&env, now); err != nil {
		e.metrics.rejected.WithLabelValues("suppressed").Inc()
		return "", err
	}
	vmta, err := e.chooseVMTA(&env)
	if err != nil {
		e.metrics.rejected.WithLabelValues("invalid").Inc()
		return "", err
	}
	bounceAfter := e.limits(vmta, domainOf(env.To[0]), "").BounceAfter
	if signed, ok, err := e.dkim.Load().Sign(body, env.From); err != nil {
		e.log.Warn("DKIM: message not signed", "from", env.From, "err", err)
	} else if ok {
		body = signed
	}
	id, err := e.spool.Put(ctx, &spool.NewMessage{
		Envelope: spool.Envelope{
			From:       env.From,
			VMTA:       vmta,
			Pool:       env.Pool,
			Campaign:   env.Campaign,
			Tenant:     env.Tenant,
			Source:     env.Source,
			ReceivedAt: now,
			ExpiresAt:  now.Add(bounceAfter),
			Body8Bit:   env.Body8Bit,
			SMTPUTF8:   env.SMTPUTF8,
			DSNRet:     env.DSNRet,
			EnvID:      env.EnvID,
			Notify:     env.Notify,
			ORcpt:      env.ORcpt,
		},
		Recipients: env.To,
		Body:       body,
	})
	if err != nil {
		e.metrics.rejected.WithLabelValues(rejectReason(err)).Inc()
		return "", fmt.Errorf("engine: submit: %w", err)
	}
	e.metrics.receivedMessages.Inc()
	e.metrics.receivedRecipients.Add(float64(len(env.To)))
	e.metrics.receivedBytes.Add(float64(len(body)))
	e.metrics.ackLatency.Observe(time.Since(start).Seconds())
	if e.sched != nil {
		seen := map[string]bool{}
		for _, rcpt := range env.To {
			d := domainOf(rcpt)
			if !seen[d] {
				seen[d] = true
				e.sched.Schedule(queue.Key{VMTA: vmta, Domain: d}, now)
			}
		}
	}
	return id, nil
}

// FeedbackID is the "queue ID" of a message that only carried inbound
// feedback (bounces, complaints): it was read, not queued.
const FeedbackID = "feedback"

// DefaultVMTA is the virtual MTA of mail that names none, until pools land.
const DefaultVMTA = "default"

func rejectReason(err error) string {
	switch {
	case errors.Is(err, ErrSuppressed):
		return "suppressed"
	case errors.Is(err, ErrInvalidEnvelope):
		return "invalid"
	case errors.Is(err, ErrTooLarge):
		return "too_large"
	case errors.Is(err, spool.ErrLowSpace):
		return "low_space"
	case errors.Is(err, spool.ErrUnavailable):
		return "unavailable"
	}
	return "storage"
}

// SpoolStats returns the spool's counters (cheap; no scan).
func (e *Engine) SpoolStats() spool.Stats { return e.spool.Stats() }

// newSigner loads the DKIM keys of cfg (nil signs nothing).
func newSigner(cfg *configs.Config) (*dkim.Signer, error) {
	if len(cfg.DKIM) == 0 {
		return nil, nil
	}
	var keys []dkim.Key
	for _, k := range cfg.DKIM {
		keys = append(keys, dkim.Key{Domain: k.Domain, Selector: k.Selector, KeyFile: k.KeyFile, Headers: k.Headers})
	}
	s, err := dkim.New(keys)
	if err != nil {
		return nil, &configs.Error{Line: cfg.Line("dkim"), Key: "dkim", Msg: err.Error()}
	}
	return s, nil
}
