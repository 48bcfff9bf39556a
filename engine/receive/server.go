package receive

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

// ErrServerClosed is returned by Serve and ListenAndServe after Shutdown.
var ErrServerClosed = errors.New("receive: server closed")

// Server is the SMTP injection listener. Create it with [NewServer]; it may
// serve several listeners at once, sharing its connection limits.
type Server struct {
	cfg   Config // immutable after NewServer
	sub   Submitter
	log   *slog.Logger
	smtp  *smtp.Server
	users map[string]*User
	// dummyHash is compared against for unknown user names (see checkPassword).
	dummyHash []byte
	auth      *authLimiter // failed AUTH per client address

	// baseCtx is the parent of every Submit context; cancelled when
	// Shutdown gives up waiting.
	baseCtx context.Context
	cancel  context.CancelFunc

	draining atomic.Bool
	rejects  sync.WaitGroup // goroutines answering over-limit connections

	mu struct {
		sync.Mutex
		listeners []net.Listener
		total     int
		perIP     map[netip.Addr]int
		conns     map[*limitedConn]struct{}
	}
}

// NewServer validates cfg (after applying defaults to a copy) and returns a
// Server that hands accepted mail to sub.
func NewServer(cfg Config, sub Submitter) (*Server, error) {
	if sub == nil {
		return nil, errors.New("receive: nil Submitter")
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, sub: sub, log: cfg.Logger.With(slog.String("component", "receive"))}
	s.users = make(map[string]*User, len(cfg.Users))
	for i := range cfg.Users {
		s.users[cfg.Users[i].Name] = &cfg.Users[i]
	}
	if len(cfg.Users) > 0 {
		s.dummyHash = newDummyHash(cfg.Users)
	}
	s.auth = newAuthLimiter(cfg.AuthFailuresPerIP, cfg.AuthFailureWindow)
	s.mu.perIP = make(map[netip.Addr]int)
	s.mu.conns = make(map[*limitedConn]struct{})
	s.baseCtx, s.cancel = context.WithCancel(context.Background())

	ss := smtp.NewServer(backend{s})
	ss.Domain = cfg.Hostname
	ss.MaxMessageBytes = cfg.MaxMessageBytes
	ss.MaxRecipients = cfg.MaxRecipients
	ss.MaxLineLength = cfg.MaxLineLength
	if tc := cfg.TLSConfig; tc != nil && tc.MinVersion < tls.VersionTLS12 {
		tc = tc.Clone()
		tc.MinVersion = tls.VersionTLS12
		cfg.TLSConfig, s.cfg.TLSConfig = tc, tc
	}
	ss.TLSConfig = cfg.TLSConfig
	// NB: go-smtp answers AUTH without TLS with "523 5.7.10"; we want 538 5.7.11,
	// so go-smtp always lets AUTH through and session.Auth enforces the rule.
	ss.AllowInsecureAuth = true
	ss.ReadTimeout = cfg.CommandTimeout
	ss.WriteTimeout = cfg.CommandTimeout
	ss.EnableSMTPUTF8 = true
	ss.EnableDSN = true
	ss.ErrorLog = errorLog{s.log}
	s.smtp = ss
	return s, nil
}

// Serve accepts connections on l until Shutdown. It returns ErrServerClosed
// after Shutdown, or the listener's error.
func (s *Server) Serve(l net.Listener) error {
	if s.draining.Load() {
		return ErrServerClosed
	}
	ll := &limitListener{Listener: l, srv: s}
	s.mu.Lock()
	s.mu.listeners = append(s.mu.listeners, l)
	s.mu.Unlock()
	err := s.smtp.Serve(ll)
	if err == nil || s.draining.Load() {
		return ErrServerClosed
	}
	return fmt.Errorf("receive: serve %v: %w", l.Addr(), err)
}

// ListenAndServe listens on the TCP address addr and calls Serve.
func (s *Server) ListenAndServe(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("receive: listen %s: %w", addr, err)
	}
	return s.Serve(l)
}

// Addr returns the address of the first listener being served, or nil
// before Serve has been called.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.mu.listeners) == 0 {
		return nil
	}
	return s.mu.listeners[0].Addr()
}

// Shutdown stops accepting connections, ends every connection that is
// waiting for a command (421), lets transactions in DATA or Submit finish,
// and waits for all connections to close. When ctx ends first it cancels the
// pending Submit calls, closes every connection and returns ctx.Err().
func (s *Server) Shutdown(ctx context.Context) error {
	if s.draining.Swap(true) {
		return ErrServerClosed
	}
	s.mu.Lock()
	for c := range s.mu.conns {
		c.interrupt()
	}
	s.mu.Unlock()

	err := s.smtp.Shutdown(ctx)
	if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
		s.mu.Lock()
		conns := make([]*limitedConn, 0, len(s.mu.conns))
		for c := range s.mu.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}
	// NB: after the connections are closed, so that a cancelled Submit can
	// no longer answer anything.
	s.cancel()
	s.rejects.Wait()
	if err != nil {
		return fmt.Errorf("receive: shutdown: %w", err)
	}
	return nil
}

// admit takes a connection slot for raw and wraps it, or returns the reply
// that refuses it. NB: checking the caps and tracking the connection happen
// under one lock, so Shutdown's interrupt sweep cannot miss a connection.
func (s *Server) admit(raw net.Conn, ip netip.Addr) (*limitedConn, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.draining.Load():
		return nil, "421 4.3.2 Service shutting down, try again later"
	case s.unhealthy():
		return nil, "421 4.3.0 Mail storage unavailable, try again later"
	case s.mu.total >= s.cfg.MaxConnections:
		return nil, "421 4.7.0 Too many connections, try again later"
	case ip.IsValid() && s.mu.perIP[ip] >= s.cfg.MaxConnectionsPerIP:
		return nil, "421 4.7.0 Too many connections from your IP, try again later"
	}
	s.mu.total++
	if ip.IsValid() {
		s.mu.perIP[ip]++
	}
	c := newLimitedConn(raw, s, ip, time.Now())
	s.mu.conns[c] = struct{}{}
	return c, ""
}

// unhealthy reports whether the Submitter says its store is failing.
func (s *Server) unhealthy() bool {
	h, ok := s.sub.(Healther)
	return ok && h.Healthy() != nil
}

// release gives back c's connection slots; limitedConn.Close calls it once.
func (s *Server) release(c *limitedConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.mu.conns, c)
	s.mu.total--
	if c.ip.IsValid() {
		if s.mu.perIP[c.ip]--; s.mu.perIP[c.ip] <= 0 {
			delete(s.mu.perIP, c.ip)
		}
	}
}

// refuse answers an over-limit connection with reply and closes it, without
// holding up Accept.
func (s *Server) refuse(raw net.Conn, ip netip.Addr, reply string) {
	s.log.Warn("smtp connection refused", slog.String("client_ip", ip.String()), slog.String("reply", reply))
	s.rejects.Add(1)
	go func() {
		defer s.rejects.Done()
		_ = raw.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_, _ = raw.Write([]byte(reply + "\r\n"))
		_ = raw.Close()
	}()
}

// limitListener applies the connection caps at accept time and wraps each
// admitted connection in a limitedConn.
type limitListener struct {
	net.Listener
	srv *Server
}

// Accept returns the next admitted connection; refused ones are answered
// with 421 and closed here, and never reach go-smtp.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		raw, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(raw)
		c, reply := l.srv.admit(raw, ip)
		if reply != "" {
			l.srv.refuse(raw, ip, reply)
			continue
		}
		return c, nil
	}
}

// remoteIP returns the client address of c, or the zero Addr when c is not
// an IP connection.
func remoteIP(c net.Conn) netip.Addr {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// errorLog adapts go-smtp's internal error log to slog.
type errorLog struct{ log *slog.Logger }

func (e errorLog) Printf(format string, v ...any) {
	e.log.Debug("go-smtp", slog.String("error", fmt.Sprintf(format, v...)))
}

func (e errorLog) Println(v ...any) {
	e.log.Debug("go-smtp", slog.String("error", fmt.Sprint(v...)))
}
