package sink

import (
	"errors"
	"log/slog"
	"time"
)

// Config configures a Sink. The zero value is usable: New calls SetDefaults.
type Config struct {
	// Hostname is the name the sink gives in its greeting and EHLO reply.
	// Default "sink.test".
	Hostname string

	// MaxMessageBytes is the largest message accepted, in bytes, advertised
	// as SIZE; a larger message gets 552 5.3.4. Default 100 MiB.
	MaxMessageBytes int64

	// Timeout is how long the sink waits for a client's next command or data,
	// and for a reply to be written, before it closes the connection with 421.
	// Default 5 minutes.
	Timeout time.Duration

	// Behaviours turns on the scripted replies to RCPT by local-part prefix
	// (DefaultBehaviours: bounce*, defer*, throttle*, slow*). Default false:
	// every recipient is accepted; `sluice sink` turns it on (--behaviours).
	// SetAcceptAll switches it at run time.
	Behaviours bool

	// SlowDelay is how long a Slow recipient (slow*@…) waits for its RCPT
	// reply. Default 2s.
	SlowDelay time.Duration

	// TrackDuplicates keeps the set of delivered recipient addresses so that
	// Stats.Duplicates counts addresses delivered more than once. It costs a
	// map entry per distinct address (about its length plus 50 bytes) until
	// Reset. Default false.
	TrackDuplicates bool

	// Profile, when set, answers recipients whose domain is in one of its
	// groups by the group's shares and texts, delays replies and caps
	// connections (see Profile). Recipients in no group get the local-part
	// script as before. Default nil.
	Profile *Profile

	// Logger receives the sink's own log lines (listener and connection
	// errors, at Debug and Warn). Default slog.Default().
	Logger *slog.Logger
}

// Defaults for Config.
const (
	DefaultHostname        = "sink.test"
	DefaultMaxMessageBytes = 100 << 20
	DefaultTimeout         = 5 * time.Minute
	DefaultSlowDelay       = 2 * time.Second
)

// SetDefaults fills every zero field of c with its default.
func (c *Config) SetDefaults() {
	if c.Hostname == "" {
		c.Hostname = DefaultHostname
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.SlowDelay == 0 {
		c.SlowDelay = DefaultSlowDelay
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports the first field of c that is out of range.
// Call it after SetDefaults; New does not validate.
func (c *Config) Validate() error {
	switch {
	case c.MaxMessageBytes < 0:
		return errors.New("sink: MaxMessageBytes must not be negative (0 means the 100 MiB default)")
	case c.Timeout < 0:
		return errors.New("sink: Timeout must not be negative (0 means the 5m default)")
	case c.SlowDelay < 0:
		return errors.New("sink: SlowDelay must not be negative (0 means the 2s default)")
	}
	return nil
}
