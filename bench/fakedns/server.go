package fakedns

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Server is a fake DNS server on one address, UDP and TCP. Its methods are
// safe for concurrent use, also while it serves queries.
type Server struct {
	udp, tcp *dns.Server
	addr     string

	queries atomic.Int64
	done    chan struct{} // closed by Close: cuts delays short
	closed  sync.Once

	mu struct {
		sync.RWMutex
		names     map[string]*entry // by canonical (lowercase, fully qualified) name
		synthetic []synthetic
		negTTL    time.Duration
	}
}

// DefaultNegativeTTL is the TTL and SOA minimum of negative answers until
// SetNegativeTTL changes it.
const DefaultNegativeTTL = 5 * time.Minute

// Start starts a server listening on addr for UDP and TCP. An addr with port
// 0 ("127.0.0.1:0") picks a port free for both; Addr reports it.
func Start(addr string) (*Server, error) {
	pc, l, err := listenBoth(addr)
	if err != nil {
		return nil, fmt.Errorf("fakedns: listen %s: %w", addr, err)
	}
	s := &Server{addr: pc.LocalAddr().String(), done: make(chan struct{})}
	s.mu.names = make(map[string]*entry)
	s.mu.negTTL = DefaultNegativeTTL

	s.udp = &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(s.serve)}
	s.tcp = &dns.Server{Listener: l, Handler: dns.HandlerFunc(s.serve)}
	for i, srv := range []*dns.Server{s.udp, s.tcp} {
		started := make(chan struct{})
		errc := make(chan error, 1)
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { errc <- srv.ActivateAndServe() }()
		select {
		case <-started:
		case err := <-errc:
			if i > 0 {
				s.udp.Shutdown()
			}
			pc.Close()
			l.Close()
			return nil, fmt.Errorf("fakedns: serve %s: %w", s.addr, err)
		}
	}
	return s, nil
}

// listenBoth opens a UDP socket and a TCP listener on the same address. With
// port 0 the kernel picks the UDP port; a few tries find one whose TCP twin
// is free too.
func listenBoth(addr string) (net.PacketConn, net.Listener, error) {
	var lastErr error
	for range 10 {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, err
		}
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, l, nil
		}
		pc.Close()
		lastErr = err
	}
	return nil, nil, lastErr
}

// Addr returns the "host:port" the server answers on, UDP and TCP.
func (s *Server) Addr() string { return s.addr }

// Close stops the server and waits for the queries in progress, cutting
// their delays short (those get no answer). It is safe to call more than once.
func (s *Server) Close() error {
	var err error
	s.closed.Do(func() {
		close(s.done)
		err = errors.Join(s.udp.Shutdown(), s.tcp.Shutdown())
	})
	return err
}

// Queries returns how many queries the server has received, over both
// transports, since Start.
func (s *Server) Queries() int64 { return s.queries.Load() }

// serve answers one query.
func (s *Server) serve(w dns.ResponseWriter, req *dns.Msg) {
	s.queries.Add(1)
	if len(req.Question) != 1 {
		resp := new(dns.Msg)
		resp.SetRcode(req, dns.RcodeFormatError)
		w.WriteMsg(resp)
		return
	}
	q := req.Question[0]
	resp, delay := s.answer(req, q)
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-s.done:
			return // closing: no answer, like a lost packet
		}
	}
	if _, isUDP := w.RemoteAddr().(*net.UDPAddr); isUDP {
		size := dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil {
			size = int(opt.UDPSize())
			resp.SetEdns0(opt.UDPSize(), false)
		}
		resp.Truncate(size)
	}
	w.WriteMsg(resp)
}
