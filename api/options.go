package api

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/sluice-mta/sluice/configs"
	"github.com/sluice-mta/sluice/engine"
	"github.com/sluice-mta/sluice/engine/spool"
)

// Submitter is the engine's one door for new mail, as the API uses it.
// *engine.Engine satisfies it. Submit returns the queue ID only once the
// message is durable; its errors wrap engine.ErrInvalidEnvelope,
// engine.ErrTooLarge, spool.ErrLowSpace or a storage failure.
type Submitter interface {
	Submit(ctx context.Context, env engine.Envelope, body []byte) (string, error)
}

var _ Submitter = (*engine.Engine)(nil)

// Admin is the engine's administration surface, as the Queues, Vmtas,
// Pools, Stats, Events, Warmup, Feedback and Suppressions services use it. *engine.Engine satisfies it. Every
// method is safe for concurrent use; Flush and Purge may stop part-way and
// return how far they got.
type Admin interface {
	Queues(engine.QueueFilter) []engine.QueueInfo
	Pause(engine.QueueFilter) int
	Resume(engine.QueueFilter) int
	Flush(context.Context, engine.QueueFilter) (int, error)
	Purge(ctx context.Context, f engine.QueueFilter, dsn bool) (int, error)
	VMTAs() []engine.VMTAInfo
	Pools() []engine.PoolInfo
	// SetVMTADisabled fails with an error wrapping engine.ErrUnknownVMTA
	// for a name that is not a vmta.
	SetVMTADisabled(name string, disabled bool) error
	// UpsertVMTA, DeleteVMTA, UpsertPool and DeletePool change the vmtas
	// and pools defined through the API (stored, validated whole first).
	// Their errors wrap engine.ErrInvalidConfig (with a *configs.Error
	// naming the key when known), engine.ErrDefinedInFile,
	// engine.ErrUnknownVMTA or engine.ErrUnknownPool.
	UpsertVMTA(ctx context.Context, v configs.VMTA) error
	DeleteVMTA(ctx context.Context, name string) error
	UpsertPool(ctx context.Context, p configs.Pool) error
	DeletePool(ctx context.Context, name string) error
	SpoolStats() spool.Stats
	// OutcomeStats returns delivery results and rates per vmta and for the
	// busiest domainLimit domains (0 = all).
	OutcomeStats(domainLimit int) (byVMTA, byDomain []engine.Outcomes)
	// TraceRecipient fails with an error wrapping engine.ErrNotQueued when
	// nothing of the message is queued.
	TraceRecipient(id, rcpt string) ([]engine.Trace, error)
	// Events calls fn for each event after the cursor that matches the
	// filter, then for live ones, until ctx is done or fn fails; it fails
	// with an error wrapping spool.ErrEventsLost or spool.ErrCursorAhead
	// for a cursor it cannot resume from (see engine.Engine.Events).
	Events(ctx context.Context, after uint64, f engine.EventFilter, fn func(engine.Event) error) error
	// LastEventSeq is the cursor of the newest event.
	LastEventSeq() uint64

	// WarmupStatus ("" for every warming vmta) and WarmupControl fail with
	// errors wrapping engine.ErrNotWarming or engine.ErrUnknownWarmupGroup.
	WarmupStatus(vmta string) ([]engine.WarmupVMTA, error)
	WarmupControl(op engine.WarmupOp, vmta, group string) error
	Actions() []engine.ActionInfo
	// LiftAction fails with engine.ErrNoAction when nothing matched, and
	// with an error wrapping engine.ErrUnknownActionKind for an unknown kind.
	LiftAction(vmta, site, kind, by string) (int, error)
	// Suppress, Unsuppress and ImportSuppressions change the suppression
	// list durably; bad input wraps engine.ErrInvalidEnvelope (an import's
	// error names the CSV line). Suppressions lists scope ("*" for all)
	// sorted by scope then address.
	Suppress(entries ...engine.SuppressionEntry) (int, error)
	Unsuppress(scope, addr string) (bool, error)
	Suppressions(scope, after string, limit int) []engine.SuppressionEntry
	ImportSuppressions(r io.Reader, scope, reason, source string) (int, error)
	// Feedback reads an inbound report; an unreadable one is kept (listed
	// by BadFeedback) and fails with an error wrapping
	// engine.ErrInvalidEnvelope. IsFeedbackRecipient reports whether an
	// address is one the engine takes reports at (the VERP domain, the FBL
	// addresses).
	Feedback(kind engine.FeedbackKind, rcpt string, body []byte) (*engine.FeedbackResult, error)
	IsFeedbackRecipient(addr string) bool
	BadFeedback() ([]engine.BadReport, error)

	// For the web monitor (monitor.go): one queue in detail, the most
	// frequent failure replies, injection totals, the oldest queued
	// message, the warm-up plans' curves and the connection pools.
	QueueDetail(vmta, domain string) engine.QueueDetail
	TopReasons(outcome string, n int) []engine.Reason
	Received() (messages, recipients int64)
	OldestQueued() (time.Time, bool)
	WarmupCurves(days int) []engine.WarmupCurve
	Sites() []engine.SiteInfo
}

var _ Admin = (*engine.Engine)(nil)

// Defaults of Options.
const (
	DefaultMaxMessageBytes    = 50 << 20 // as smtp_in.max_message_size
	DefaultMaxRecipients      = 1000     // as smtp_in.max_recipients
	DefaultMaxBatchRecipients = 10000
	DefaultIdempotencyTTL     = 24 * time.Hour
	DefaultStreamWindow       = 64
	DefaultSubmitConcurrency  = 32
)

// Options configures a Server. Zero values take the documented defaults
// (EnsureDefaults); Submitter is required.
type Options struct {
	// Submitter stores accepted mail (the engine). Required.
	Submitter Submitter
	// Admin serves the admin services (Queues, Vmtas, Pools, Stats, Events,
	// Warmup, Feedback, Suppressions) on gRPC and REST. Default nil: those
	// services are not registered (their RPCs are Unimplemented, their REST
	// routes 404 and absent from the OpenAPI document).
	Admin Admin
	// Keys are the API keys that may call the API (the configuration file's).
	Keys []Key
	// KeyStore keeps keys created through the API (the Keys service); nil
	// leaves the service out.
	KeyStore KeyStore
	// AllowLoopbackWithoutKey lets a client on a loopback address call
	// every RPC without a key, with the admin role (the first-run default).
	// A key that is sent is still checked. Default false.
	AllowLoopbackWithoutKey bool
	// MaxMessageBytes is the largest rendered message, in bytes. Default 50 MiB.
	MaxMessageBytes int64
	// MaxRecipients is the most recipients of one Inject (and of one stream
	// message). Default 1000.
	MaxRecipients int
	// MaxBatchRecipients is the most recipients of one InjectBatch.
	// Default 10,000.
	MaxBatchRecipients int
	// MaxRequestBytes is the largest request (gRPC message or REST body),
	// in bytes. Default MaxMessageBytes*4/3 (base64 in JSON) + 16 MiB.
	MaxRequestBytes int
	// Idempotency stores the results of requests that carry an
	// idempotency_key. Default: an in-memory store (lost on restart).
	Idempotency IdempotencyStore
	// IdempotencyTTL is how long a result is kept. Default 24 h.
	IdempotencyTTL time.Duration
	// StreamWindow is how many messages of one InjectStream are being
	// stored at once; the server stops reading while the window is full,
	// so gRPC flow control holds the client back. Default 64.
	StreamWindow int
	// SubmitConcurrency is how many messages of one InjectBatch are being
	// stored at once (they then share the spool's group commits). Default 32.
	SubmitConcurrency int
	// MessageIDDomain is the right side of generated Message-IDs; empty
	// means the domain of the From address.
	MessageIDDomain string
	// Clock returns the time for Date headers and idempotency expiry.
	// Default time.Now.
	Clock func() time.Time
	// Logger receives structured logs. Default slog.Default().
	Logger *slog.Logger
}

// EnsureDefaults fills in the zero fields.
func (o *Options) EnsureDefaults() {
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if o.MaxRecipients <= 0 {
		o.MaxRecipients = DefaultMaxRecipients
	}
	if o.MaxBatchRecipients <= 0 {
		o.MaxBatchRecipients = DefaultMaxBatchRecipients
	}
	if o.MaxRequestBytes <= 0 {
		o.MaxRequestBytes = int(o.MaxMessageBytes/3*4) + 16<<20
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.IdempotencyTTL <= 0 {
		o.IdempotencyTTL = DefaultIdempotencyTTL
	}
	if o.Idempotency == nil {
		o.Idempotency = NewMemoryIdempotencyStore(o.Clock)
	}
	if o.StreamWindow <= 0 {
		o.StreamWindow = DefaultStreamWindow
	}
	if o.SubmitConcurrency <= 0 {
		o.SubmitConcurrency = DefaultSubmitConcurrency
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Validate checks the options after EnsureDefaults.
func (o *Options) Validate() error {
	if o.Submitter == nil {
		return fmt.Errorf("api: Options.Submitter is required")
	}
	seen := map[string]bool{}
	for i, k := range o.Keys {
		if err := k.validate(); err != nil {
			return fmt.Errorf("api: keys[%d]: %w", i, err)
		}
		if seen[k.Name] {
			return fmt.Errorf("api: keys[%d]: duplicate name %q", i, k.Name)
		}
		seen[k.Name] = true
	}
	return nil
}
