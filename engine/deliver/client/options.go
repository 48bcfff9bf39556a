package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// TLSPolicy says what Dial does about STARTTLS.
type TLSPolicy int

const (
	// TLSOpportunistic (the default) uses STARTTLS when the server offers it
	// and goes on in plain text when it does not, when it refuses the
	// command, or when the handshake fails (Dial then redials and does not
	// try TLS again; see Conn.TLSFailure). With a nil Options.TLSConfig the
	// certificate is not verified (RFC 7435: encryption against passive
	// eavesdropping beats no encryption).
	TLSOpportunistic TLSPolicy = iota
	// TLSRequire fails Dial when the server does not offer STARTTLS, refuses
	// it, or the handshake fails. With a nil Options.TLSConfig the
	// certificate is verified against the system roots and the server name.
	TLSRequire
	// TLSOff never sends STARTTLS.
	TLSOff
)

func (p TLSPolicy) String() string {
	switch p {
	case TLSOpportunistic:
		return "opportunistic"
	case TLSRequire:
		return "require"
	case TLSOff:
		return "off"
	}
	return fmt.Sprintf("TLSPolicy(%d)", int(p))
}

// Options configure Dial and the resulting Conn. The zero value plus HELO is
// valid: SetDefaults fills every other field. Timeouts follow RFC 5321
// 4.5.3.2; each bounds one wait for one reply (or, for DataBlockTimeout, one
// write of a block of message data), and a context deadline, when earlier,
// wins.
type Options struct {
	// HELO is the name sent in EHLO/HELO: the fully qualified name of the
	// source IP (its PTR). Required; no spaces or control characters.
	HELO string
	// TLS is the STARTTLS policy. Default TLSOpportunistic.
	TLS TLSPolicy
	// TLSConfig is used for STARTTLS. It is cloned, its ServerName is set
	// to Dial's serverName when empty, and its MinVersion raised to TLS 1.2
	// when lower. Nil means the policy's default (see
	// TLSOpportunistic and TLSRequire).
	TLSConfig *tls.Config
	// LocalAddr is the source IP to bind. The zero (invalid) Addr lets the
	// kernel choose. Ignored when Dialer is set.
	LocalAddr netip.Addr
	// Dialer opens the TCP connection. Default: a net.Dialer bound to
	// LocalAddr. Tests pass one that wraps the net.Conn.
	Dialer func(ctx context.Context, network, addr string) (net.Conn, error)

	// ConnectTimeout bounds the TCP connect. Default 30s (RFC 5321 sets none).
	ConnectTimeout time.Duration
	// GreetingTimeout bounds the wait for the 220 greeting. Default 5m.
	GreetingTimeout time.Duration
	// CommandTimeout bounds EHLO, HELO, STARTTLS and the TLS handshake.
	// Default 5m.
	CommandTimeout time.Duration
	// MailTimeout bounds the wait for the reply to MAIL FROM. Default 5m.
	MailTimeout time.Duration
	// RcptTimeout bounds the wait for each RCPT TO reply. Default 5m.
	RcptTimeout time.Duration
	// DataInitTimeout bounds the wait for the reply to DATA (354). Default 2m.
	DataInitTimeout time.Duration
	// DataBlockTimeout bounds each write of message data (a block of up to
	// the write buffer size, 64 KiB) and of the command group. Default 3m.
	DataBlockTimeout time.Duration
	// DataTermTimeout bounds the wait for the reply after the final ".".
	// Default 10m.
	DataTermTimeout time.Duration
	// ResetTimeout bounds the reply to RSET and QUIT. Default 1m (RFC 5321
	// sets none; a healthy server answers at once and a pool must not hang on
	// a dead one).
	ResetTimeout time.Duration

	// NoChunking turns BDAT off. By default a message of up to MaxChunk
	// bytes goes to a server that offers CHUNKING and PIPELINING as one
	// "BDAT n LAST" chunk in the same write as MAIL and RCPT (RFC 3030): one
	// round trip per transaction instead of two, and no dot-stuffing.
	NoChunking bool
}

// MaxChunk is the largest message sent with BDAT; bigger ones use DATA, so
// that a chunk never has to be held in memory whole beyond this size.
const MaxChunk = 8 << 20

// SetDefaults fills every zero field with its documented default.
func (o *Options) SetDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.ConnectTimeout, 30*time.Second)
	def(&o.GreetingTimeout, 5*time.Minute)
	def(&o.CommandTimeout, 5*time.Minute)
	def(&o.MailTimeout, 5*time.Minute)
	def(&o.RcptTimeout, 5*time.Minute)
	def(&o.DataInitTimeout, 2*time.Minute)
	def(&o.DataBlockTimeout, 3*time.Minute)
	def(&o.DataTermTimeout, 10*time.Minute)
	def(&o.ResetTimeout, time.Minute)
	if o.Dialer == nil {
		d := &net.Dialer{}
		if o.LocalAddr.IsValid() {
			d.LocalAddr = &net.TCPAddr{IP: o.LocalAddr.AsSlice(), Zone: o.LocalAddr.Zone()}
		}
		o.Dialer = d.DialContext
	}
}

// Validate reports what is wrong with the options, if anything.
func (o *Options) Validate() error {
	if o.HELO == "" {
		return errors.New("client: Options.HELO is empty: set it to the source IP's host name")
	}
	if strings.ContainsFunc(o.HELO, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("client: Options.HELO %q contains a space or control character", o.HELO)
	}
	if o.TLS < TLSOpportunistic || o.TLS > TLSOff {
		return fmt.Errorf("client: Options.TLS: unknown policy %d", int(o.TLS))
	}
	return nil
}
