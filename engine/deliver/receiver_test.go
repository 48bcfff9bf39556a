package deliver

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// receiver is a go-smtp server on loopback that counts what a pool does to
// it: connections (open now, at most at once, in all), QUITs, logouts and
// messages. Its data handler can hold a message (gate) or drop the
// connection in the middle of the data.
type receiver struct {
	addr netip.AddrPort
	// done is closed by the cleanup: held data handlers return.
	done chan struct{}

	// Set by the options before Serve; read-only after.
	gate     chan struct{} // non-nil: Data waits for a receive (or done)
	dropData bool          // Data reads a little, then closes the connection

	mu struct {
		sync.Mutex
		active, peak, conns int
		quits, logouts      int
		inData              int // Data handlers running
		messages            int
		rcpts               int
	}
}

type receiverOption func(*receiver)

// withGate makes every message wait in Data until the test sends on gate.
func withGate(gate chan struct{}) receiverOption {
	return func(r *receiver) { r.gate = gate }
}

// withDropMidData makes Data read part of the message and close the
// connection without a reply.
func withDropMidData() receiverOption { return func(r *receiver) { r.dropData = true } }

func newReceiver(t *testing.T, opts ...receiverOption) *receiver {
	t.Helper()
	r := &receiver{done: make(chan struct{})}
	for _, o := range opts {
		o(r)
	}
	srv := smtp.NewServer(r)
	srv.Domain = "mx.test"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = discardLogger{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = netip.MustParseAddrPort(ln.Addr().String())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(&countingListener{Listener: ln, r: r}) }()
	t.Cleanup(func() {
		close(r.done)
		srv.Close()
		if err := <-served; err != nil && !errors.Is(err, smtp.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			t.Errorf("receiver: serve: %v", err)
		}
	})
	return r
}

// receiverStats is a snapshot of a receiver's counters.
type receiverStats struct {
	active, peak, conns int
	quits, logouts      int
	inData              int
	messages, rcpts     int
}

func (r *receiver) stats() receiverStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := &r.mu
	return receiverStats{active: m.active, peak: m.peak, conns: m.conns, quits: m.quits, logouts: m.logouts,
		inData: m.inData, messages: m.messages, rcpts: m.rcpts}
}

func (r *receiver) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &receiverSession{r: r, c: c}, nil
}

type receiverSession struct {
	r     *receiver
	c     *smtp.Conn
	rcpts int
}

func (s *receiverSession) Reset() { s.rcpts = 0 }

func (s *receiverSession) Logout() error {
	s.r.mu.Lock()
	s.r.mu.logouts++
	s.r.mu.Unlock()
	return nil
}

func (s *receiverSession) Mail(string, *smtp.MailOptions) error { return nil }

func (s *receiverSession) Rcpt(string, *smtp.RcptOptions) error {
	s.rcpts++
	return nil
}

func (s *receiverSession) Data(body io.Reader) error {
	r := s.r
	r.mu.Lock()
	r.mu.inData++
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.mu.inData--
		r.mu.Unlock()
	}()
	if r.dropData {
		_, _ = body.Read(make([]byte, 8))
		s.c.Conn().Close()
		return errors.New("dropped")
	}
	if _, err := io.Copy(io.Discard, body); err != nil {
		return err
	}
	if r.gate != nil {
		select {
		case <-r.gate:
		case <-r.done:
			return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "shutting down"}
		}
	}
	r.mu.Lock()
	r.mu.messages++
	r.mu.rcpts += s.rcpts
	r.mu.Unlock()
	return nil
}

// countingListener counts connections open at once and QUIT commands.
type countingListener struct {
	net.Listener
	r *receiver
}

func (l *countingListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	m := &l.r.mu
	m.Lock()
	m.active++
	m.conns++
	m.peak = max(m.peak, m.active)
	m.Unlock()
	return &countingConn{Conn: nc, r: l.r}, nil
}

type countingConn struct {
	net.Conn
	r    *receiver
	once sync.Once
}

// Read notes a QUIT. NB: a client writes QUIT alone and last, so on
// loopback it arrives in one read.
func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if bytes.Contains(p[:n], []byte("QUIT\r\n")) {
		c.r.mu.Lock()
		c.r.mu.quits++
		c.r.mu.Unlock()
	}
	return n, err
}

func (c *countingConn) Close() error {
	c.once.Do(func() {
		c.r.mu.Lock()
		c.r.mu.active--
		c.r.mu.Unlock()
	})
	return c.Conn.Close()
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
func (discardLogger) Println(...any)        {}
