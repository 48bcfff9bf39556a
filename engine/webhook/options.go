package webhook

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// Defaults of Options.
const (
	DefaultBatchSize     = 100
	DefaultFlushInterval = time.Second
	DefaultTimeout       = 10 * time.Second
	DefaultRetryInitial  = time.Second
	DefaultRetryMax      = 5 * time.Minute
)

// Options configure a Sink. Zero values take the defaults (SetDefaults).
type Options struct {
	// Name identifies the webhook in logs, metrics, the payload and its
	// cursor's key. Required.
	Name string
	// URL receives the POSTs (http or https). Required.
	URL string
	// Types are the event types sent; empty sends every type.
	Types []string
	// BatchSize is the most events in one POST. Default 100.
	BatchSize int
	// FlushInterval is how long a batch that is not full waits for more
	// events before it is sent. Default 1s.
	FlushInterval time.Duration
	// Timeout bounds one POST, response included. Default 10s.
	Timeout time.Duration
	// RetryInitial is the wait after the first failed POST; it doubles at
	// each failure up to RetryMax. Defaults 1s and 5m.
	RetryInitial, RetryMax time.Duration
	// Authorization is sent as the Authorization header when set (e.g.
	// "Bearer s3cret"). Never logged.
	Authorization string
	// SigningSecret, when set, signs each request (see the package doc).
	// Never logged.
	SigningSecret string
	// StartAfter is the cursor a webhook with no saved cursor starts after
	// (the engine passes its newest event: a new webhook gets live events).
	StartAfter uint64
	// Client sends the requests. Default: a client with Timeout that does
	// not follow redirects.
	Client *http.Client
	// Clock stamps signatures. Default time.Now.
	Clock func() time.Time
	// Logger receives warnings about failed POSTs. Default slog.Default().
	Logger *slog.Logger
	// Observe, when set, is told the outcome of every POST attempt and how
	// many events it carried (for metrics).
	Observe func(o Outcome, events int)
	// Saved, when set, is told each cursor saved (for a lag gauge).
	Saved func(cursor uint64)
}

// Outcome is what happened to one POST attempt.
type Outcome string

// Outcomes passed to Options.Observe.
const (
	// Sent: the receiver answered 2xx.
	Sent Outcome = "sent"
	// Failed: a temporary failure (5xx, 408, 429, timeout, connection); the
	// batch is retried.
	Failed Outcome = "failed"
	// Rejected: any other status; the batch is skipped.
	Rejected Outcome = "rejected"
)

// SetDefaults fills the zero fields of o with their defaults.
func (o *Options) SetDefaults() {
	if o.BatchSize == 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.RetryInitial == 0 {
		o.RetryInitial = DefaultRetryInitial
	}
	if o.RetryMax == 0 {
		o.RetryMax = DefaultRetryMax
	}
	if o.Client == nil {
		// NB: redirects are not followed: a POST redirected turns into a GET
		// without the batch. A 3xx is a failure, retried (and logged).
		o.Client = &http.Client{Timeout: o.Timeout, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Validate reports what is wrong with o (after SetDefaults).
func (o *Options) Validate() error {
	if o.Name == "" {
		return errors.New("webhook: Options.Name is empty: every webhook needs a name")
	}
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("webhook %s: URL must be an http or https URL with a host", o.Name)
	}
	switch {
	case o.BatchSize < 1:
		return fmt.Errorf("webhook %s: BatchSize %d: must be at least 1", o.Name, o.BatchSize)
	case o.FlushInterval < 0 || o.Timeout < 0 || o.RetryInitial < 0:
		return fmt.Errorf("webhook %s: FlushInterval, Timeout and RetryInitial must not be negative", o.Name)
	case o.RetryMax < o.RetryInitial:
		return fmt.Errorf("webhook %s: RetryMax %s is below RetryInitial %s", o.Name, o.RetryMax, o.RetryInitial)
	}
	return nil
}
