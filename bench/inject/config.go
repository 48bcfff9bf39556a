package inject

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Config describes one load run. The zero value plus Target (or Mode and
// GRPCTarget) is usable once SetDefaults has run.
type Config struct {
	// Mode is how mail is injected: ModeSMTP (the default), ModeGRPC (one
	// Injector.Inject call per message), ModeGRPCBatch (InjectBatch calls of
	// BatchSize recipients) or ModeGRPCStream (bidirectional InjectStream
	// streams).
	Mode string

	// Target is the SMTP server to load, "host:port". Required in ModeSMTP,
	// ignored otherwise.
	Target string

	// GRPCTarget is the gRPC listener of the Injector service, "host:port".
	// Required in the gRPC modes, ignored in ModeSMTP. The connection is
	// plaintext (no TLS).
	GRPCTarget string

	// APIKey, when set, is sent with every gRPC call as the metadata
	// "authorization: Bearer <APIKey>". Optional; not used in ModeSMTP.
	APIKey string

	// BatchSize is the number of recipients of one InjectBatch request in
	// ModeGRPCBatch (the last batch of a run may be smaller). Default 1000.
	BatchSize int

	// Count is the number of messages to send; in ModeGRPCBatch it is the
	// number of recipients, sent in ceil(Count/BatchSize) batches.
	// Default 1000.
	Count int

	// Concurrency is the number of parallel SMTP sessions, gRPC callers
	// (ModeGRPC, ModeGRPCBatch) or InjectStream streams (ModeGRPCStream);
	// each gRPC worker has its own connection. Default 10; never more than
	// the number of messages (or batches).
	Concurrency int

	// Size is the approximate size of each message in bytes, headers and
	// body together. The body is lines of printable ASCII of at most 78
	// characters each, ending in CRLF. Default 4096.
	Size int

	// From is the envelope sender and the From header. Default
	// "bench@sluice.test".
	From string

	// Recipients is the number of recipients per message. Default 1.
	// Ignored in ModeGRPCBatch, where BatchSize says it.
	Recipients int

	// Domains spreads the recipients over d0.test .. d<Domains-1>.test:
	// recipient n of the run (counting across messages) is
	// <LocalPart><n>@d<n mod Domains>.test. Default 100.
	Domains int

	// MessagesPerConnection is how many messages one connection carries
	// before QUIT; 1 makes a connection per message. Default 100.
	MessagesPerConnection int

	// HELO is the name sent in EHLO. Default "inject.sluice.test".
	HELO string

	// Timeout bounds each step of a session: the dial, each command's reply,
	// writing the message, and the reply to its end of data. Default 60s.
	Timeout time.Duration

	// Headers are extra header fields added to every message (for example
	// "X-Sluice-Pool"). Optional.
	Headers map[string]string

	// LocalAddr is the source IP address to dial from ("127.0.0.3").
	// Optional: empty lets the system choose.
	LocalAddr string

	// LocalPart is the prefix of every recipient's local part: recipient n is
	// <LocalPart><n>@d<n mod Domains>.test. A sink scripts its replies by
	// this prefix ("defer" makes every recipient deferred, see bench/sink).
	// Default "user".
	LocalPart string

	// Acked, when set, is told of every acknowledged recipient: called with
	// the run-wide index of the first recipient of an acknowledged message
	// (see Address) and the message's number of recipients; in
	// ModeGRPCBatch once per recipient reported QUEUED, with n 1. It is
	// called from the workers, concurrently, and must be quick. Optional.
	Acked func(first int64, n int)

	// StampHeader adds StampField to every message, its value the Unix time
	// in nanoseconds at which the message's data began to be written, so that
	// a sink can measure injection-to-delivery latency. Default false.
	StampHeader bool
}

// The values of Config.Mode.
const (
	ModeSMTP       = "smtp"        // SMTP sessions
	ModeGRPC       = "grpc"        // one Injector.Inject call per message
	ModeGRPCBatch  = "grpc-batch"  // Injector.InjectBatch, BatchSize recipients each
	ModeGRPCStream = "grpc-stream" // Injector.InjectStream, acks in order
)

// StampField is the header field Config.StampHeader adds: its value is the
// sending time in Unix nanoseconds, in decimal.
const StampField = "X-Sluice-Bench-Sent"

// Defaults for Config.
const (
	DefaultCount                 = 1000
	DefaultConcurrency           = 10
	DefaultSize                  = 4096
	DefaultFrom                  = "bench@sluice.test"
	DefaultRecipients            = 1
	DefaultDomains               = 100
	DefaultMessagesPerConnection = 100
	DefaultHELO                  = "inject.sluice.test"
	DefaultTimeout               = 60 * time.Second
	DefaultLocalPart             = "user"
	DefaultMode                  = ModeSMTP
	DefaultBatchSize             = 1000
)

// SetDefaults fills every zero field of c with its default.
func (c *Config) SetDefaults() {
	setInt := func(p *int, d int) {
		if *p == 0 {
			*p = d
		}
	}
	setInt(&c.Count, DefaultCount)
	setInt(&c.Concurrency, DefaultConcurrency)
	setInt(&c.Size, DefaultSize)
	setInt(&c.Recipients, DefaultRecipients)
	setInt(&c.Domains, DefaultDomains)
	setInt(&c.MessagesPerConnection, DefaultMessagesPerConnection)
	setInt(&c.BatchSize, DefaultBatchSize)
	if c.Mode == "" {
		c.Mode = DefaultMode
	}
	if c.From == "" {
		c.From = DefaultFrom
	}
	if c.HELO == "" {
		c.HELO = DefaultHELO
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.LocalPart == "" {
		c.LocalPart = DefaultLocalPart
	}
}

// Validate reports the first field of c that is missing or out of range.
// Call it after SetDefaults.
func (c *Config) Validate() error {
	if err := c.validateTarget(); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"Count", c.Count},
		{"Concurrency", c.Concurrency},
		{"Size", c.Size},
		{"Recipients", c.Recipients},
		{"Domains", c.Domains},
		{"MessagesPerConnection", c.MessagesPerConnection},
		{"BatchSize", c.BatchSize},
	} {
		if f.v < 1 {
			return fmt.Errorf("inject: %s must be at least 1, got %d", f.name, f.v)
		}
	}
	if c.Timeout < 0 {
		return fmt.Errorf("inject: Timeout must be positive, got %s", c.Timeout)
	}
	if !validText(c.From) || !strings.Contains(c.From, "@") {
		return fmt.Errorf("inject: From %q must be an address like bench@sluice.test", c.From)
	}
	if !validText(c.HELO) || strings.ContainsRune(c.HELO, ' ') {
		return fmt.Errorf("inject: HELO %q must be a host name", c.HELO)
	}
	for k, v := range c.Headers {
		if !validFieldName(k) {
			return fmt.Errorf("inject: header name %q must be printable ASCII without ':' or spaces", k)
		}
		if !validText(v) {
			return fmt.Errorf("inject: header %s: value must not contain CR or LF", k)
		}
	}
	if !validLocalPart(c.LocalPart) {
		return fmt.Errorf("inject: LocalPart %q must be letters, digits, '-', '_' or '.'", c.LocalPart)
	}
	if c.LocalAddr != "" && net.ParseIP(c.LocalAddr) == nil {
		return fmt.Errorf("inject: LocalAddr %q must be an IP address", c.LocalAddr)
	}
	return nil
}

// validateTarget checks Mode and the target it needs.
func (c *Config) validateTarget() error {
	name, target := "Target", c.Target
	switch c.Mode {
	case ModeSMTP:
	case ModeGRPC, ModeGRPCBatch, ModeGRPCStream:
		name, target = "GRPCTarget", c.GRPCTarget
		if strings.ContainsAny(c.APIKey, "\r\n") {
			return errors.New("inject: APIKey must not contain CR or LF")
		}
	default:
		return fmt.Errorf("inject: Mode %q must be %s, %s, %s or %s",
			c.Mode, ModeSMTP, ModeGRPC, ModeGRPCBatch, ModeGRPCStream)
	}
	if target == "" {
		return fmt.Errorf("inject: %s is required in mode %s (host:port)", name, c.Mode)
	}
	if _, _, err := net.SplitHostPort(target); err != nil {
		return fmt.Errorf("inject: %s %q must be host:port: %w", name, target, err)
	}
	return nil
}

// Address returns recipient n of a run (counting across messages):
// <LocalPart><n>@d<n mod Domains>.test. Call it after SetDefaults.
func (c *Config) Address(n int64) string {
	return c.LocalPart + strconv.FormatInt(n, 10) + "@d" + strconv.FormatInt(n%int64(c.Domains), 10) + ".test"
}

// validText reports whether s is non-empty and free of CR and LF.
func validText(s string) bool {
	return s != "" && !strings.ContainsAny(s, "\r\n")
}

// validFieldName reports whether s is an RFC 5322 field name.
func validFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; b <= ' ' || b >= 0x7f || b == ':' {
			return false
		}
	}
	return true
}

// validLocalPart reports whether s is a non-empty dot-atom-ish prefix that
// needs no quoting in an address.
func validLocalPart(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', b == '-', b == '_', b == '.':
		default:
			return false
		}
	}
	return true
}
