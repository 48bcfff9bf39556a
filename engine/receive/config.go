package receive

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Defaults applied by [Config.SetDefaults] to zero-valued fields.
const (
	DefaultMaxMessageBytes     = 50 << 20 // 50 MiB
	DefaultMaxRecipients       = 1000
	DefaultMaxLineLength       = 1000 // RFC 5321 4.5.3.1.6, CRLF included
	DefaultMaxConnections      = 1000
	DefaultMaxConnectionsPerIP = 100
	DefaultCommandTimeout      = 5 * time.Minute
	DefaultDataTimeout         = 10 * time.Minute
	DefaultMinDataRate         = 1024 // bytes per second
	DefaultDataRateGrace       = 30 * time.Second
	DefaultSessionTimeout      = 30 * time.Minute
	DefaultMaxBadCommands      = 20
	DefaultMaxHeaderLines      = 1000
	DefaultMaxHops             = 50 // as Postfix's hopcount_limit
	DefaultMaxAuthFailures     = 3
	DefaultAuthFailuresPerIP   = 10
	DefaultAuthFailureWindow   = 15 * time.Minute
)

// AnyDomain in [User.FromDomains] lets the user send from any MAIL FROM domain,
// including the null reverse-path.
const AnyDomain = "*"

// User is an account that may authenticate with AUTH PLAIN or AUTH LOGIN.
type User struct {
	// Name is the SASL username. Required, unique, compared exactly.
	Name string
	// PasswordHash is the bcrypt hash of the password (see [HashPassword]). Required.
	PasswordHash string
	// FromDomains lists the MAIL FROM domains this user may use, compared
	// case-insensitively with the part after the last "@". Empty means the
	// user may send from no domain at all: authentication succeeds but every
	// MAIL FROM is refused with 553 5.7.1. [AnyDomain] ("*") allows any sender,
	// including the null reverse-path "<>"; no other entry allows "<>".
	FromDomains []string
}

// Config configures a [Server]. Zero values mean "use the default"; call
// [Config.SetDefaults] then [Config.Validate] (NewServer does both on a copy).
type Config struct {
	// Hostname is the name in the 220 banner, in Received: headers and in
	// generated Message-IDs. Default: os.Hostname(), or "localhost" if that fails.
	Hostname string
	// MaxMessageBytes caps the DATA/BDAT payload in bytes (after dot-unstuffing,
	// before the headers this server adds); it is advertised as SIZE.
	// Larger messages get 552 5.3.4. Default 50 MiB.
	MaxMessageBytes int64
	// MaxRecipients caps RCPT TO per transaction; the one beyond gets
	// 452 4.5.3. Default 1000.
	MaxRecipients int
	// MaxLineLength caps a command or DATA line in bytes, CRLF included.
	// A longer line closes the connection (500 5.4.0 on a command line,
	// 554 5.6.0 inside DATA). Default 1000 (RFC 5321). BDAT chunks are exempt.
	MaxLineLength int
	// RelayNetworks lists the client networks that may inject mail without
	// AUTH. Clients elsewhere must authenticate or get 554 5.7.1 at RCPT.
	// A /0 prefix is refused by Validate: this server is never an open relay.
	// Default: empty (AUTH required for everyone).
	RelayNetworks []netip.Prefix
	// LocalRecipient reports the recipients this server takes from any
	// client, without AUTH or a relay network: the addresses where bounces
	// and feedback-loop reports arrive. Nil: none.
	LocalRecipient func(addr string) bool
	// Users may authenticate with AUTH PLAIN / AUTH LOGIN. Default: none
	// (AUTH is then not advertised).
	Users []User
	// TLSConfig enables STARTTLS when non-nil. NewServer uses a clone whose
	// MinVersion is at least TLS 1.2: older versions are always refused.
	// Default nil: no STARTTLS.
	TLSConfig *tls.Config
	// AllowInsecureAuth allows AUTH on a connection without TLS. This is an
	// explicit opt-in for loopback testing; otherwise AUTH before STARTTLS
	// gets 538 5.7.11 and is not advertised. Default false.
	AllowInsecureAuth bool
	// MaxConnections caps concurrent connections across all listeners; the one
	// beyond gets "421 4.7.0" and is closed. Default 1000.
	MaxConnections int
	// MaxConnectionsPerIP caps concurrent connections from one client address;
	// the one beyond gets "421 4.7.0 Too many connections from your IP" and is
	// closed. Default 100.
	MaxConnectionsPerIP int
	// CommandTimeout is how long the server waits for each command line (and
	// for a STARTTLS handshake or an AUTH continuation); it is also the write
	// timeout of each reply. Expiry answers 421 4.4.2 and closes. Default 5m.
	CommandTimeout time.Duration
	// DataTimeout is an absolute deadline for the whole DATA phase, counted
	// from the moment the message payload starts. Expiry answers 421 4.4.2
	// and closes. Default 10m.
	DataTimeout time.Duration
	// MinDataRate is the minimum DATA throughput in bytes per second, averaged
	// from the start of the payload and enforced once DataRateGrace has passed
	// (slowloris defence). A slower client gets 421 4.4.2 and is closed.
	// Default 1024 B/s.
	MinDataRate int64
	// DataRateGrace is how long a DATA phase may run before MinDataRate is
	// enforced. Default 30s. (Tests shorten it.)
	DataRateGrace time.Duration
	// SessionTimeout is an absolute deadline for the whole connection,
	// counted from accept. Expiry answers 421 4.4.2 and closes. Default 30m.
	SessionTimeout time.Duration
	// MaxBadCommands is how many 5xx-answered commands a connection may
	// issue; reaching it answers 421 4.7.0 and closes. go-smtp independently
	// closes after 4 unknown or unparsable commands. Default 20.
	MaxBadCommands int
	// MaxHeaderLines caps the lines of a message's header block (fields and
	// their continuation lines, before this server adds its own). A message
	// with more gets 552 5.3.4: the header block is parsed into memory, and
	// this keeps that bounded. Default 1000.
	MaxHeaderLines int
	// MaxHops caps the Received: fields a message may already carry (RFC 5321
	// 6.3: a loop shows as a growing trace). A message with more gets
	// 554 5.4.6. Default 50.
	MaxHops int
	// MaxAuthFailures is how many failed AUTH attempts one connection may
	// make; the one that reaches it is answered 421 4.7.0 and the connection
	// closed. Default 3.
	MaxAuthFailures int
	// AuthFailuresPerIP is how many failed AUTH attempts one client address
	// may make within AuthFailureWindow, over all its connections. Reaching
	// it answers 421 4.7.0 and closes; until the window ends every AUTH from
	// that address gets the same. Default 10.
	AuthFailuresPerIP int
	// AuthFailureWindow is the period AuthFailuresPerIP counts over, from an
	// address's first failure. Default 15m.
	AuthFailureWindow time.Duration
	// Logger receives one record per connection and per message (never any
	// message content). Default slog.Default().
	Logger *slog.Logger
}

// SetDefaults fills zero-valued fields with their documented defaults.
func (c *Config) SetDefaults() {
	if c.Hostname == "" {
		c.Hostname = "localhost"
		if h, err := os.Hostname(); err == nil && h != "" {
			c.Hostname = h
		}
	}
	setDefault(&c.MaxMessageBytes, DefaultMaxMessageBytes)
	setDefault(&c.MaxRecipients, DefaultMaxRecipients)
	setDefault(&c.MaxLineLength, DefaultMaxLineLength)
	setDefault(&c.MaxConnections, DefaultMaxConnections)
	setDefault(&c.MaxConnectionsPerIP, DefaultMaxConnectionsPerIP)
	setDefault(&c.CommandTimeout, DefaultCommandTimeout)
	setDefault(&c.DataTimeout, DefaultDataTimeout)
	setDefault(&c.MinDataRate, DefaultMinDataRate)
	setDefault(&c.DataRateGrace, DefaultDataRateGrace)
	setDefault(&c.SessionTimeout, DefaultSessionTimeout)
	setDefault(&c.MaxBadCommands, DefaultMaxBadCommands)
	setDefault(&c.MaxHeaderLines, DefaultMaxHeaderLines)
	setDefault(&c.MaxHops, DefaultMaxHops)
	setDefault(&c.MaxAuthFailures, DefaultMaxAuthFailures)
	setDefault(&c.AuthFailuresPerIP, DefaultAuthFailuresPerIP)
	setDefault(&c.AuthFailureWindow, DefaultAuthFailureWindow)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

func setDefault[T int | int64 | time.Duration](p *T, v T) {
	if *p == 0 {
		*p = v
	}
}

// Validate reports every problem in c at once. It expects SetDefaults to
// have run.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("receive: "+format, args...))
	}
	if c.Hostname == "" || strings.ContainsAny(c.Hostname, " \t\r\n()<>@") {
		bad("hostname %q: must be a non-empty host name", c.Hostname)
	}
	positive := []struct {
		name string
		v    int64
	}{
		{"max_message_bytes", c.MaxMessageBytes},
		{"max_recipients", int64(c.MaxRecipients)},
		{"max_connections", int64(c.MaxConnections)},
		{"max_connections_per_ip", int64(c.MaxConnectionsPerIP)},
		{"command_timeout", int64(c.CommandTimeout)},
		{"data_timeout", int64(c.DataTimeout)},
		{"min_data_rate", c.MinDataRate},
		{"data_rate_grace", int64(c.DataRateGrace)},
		{"session_timeout", int64(c.SessionTimeout)},
		{"max_bad_commands", int64(c.MaxBadCommands)},
		{"max_header_lines", int64(c.MaxHeaderLines)},
		{"max_hops", int64(c.MaxHops)},
		{"max_auth_failures", int64(c.MaxAuthFailures)},
		{"auth_failures_per_ip", int64(c.AuthFailuresPerIP)},
		{"auth_failure_window", int64(c.AuthFailureWindow)},
	}
	for _, p := range positive {
		if p.v <= 0 {
			bad("%s = %d: must be positive", p.name, p.v)
		}
	}
	if c.MaxLineLength < 512 {
		bad("max_line_length = %d: must be at least 512 (RFC 5321 allows 1000)", c.MaxLineLength)
	}
	if c.MaxConnectionsPerIP > c.MaxConnections {
		bad("max_connections_per_ip (%d) exceeds max_connections (%d)", c.MaxConnectionsPerIP, c.MaxConnections)
	}
	for _, p := range c.RelayNetworks {
		switch {
		case !p.IsValid():
			bad("relay network %v: invalid prefix", p)
		case p.Bits() == 0:
			bad("relay network %v: a /0 relay network would make this an open relay; list the injecting hosts' networks", p)
		}
	}
	seen := make(map[string]bool, len(c.Users))
	for i, u := range c.Users {
		switch {
		case u.Name == "":
			bad("user #%d: empty name", i+1)
		case seen[u.Name]:
			bad("user %q: listed twice", u.Name)
		}
		seen[u.Name] = true
		if _, err := bcrypt.Cost([]byte(u.PasswordHash)); err != nil {
			bad("user %q: password_hash is not a bcrypt hash (make one with HashPassword / `sluice` CLI): %v", u.Name, err)
		}
		for _, d := range u.FromDomains {
			if d == "" || strings.ContainsAny(d, "@ \t<>") {
				bad("user %q: from_domains entry %q: want a bare domain like example.com, or %q", u.Name, d, AnyDomain)
			}
		}
	}
	return errors.Join(errs...)
}

// HashPassword returns the bcrypt hash (default cost) of plain, for
// [User.PasswordHash].
func HashPassword(plain string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(plain), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("receive: hash password: %w", err)
	}
	return string(h), nil
}
