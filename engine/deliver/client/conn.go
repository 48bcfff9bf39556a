package client

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

const writeBufSize = 64 << 10

// Conn is one SMTP session, after greeting, EHLO and (maybe) STARTTLS.
//
// A Conn is owned by one goroutine: its methods must not be called
// concurrently, except Close, which may be called from anywhere to abort an
// operation in progress. Once a method returned an error, or the server sent
// 421, the Conn is dead (Err is non-nil) and every further call fails with
// ErrClosed.
type Conn struct {
	raw  net.Conn // the TCP connection; deadlines are set here
	nc   net.Conn // raw, or the tls.Conn over it
	rr   replyReader
	w    *bufio.Writer
	opts Options

	ext      map[string]string
	pipe     bool  // PIPELINING
	bit8     bool  // 8BITMIME
	utf8     bool  // SMTPUTF8
	dsn      bool  // DSN
	chunking bool  // CHUNKING (BDAT)
	maxSize  int64 // SIZE; 0 = none advertised
	isTLS    bool
	tlsState tls.ConnectionState
	tlsErr   error

	// dirty is set when the server may hold transaction state (a MAIL was
	// accepted but the transaction did not end with a reply after data):
	// the next Send puts RSET in front of MAIL.
	dirty bool

	buf   []byte // body read buffer, allocated on first use
	chunk []byte // a BDAT chunk being built (see sendChunked)

	ctx    context.Context // of the operation in progress
	err    error           // why the Conn is dead; nil while usable
	closed atomic.Bool
}

// Dial connects to addr ("host:port"), reads the greeting, sends EHLO
// (HELO when EHLO gets a 5xx), applies opts.TLS and sends EHLO again after
// STARTTLS. serverName is the MX host name, used for TLS SNI and
// verification; empty means the host part of addr.
//
// With TLSOpportunistic, a failed handshake makes Dial close the connection,
// dial again and go on in plain text; the Conn then reports TLS() false and
// the handshake error in TLSFailure. A refusal reply (greeting other than 220,
// EHLO and HELO refused, STARTTLS refused under TLSRequire) is a *ReplyError.
func Dial(ctx context.Context, addr, serverName string, opts Options) (*Conn, error) {
	opts.SetDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if serverName == "" {
		serverName, _, _ = net.SplitHostPort(addr)
	}
	c, err := dial(ctx, addr, serverName, opts, opts.TLS)
	var hs *handshakeError
	if opts.TLS == TLSOpportunistic && errors.As(err, &hs) {
		c, err = dial(ctx, addr, serverName, opts, TLSOff)
		if c != nil {
			c.tlsErr = hs.err
		}
	}
	return c, err
}

// handshakeError marks a failed TLS handshake, after which the connection is
// unusable and only a fresh one can go on in plain text.
type handshakeError struct{ err error }

func (e *handshakeError) Error() string { return "client: TLS handshake: " + e.err.Error() }
func (e *handshakeError) Unwrap() error { return e.err }

func dial(ctx context.Context, addr, serverName string, opts Options, policy TLSPolicy) (*Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, opts.ConnectTimeout)
	nc, err := opts.Dialer(dctx, "tcp", addr)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("client: connect %s: %w", addr, err)
	}
	c := &Conn{raw: nc, opts: opts}
	c.setConn(nc)
	stop := c.begin(ctx)
	err = c.open(serverName, policy)
	c.end(stop)
	if err == nil && c.err != nil {
		err = c.err
	}
	if err != nil {
		c.fail(err)
		return nil, fmt.Errorf("client: %s: %w", addr, err)
	}
	return c, nil
}

// open runs greeting, EHLO and STARTTLS.
func (c *Conn) open(serverName string, policy TLSPolicy) error {
	if err := c.arm(c.opts.GreetingTimeout); err != nil {
		return err
	}
	greet, err := c.rr.read()
	if err != nil {
		return fmt.Errorf("read greeting: %w", err)
	}
	if greet.Code != 220 {
		return &ReplyError{Command: "greeting", Reply: greet}
	}
	if err := c.hello(); err != nil {
		return err
	}
	if policy == TLSOff {
		return nil
	}
	if _, ok := c.ext["STARTTLS"]; !ok {
		if policy == TLSRequire {
			return ErrTLSRequired
		}
		return nil
	}
	return c.startTLS(serverName, policy)
}

func (c *Conn) setConn(nc net.Conn) {
	c.nc = nc
	c.rr.r = bufio.NewReaderSize(nc, readBufSize)
	c.w = bufio.NewWriterSize(deadlineWriter{c}, writeBufSize)
}

// hello sends EHLO, or HELO when EHLO gets a 5xx, and records the extensions.
func (c *Conn) hello() error {
	r, err := c.cmd(c.opts.CommandTimeout, "EHLO ", c.opts.HELO)
	if err != nil {
		return err
	}
	if r.Permanent() {
		if r, err = c.cmd(c.opts.CommandTimeout, "HELO ", c.opts.HELO); err != nil {
			return err
		}
		if !r.Positive() {
			return &ReplyError{Command: "HELO", Reply: r}
		}
		c.setExtensions("")
		return nil
	}
	if !r.Positive() {
		return &ReplyError{Command: "EHLO", Reply: r}
	}
	c.setExtensions(r.Text)
	return nil
}

// setExtensions parses an EHLO reply text: the first line is the server's
// greeting, each further line "KEYWORD [params]".
func (c *Conn) setExtensions(text string) {
	c.ext = make(map[string]string)
	c.pipe, c.bit8, c.utf8, c.dsn, c.chunking, c.maxSize = false, false, false, false, false, 0
	lines := strings.Split(text, "\n")
	for _, line := range lines[1:] {
		kw, param, _ := strings.Cut(strings.TrimSpace(line), " ")
		if kw == "" {
			continue
		}
		kw = strings.ToUpper(kw)
		c.ext[kw] = param
		switch kw {
		case "PIPELINING":
			c.pipe = true
		case "8BITMIME":
			c.bit8 = true
		case "SMTPUTF8":
			c.utf8 = true
		case "DSN":
			c.dsn = true
		case "CHUNKING":
			c.chunking = true
		case "SIZE":
			if n, err := strconv.ParseInt(strings.TrimSpace(param), 10, 64); err == nil && n > 0 {
				c.maxSize = n
			}
		}
	}
}

// startTLS sends STARTTLS, handshakes and says EHLO again.
func (c *Conn) startTLS(serverName string, policy TLSPolicy) error {
	r, err := c.cmd(c.opts.CommandTimeout, "STARTTLS", "")
	if err != nil {
		return err
	}
	if r.Code != 220 {
		if policy == TLSRequire {
			return &ReplyError{Command: "STARTTLS", Reply: r}
		}
		return nil // opportunistic: go on in plain text
	}
	// NB: anything the server sent after its 220 came in plain text and
	// would be read as if it came through TLS (CVE-2011-0411 in reverse).
	if c.rr.r.Buffered() > 0 {
		return fmt.Errorf("%w: data pipelined after 220 to STARTTLS", ErrProtocol)
	}
	cfg := c.tlsConfig(serverName, policy)
	tc := tls.Client(c.raw, cfg)
	if err := c.arm(c.opts.CommandTimeout); err != nil {
		return err
	}
	if err := tc.HandshakeContext(c.ctx); err != nil {
		return &handshakeError{err: err}
	}
	c.setConn(tc)
	c.isTLS, c.tlsState = true, tc.ConnectionState()
	return c.hello()
}

func (c *Conn) tlsConfig(serverName string, policy TLSPolicy) *tls.Config {
	var cfg *tls.Config
	if c.opts.TLSConfig != nil {
		cfg = c.opts.TLSConfig.Clone()
	} else {
		cfg = &tls.Config{InsecureSkipVerify: policy == TLSOpportunistic} //nolint:gosec // RFC 7435 opportunistic TLS
	}
	if cfg.ServerName == "" {
		cfg.ServerName = serverName
	}
	// NB: TLS below 1.2 is never spoken, whatever the caller's config (or a
	// GODEBUG) says: under TLSOpportunistic such a server gets plain text,
	// which at least does not pretend to be protected.
	cfg.MinVersion = max(cfg.MinVersion, tls.VersionTLS12)
	return cfg
}

// cmd sends one command line (verb+arg) and reads its reply (lockstep).
func (c *Conn) cmd(timeout time.Duration, verb, arg string) (Reply, error) {
	c.w.WriteString(verb)
	c.w.WriteString(arg)
	c.w.WriteString("\r\n")
	if err := c.flush(); err != nil {
		return Reply{}, fmt.Errorf("write %s: %w", strings.TrimSpace(verb), err)
	}
	return c.readReply(timeout, verb)
}

func (c *Conn) flush() error {
	if err := c.arm(c.opts.DataBlockTimeout); err != nil {
		return err
	}
	return c.ctxErr(c.w.Flush())
}

// readReply reads one reply within timeout. what names the command in errors.
func (c *Conn) readReply(timeout time.Duration, what string) (Reply, error) {
	if err := c.arm(timeout); err != nil {
		return Reply{}, err
	}
	r, err := c.rr.read()
	if err != nil {
		return r, fmt.Errorf("read %s reply: %w", strings.TrimSpace(what), c.ctxErr(err))
	}
	return r, nil
}

// Deadlines. arm sets the read and write deadline to now+d, or to the
// operation's context deadline when that is earlier, and then reports a
// context that is already done: checking after setting closes the race with
// the AfterFunc in begin, whose deadline in the past would otherwise be
// overwritten.
func (c *Conn) arm(d time.Duration) error {
	t := time.Now().Add(d)
	if c.ctx != nil {
		if dl, ok := c.ctx.Deadline(); ok && dl.Before(t) {
			t = dl
		}
	}
	c.raw.SetDeadline(t)
	if c.ctx != nil {
		return c.ctx.Err()
	}
	return nil
}

// begin makes ctx the operation's context: cancelling it aborts blocked I/O.
// end must be called with begin's result when the operation ends.
func (c *Conn) begin(ctx context.Context) (stop func() bool) {
	c.ctx = ctx
	if ctx.Done() == nil {
		return nil
	}
	return context.AfterFunc(ctx, func() { c.raw.SetDeadline(time.Unix(1, 0)) })
}

func (c *Conn) end(stop func() bool) {
	ctx := c.ctx
	c.ctx = nil
	if stop != nil && !stop() && c.err == nil {
		// The AfterFunc ran (or runs): the connection's deadline is in the
		// past and may land after the next operation arms its own. The
		// operation finished anyway; retire the Conn.
		c.fail(ctx.Err())
	}
}

// ctxErr prefers the context's error over the timeout it caused.
func (c *Conn) ctxErr(err error) error {
	if err != nil && c.ctx != nil && c.ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", c.ctx.Err(), err)
	}
	return err
}

// deadlineWriter re-arms the deadline before each write to the network, so
// that DataBlockTimeout bounds each block of message data.
type deadlineWriter struct{ c *Conn }

func (w deadlineWriter) Write(p []byte) (int, error) {
	if err := w.c.arm(w.c.opts.DataBlockTimeout); err != nil {
		return 0, err
	}
	return w.c.nc.Write(p)
}

// fail retires the Conn: it closes the connection and remembers why.
func (c *Conn) fail(err error) {
	if c.err == nil {
		c.err = fmt.Errorf("%w: %w", ErrClosed, err)
	}
	c.closed.Store(true)
	c.raw.Close() // not c.nc: a TLS close_notify could block on a dead peer
}

// usable returns ErrClosed (wrapped) when the Conn must not be used.
func (c *Conn) usable() error {
	if c.err != nil {
		return c.err
	}
	if c.closed.Load() {
		c.err = fmt.Errorf("%w: closed by Close", ErrClosed)
		return c.err
	}
	return nil
}

// Err returns nil while the Conn is usable, and why it is not once it failed,
// got a 421, or was closed. A pool checks it before reusing a Conn.
func (c *Conn) Err() error {
	_ = c.usable()
	return c.err
}

// Extensions returns the EHLO keywords (upper case) and their parameters, as
// of the last EHLO (after STARTTLS, that one). Empty after a HELO fallback.
// The map must not be modified.
func (c *Conn) Extensions() map[string]string { return c.ext }

// TLS reports whether the session runs over TLS.
func (c *Conn) TLS() bool { return c.isTLS }

// TLSState returns the TLS connection state; ok is false in plain text.
func (c *Conn) TLSState() (state tls.ConnectionState, ok bool) { return c.tlsState, c.isTLS }

// TLSFailure returns the handshake error when, under TLSOpportunistic, Dial
// fell back to plain text after a failed handshake; nil otherwise. A pool may
// remember it to skip STARTTLS at that host for a while.
func (c *Conn) TLSFailure() error { return c.tlsErr }

// RemoteAddr returns the server's address.
func (c *Conn) RemoteAddr() net.Addr { return c.raw.RemoteAddr() }

// LocalAddr returns the source address of the connection.
func (c *Conn) LocalAddr() net.Addr { return c.raw.LocalAddr() }

// MaxSize returns the server's SIZE limit in bytes, 0 when it advertised none.
func (c *Conn) MaxSize() int64 { return c.maxSize }

// Pipelining reports whether the server advertised PIPELINING.
func (c *Conn) Pipelining() bool { return c.pipe }

// Reset sends RSET and waits for its 2xx. Send does not need it (it puts RSET
// in front of MAIL by itself when the previous transaction left state behind);
// a pool may call it to check that an idle Conn is still alive before reuse.
// Any failure, including a non-2xx reply, retires the Conn.
func (c *Conn) Reset(ctx context.Context) error {
	if err := c.usable(); err != nil {
		return err
	}
	defer c.end(c.begin(ctx))
	r, err := c.cmd(c.opts.ResetTimeout, "RSET", "")
	if err == nil && !r.Positive() {
		err = &ReplyError{Command: "RSET", Reply: r}
	}
	if err != nil {
		c.fail(err)
		return fmt.Errorf("client: %w", err)
	}
	c.dirty = false
	return nil
}

// Quit sends QUIT, waits up to ResetTimeout for the reply and closes the
// connection. The reply's code is not checked: the session is over either way.
func (c *Conn) Quit() error {
	if err := c.usable(); err != nil {
		return err
	}
	_, err := c.cmd(c.opts.ResetTimeout, "QUIT", "")
	c.fail(errors.New("quit"))
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	return nil
}

// Close closes the connection without QUIT. It is safe to call from another
// goroutine, to abort an operation in progress, and more than once.
func (c *Conn) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	return c.raw.Close()
}
