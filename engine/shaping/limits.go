package shaping

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// TLS policies.
const (
	TLSRequire       = "require"       // STARTTLS or no delivery (a temporary failure)
	TLSOpportunistic = "opportunistic" // STARTTLS when offered, plain text otherwise
	TLSOff           = "off"           // never STARTTLS
)

// Limits are the effective limits for one (vmta, domain, site). Slices are
// shared with the Table: read them, never modify them.
type Limits struct {
	// MaxSMTPOut is max_smtp_out: concurrent connections. At least 1.
	// Default 20.
	MaxSMTPOut int
	// MaxMsgPerConnection is max_msg_per_connection: transactions on one
	// connection before QUIT and a new one. At least 1. Default 1000.
	MaxMsgPerConnection int
	// MaxRcptPerMsg is max_rcpt_per_msg: RCPTs in one transaction. At least
	// 1. Default 100.
	MaxRcptPerMsg int
	// MaxMsgRate is max_msg_rate: messages (transactions) per interval.
	// Zero = unlimited (the default).
	MaxMsgRate Rate
	// MaxConnRate is max_conn_rate: new connections per interval. Zero =
	// unlimited (the default).
	MaxConnRate Rate
	// RetryAfter is retry_after: the delays between attempts; the last one
	// repeats. At least one, each positive. Default 5m, 10m, 20m, 1h.
	RetryAfter []time.Duration
	// BounceAfter is bounce_after: how long after queueing an undelivered
	// recipient is bounced. Positive. Default 4 days.
	BounceAfter time.Duration
	// TLS is the STARTTLS policy: TLSRequire, TLSOpportunistic or TLSOff.
	// Default opportunistic.
	TLS string
	// MXRollup is mx_rollup: whether the domain's queue joins the site of
	// its MX hosts (true) or forms a site of its own. Default true.
	MXRollup bool
	// Route is route: smarthosts ("host" or "host:port") that replace the
	// domain's MX hosts, in order. Empty = deliver by MX (the default).
	Route []string
}

// DefaultLimits returns the built-in defaults, the same as the delivery
// section of the embedded configuration.
func DefaultLimits() Limits {
	return Limits{
		MaxSMTPOut:          20,
		MaxMsgPerConnection: 1000,
		MaxRcptPerMsg:       100,
		RetryAfter:          []time.Duration{5 * time.Minute, 10 * time.Minute, 20 * time.Minute, time.Hour},
		BounceAfter:         4 * Day,
		TLS:                 TLSOpportunistic,
		MXRollup:            true,
	}
}

// Validate reports the first field of l out of range, by its configuration
// key.
func (l Limits) Validate() error {
	r := Rule{
		MaxSMTPOut: &l.MaxSMTPOut, MaxMsgPerConnection: &l.MaxMsgPerConnection, MaxRcptPerMsg: &l.MaxRcptPerMsg,
		MaxMsgRate: &l.MaxMsgRate, MaxConnRate: &l.MaxConnRate, RetryAfter: l.RetryAfter,
		BounceAfter: &l.BounceAfter, TLS: l.TLS, Route: l.Route,
	}
	if l.RetryAfter == nil {
		return errors.New("retry_after: at least one delay required")
	}
	if l.TLS == "" {
		return errors.New("tls: required (require, opportunistic or off)")
	}
	return r.validateFields()
}

// Rule is one override: a `domains:` entry (Match is a domain pattern), a
// `sites:` entry (Match is an MX host pattern) or one of a vmta's own
// overrides (Match is a domain pattern; "" means "*"). Every field is
// optional: nil (or "" for TLS) leaves the value from the layers below.
//
// Patterns: "example.com" matches that name only; "*.example.com" matches
// its sub-domains at any depth (a.example.com, b.a.example.com) but not
// example.com itself (list both to cover both); "*" matches everything.
// Matching ignores case and a trailing dot.
type Rule struct {
	// Match is the pattern this rule applies to.
	Match string
	// MaxSMTPOut overrides Limits.MaxSMTPOut.
	MaxSMTPOut *int
	// MaxMsgPerConnection overrides Limits.MaxMsgPerConnection.
	MaxMsgPerConnection *int
	// MaxRcptPerMsg overrides Limits.MaxRcptPerMsg.
	MaxRcptPerMsg *int
	// MaxMsgRate overrides Limits.MaxMsgRate; a pointer to the zero Rate
	// lifts the limit.
	MaxMsgRate *Rate
	// MaxConnRate overrides Limits.MaxConnRate; a pointer to the zero Rate
	// lifts the limit.
	MaxConnRate *Rate
	// RetryAfter overrides Limits.RetryAfter when non-nil.
	RetryAfter []time.Duration
	// BounceAfter overrides Limits.BounceAfter.
	BounceAfter *time.Duration
	// TLS overrides Limits.TLS when not "".
	TLS string
	// MXRollup overrides Limits.MXRollup. Not allowed in site rules.
	MXRollup *bool
	// Route overrides Limits.Route when non-nil; a non-nil empty slice
	// means "deliver by MX" below a rule that set a route. Not allowed in
	// site rules.
	Route []string
}

// apply writes r's set fields over l.
func (r *Rule) apply(l *Limits) {
	setIf(&l.MaxSMTPOut, r.MaxSMTPOut)
	setIf(&l.MaxMsgPerConnection, r.MaxMsgPerConnection)
	setIf(&l.MaxRcptPerMsg, r.MaxRcptPerMsg)
	setIf(&l.MaxMsgRate, r.MaxMsgRate)
	setIf(&l.MaxConnRate, r.MaxConnRate)
	setIf(&l.BounceAfter, r.BounceAfter)
	setIf(&l.MXRollup, r.MXRollup)
	if r.RetryAfter != nil {
		l.RetryAfter = r.RetryAfter
	}
	if r.TLS != "" {
		l.TLS = r.TLS
	}
	if r.Route != nil {
		l.Route = r.Route
	}
}

func setIf[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// validateFields reports the first set field out of range, by its
// configuration key.
func (r *Rule) validateFields() error {
	for _, f := range []struct {
		key string
		v   *int
	}{{"max_smtp_out", r.MaxSMTPOut}, {"max_msg_per_connection", r.MaxMsgPerConnection}, {"max_rcpt_per_msg", r.MaxRcptPerMsg}} {
		if f.v != nil && *f.v < 1 {
			return fmt.Errorf("%s: must be at least 1, got %d", f.key, *f.v)
		}
	}
	for _, f := range []struct {
		key string
		v   *Rate
	}{{"max_msg_rate", r.MaxMsgRate}, {"max_conn_rate", r.MaxConnRate}} {
		if f.v != nil {
			if err := f.v.Validate(); err != nil {
				return fmt.Errorf("%s: %w", f.key, err)
			}
		}
	}
	if r.RetryAfter != nil && len(r.RetryAfter) == 0 {
		return errors.New("retry_after: at least one delay required")
	}
	for i, d := range r.RetryAfter {
		if d <= 0 {
			return fmt.Errorf("retry_after[%d]: must be positive, got %v", i, d)
		}
	}
	if r.BounceAfter != nil && *r.BounceAfter <= 0 {
		return fmt.Errorf("bounce_after: must be positive, got %v", *r.BounceAfter)
	}
	switch r.TLS {
	case "", TLSRequire, TLSOpportunistic, TLSOff:
	default:
		return fmt.Errorf("tls: %q is not require, opportunistic or off", r.TLS)
	}
	for i, h := range r.Route {
		if h == "" || strings.ContainsAny(h, " ,/") {
			return fmt.Errorf("route[%d]: %q is not a host or host:port", i, h)
		}
	}
	return nil
}
