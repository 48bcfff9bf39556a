package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-mta/sluice/configs"
	"github.com/sluice-mta/sluice/engine/spool"
)

// Deps are the engine's seams for time and I/O. Zero fields get the real
// thing.
type Deps struct {
	// Clock returns the current time. Default time.Now.
	Clock func() time.Time
	// Logger receives structured logs. Default slog.Default().
	Logger *slog.Logger
}

// Engine is a running Sluice node's core. It is safe for concurrent use.
type Engine struct {
	cfg     *configs.Config
	clock   func() time.Time
	log     *slog.Logger
	spool   *spool.Spool
	metrics *metrics

	maxRecipients   int
	maxMessageBytes int64
	bounceAfter     time.Duration
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
	})
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	e := &Engine{
		cfg:             cfg,
		clock:           deps.Clock,
		log:             deps.Logger,
		spool:           sp,
		maxRecipients:   cfg.SMTPIn.MaxRecipients,
		maxMessageBytes: int64(cfg.SMTPIn.MaxMessageSize),
		bounceAfter:     cfg.Delivery.BounceAfter.D(),
	}
	e.metrics = newMetrics(e)
	st := sp.Stats()
	e.log.Info("spool recovered", "dir", cfg.Spool.Dir, "messages", st.Messages, "recipients", st.Recipients)
	return e, nil
}

// Close closes the spool. Submit must not be called after Close.
func (e *Engine) Close() error {
	return e.spool.Close()
}

// Registry is the engine's Prometheus registry (served at /metrics).
func (e *Engine) Registry() *prometheus.Registry { return e.metrics.registry }

// Accepting reports whether new mail can be accepted now. It returns
// spool.ErrLowSpace (wrapped) while the spool's disk is short of space.
func (e *Engine) Accepting() error {
	return e.spool.CheckSpace()
}

// Submit validates a message and stores it durably. It returns the queue
// ID only once the message is on disk (synced); on error nothing was
// stored. Errors wrap ErrInvalidEnvelope, ErrTooLarge, spool.ErrLowSpace or
// a storage failure.
func (e *Engine) Submit(ctx context.Context, env Envelope, body []byte) (string, error) {
	if err := e.validate(&env, body); err != nil {
		e.metrics.rejected.WithLabelValues(rejectReason(err)).Inc()
		return "", err
	}
	now := e.clock()
	vmta := env.VMTA
	if vmta == "" {
		vmta = DefaultVMTA
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
			ExpiresAt:  now.Add(e.bounceAfter),
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
	return id, nil
}

// DefaultVMTA is the virtual MTA of mail that names none, until pools land.
const DefaultVMTA = "default"

func rejectReason(err error) string {
	switch {
	case errors.Is(err, ErrInvalidEnvelope):
		return "invalid"
	case errors.Is(err, ErrTooLarge):
		return "too_large"
	case errors.Is(err, spool.ErrLowSpace):
		return "low_space"
	}
	return "storage"
}

// SpoolStats returns the spool's counters (cheap; no scan).
func (e *Engine) SpoolStats() spool.Stats { return e.spool.Stats() }
