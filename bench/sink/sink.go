package sink

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

// ErrClosed is returned by Serve and ListenAndServe when the Sink was already
// closed.
var ErrClosed = errors.New("sink: closed")

// Sink is an SMTP server that accepts every message and counts it, or
// answers RCPT as scripted by the recipient's local part (see Behaviour).
// Its methods are safe for concurrent use.
type Sink struct {
	cfg   Config
	log   *slog.Logger
	srv   *smtp.Server
	stats counters
	dups  delivered // used only with cfg.TrackDuplicates

	// reply decides the reply to RCPT and DATA; nil accepts everything.
	// New sets it to &script; set before the first Serve and never changed
	// after (see replier).
	reply  replier
	script script

	// prof is the live Profile; nil without one.
	prof *profileState
	// peers counts open connections per client IP, for Stats.Peers and
	// Limits.MaxConnectionsPerIP.
	peers peerTable

	// done is closed by Close; it cuts Slow delays short.
	done chan struct{}

	// conns counts connections that are open; Close waits for it to drain.
	conns sync.WaitGroup

	mu struct {
		sync.Mutex
		closed    bool
		listeners map[net.Listener]struct{}
		conns     map[*conn]struct{}
	}
}

// New returns a Sink configured by cfg (zero fields take their defaults).
// It does not listen: call Serve or ListenAndServe.
func New(cfg Config) *Sink {
	cfg.SetDefaults()
	s := &Sink{cfg: cfg, log: cfg.Logger, done: make(chan struct{})}
	s.stats.init()
	s.dups.init()
	s.script.init(&cfg, s.done)
	s.reply = &s.script
	s.peers.init()
	if cfg.Profile != nil {
		s.prof = newProfileState(cfg.Profile)
	}
	s.mu.listeners = make(map[net.Listener]struct{})
	s.mu.conns = make(map[*conn]struct{})

	srv := smtp.NewServer(backend{s})
	srv.Domain = cfg.Hostname
	srv.MaxMessageBytes = cfg.MaxMessageBytes
	srv.ReadTimeout = cfg.Timeout
	srv.WriteTimeout = cfg.Timeout
	srv.EnableSMTPUTF8 = true // PIPELINING, 8BITMIME, ENHANCEDSTATUSCODES are always on
	srv.ErrorLog = smtpLogger{s.log}
	s.srv = srv
	return s
}

// Serve accepts SMTP connections on l until Close. It may be called for
// several listeners at once; they share the counters. It returns nil once
// Close stops it, ErrClosed if the Sink was closed before, or the listener's
// error.
func (s *Sink) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.mu.listeners[l] = struct{}{}
	s.mu.Unlock()
	s.log.Info("sink listening", "addr", l.Addr().String())

	err := s.srv.Serve(&listener{Listener: l, s: s})

	s.mu.Lock()
	closed := s.mu.closed
	delete(s.mu.listeners, l)
	s.mu.Unlock()
	if closed {
		return nil
	}
	return fmt.Errorf("sink: serve %s: %w", l.Addr(), err)
}

// ListenAndServe listens on the TCP address addr ("127.0.0.1:2525") and
// serves it like Serve.
func (s *Sink) ListenAndServe(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("sink: listen %s: %w", addr, err)
	}
	return s.Serve(l)
}

// Close stops every listener, closes every connection and waits for their
// goroutines to finish. Counters stay readable.
func (s *Sink) Close() error {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return nil
	}
	s.mu.closed = true
	close(s.done)
	var err error
	for l := range s.mu.listeners {
		if cerr := l.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) && err == nil {
			err = cerr
		}
	}
	open := make([]*conn, 0, len(s.mu.conns))
	for c := range s.mu.conns {
		open = append(open, c)
	}
	s.mu.Unlock()
	for _, c := range open { // outside s.mu: conn.Close takes it
		c.Close()
	}

	// NB: go-smtp closes the connections it has registered; ours above covers
	// one accepted but not yet registered. Its Close fails only when already
	// closed, and its listeners are ours, already closed.
	_ = s.srv.Close()
	s.conns.Wait()
	if err != nil {
		return fmt.Errorf("sink: close: %w", err)
	}
	return nil
}

// listener counts and tracks accepted connections.
type listener struct {
	net.Listener
	s *Sink
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if c := l.admit(nc); c != nil {
			return c, nil
		}
		if l.s.isClosed() {
			return nil, net.ErrClosed
		}
	}
}

// admit wraps an accepted connection and counts it, or refuses it (nil):
// when the Sink is closed, or with 421 when its IP is at
// Limits.MaxConnectionsPerIP.
func (l *listener) admit(nc net.Conn) *conn {
	s := l.s
	peer := peerOf(nc)
	maxPerIP := 0
	if s.prof != nil {
		maxPerIP = s.prof.p.Limits.MaxConnectionsPerIP
	}
	if !s.peers.open(peer, maxPerIP) {
		s.refuseConn(nc)
		return nil
	}
	c := &conn{Conn: nc, s: s, peer: peer, seq: s.stats.connections.Add(1)}
	if s.prof != nil {
		c.rng = s.prof.connRNG(c.seq)
	}
	s.stats.openConn()

	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		s.stats.active.Add(-1)
		s.peers.close(peer)
		nc.Close()
		return nil
	}
	s.mu.conns[c] = struct{}{}
	s.conns.Add(1)
	s.mu.Unlock()
	return c
}

// refuseConn answers a connection over the per-IP cap with the profile's
// 421 and closes it. NB: the reply is a few dozen bytes into a new socket's
// empty send buffer, so the write does not hold up the accept loop; a
// deadline bounds it anyway.
func (s *Sink) refuseConn(nc net.Conn) {
	r := s.prof.p.Limits.ConnectionsReply
	_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = fmt.Fprintf(nc, "%d %s\r\n", r.Code, replyLine(r))
	nc.Close()
	s.stats.shards[0].count(r.Code)
}

// replyLine is a Reply's text after its code: "4.7.0 text".
func replyLine(r Reply) string {
	if r.Enhanced == [3]int{} {
		return r.Text
	}
	return fmt.Sprintf("%d.%d.%d %s", r.Enhanced[0], r.Enhanced[1], r.Enhanced[2], r.Text)
}

func (s *Sink) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.closed
}

// conn is an accepted connection; its first Close does the bookkeeping.
type conn struct {
	net.Conn
	s      *Sink
	seq    int64  // 1-based accept order, picks the stats shard
	peer   string // client IP, for Sink.peers
	closed atomic.Bool

	// The fields below belong to the connection's goroutine (go-smtp's
	// session and the writes it makes).

	// rng draws the profile's delays; nil without a profile.
	rng *rand.Rand
	// greeted is set once the greeting was written (after its delay).
	greeted bool
	// msgs counts messages accepted on the connection, for
	// Limits.MaxMessagesPerConnection.
	msgs int

	// reads counts Read calls. Only the connection's goroutine reads, and
	// only it looks at reads (session.Mail and Data), so it is a plain int.
	reads int64

	// closeAfterWrite makes the next Write close the connection once it has
	// written: the session arms it when it answers 421, so that go-smtp
	// writes the reply and then finds the connection gone.
	// NB: go-smtp flushes each reply with one Write (they are far smaller
	// than its 4 KiB buffer), so "the next Write" is the whole 421 reply.
	closeAfterWrite atomic.Bool
}

func (c *conn) Read(b []byte) (int, error) {
	c.reads++
	return c.Conn.Read(b)
}

func (c *conn) Write(b []byte) (int, error) {
	if !c.greeted {
		c.greeted = true // the first write is the greeting
		if c.rng != nil {
			c.s.pause(c.s.prof.p.Latency[CmdConnect].Sample(c.rng))
		}
	}
	n, err := c.Conn.Write(b)
	if c.closeAfterWrite.Load() {
		c.Close()
	}
	return n, err
}

func (c *conn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	err := c.Conn.Close()
	c.s.stats.active.Add(-1)
	c.s.peers.close(c.peer)
	c.s.mu.Lock()
	delete(c.s.mu.conns, c)
	c.s.mu.Unlock()
	c.s.conns.Done()
	return err
}

// smtpLogger adapts go-smtp's Printf logger to slog. go-smtp reports accept
// errors and connections that end in an error (a peer resetting, say): noise
// for a sink, so Debug.
type smtpLogger struct{ l *slog.Logger }

func (g smtpLogger) Printf(format string, v ...any) {
	g.l.Debug("sink: smtp server", "detail", fmt.Sprintf(format, v...))
}

func (g smtpLogger) Println(v ...any) {
	g.l.Debug("sink: smtp server", "detail", fmt.Sprint(v...))
}
