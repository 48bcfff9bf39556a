package client

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// testServer is a raw TCP server on 127.0.0.1:0 whose sessions are run by a Go
// handler. It records every Read of every session (bytes and size), so tests
// can prove what arrived together.
type testServer struct {
	t       testing.TB
	ln      net.Listener
	handler func(sc *srvConn)
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   []*srvConn
}

func newTestServer(t testing.TB, handler func(sc *srvConn)) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{t: t, ln: ln, handler: handler}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.close)
	return s
}

func (s *testServer) addr() string { return s.ln.Addr().String() }

func (s *testServer) accept() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		sc := &srvConn{t: s.t, raw: nc}
		sc.setConn(nc)
		s.mu.Lock()
		s.conns = append(s.conns, sc)
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer nc.Close()
			s.handler(sc)
		}()
	}
}

func (s *testServer) close() {
	s.ln.Close()
	s.mu.Lock()
	for _, sc := range s.conns {
		sc.raw.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// sessions returns the sessions accepted so far.
func (s *testServer) sessions() []*srvConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*srvConn(nil), s.conns...)
}

// srvConn is one server-side session.
type srvConn struct {
	t   testing.TB
	raw net.Conn
	nc  net.Conn
	r   *bufio.Reader

	mu    sync.Mutex
	reads [][]byte // each Read from the (plaintext) connection
	txs   []srvTx
}

// srvTx is a transaction as the server saw it.
type srvTx struct {
	open  bool     // MAIL accepted
	mail  string   // the MAIL line
	rcpts []string // the accepted RCPT addresses
	raw   string   // the data as it came on the wire, without ".\r\n"
	body  string   // raw, un-stuffed
}

type recConn struct {
	net.Conn
	sc *srvConn
}

func (r recConn) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	if n > 0 {
		r.sc.mu.Lock()
		r.sc.reads = append(r.sc.reads, bytes.Clone(p[:n]))
		r.sc.mu.Unlock()
	}
	return n, err
}

func (sc *srvConn) setConn(nc net.Conn) {
	sc.nc = nc
	sc.r = bufio.NewReaderSize(recConn{nc, sc}, 64<<10)
}

// readLog returns a copy of the recorded reads.
func (sc *srvConn) readLog() [][]byte {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return append([][]byte(nil), sc.reads...)
}

func (sc *srvConn) allRead() string {
	return string(bytes.Join(sc.readLog(), nil))
}

func (sc *srvConn) transactions() []srvTx {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return append([]srvTx(nil), sc.txs...)
}

// send writes lines, each followed by CRLF, in one write.
func (sc *srvConn) send(lines ...string) {
	sc.nc.Write([]byte(strings.Join(lines, "\r\n") + "\r\n"))
}

// cmd reads one command line without its CRLF; ok is false at EOF.
func (sc *srvConn) cmd() (string, bool) {
	line, err := sc.r.ReadString('\n')
	if err != nil {
		return "", false
	}
	return strings.TrimRight(line, "\r\n"), true
}

// readData reads message data up to and without the ".\r\n" line.
func (sc *srvConn) readData() (string, error) {
	var b strings.Builder
	for {
		line, err := sc.r.ReadString('\n')
		if err != nil {
			return b.String(), err
		}
		if line == ".\r\n" {
			return b.String(), nil
		}
		b.WriteString(line)
	}
}

// mta is a scriptable SMTP responder; zero fields take sensible defaults.
type mta struct {
	greeting string              // default "220 mx.test ESMTP"
	ext      []string            // EHLO keywords; nil = PIPELINING, 8BITMIME, ENHANCEDSTATUSCODES, SIZE 10000000
	noEHLO   bool                // answer 502 to EHLO
	tls      *tls.Config         // offer STARTTLS with this config
	mail     func(string) string // reply to a MAIL line; default 250 2.1.0
	rcpt     func(string) string // reply to an address; default 250 2.1.5
	data     func(srvTx) string  // reply to DATA; default 354, or 554 with no recipient
	final    func(srvTx) string  // reply after data; default 250 2.0.0
	lockstep bool                // fail the test if a command arrives pipelined
}

var defaultExt = []string{"PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "SIZE 10000000"}

func (m *mta) serve(sc *srvConn) {
	if m.greeting == "" {
		sc.send("220 mx.test ESMTP")
	} else {
		sc.send(m.greeting)
	}
	var tx srvTx
	for {
		line, ok := sc.cmd()
		if !ok {
			return
		}
		if m.lockstep && sc.r.Buffered() > 0 {
			sc.t.Errorf("server without PIPELINING got pipelined input after %q", line)
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			if m.noEHLO {
				sc.send("502 5.5.2 EHLO not implemented")
				continue
			}
			ext := m.ext
			if ext == nil {
				ext = defaultExt
			}
			if m.tls != nil && sc.nc == sc.raw {
				ext = append(ext[:len(ext):len(ext)], "STARTTLS")
			}
			lines := []string{"250-mx.test greets " + arg}
			for i, e := range ext {
				sep := "-"
				if i == len(ext)-1 {
					sep = " "
				}
				lines = append(lines, "250"+sep+e)
			}
			if len(ext) == 0 {
				lines = []string{"250 mx.test greets " + arg}
			}
			sc.send(lines...)
		case "HELO":
			sc.send("250 mx.test")
		case "STARTTLS":
			if m.tls == nil {
				sc.send("502 5.5.1 no TLS here")
				continue
			}
			sc.send("220 2.0.0 ready")
			tc := tls.Server(sc.raw, m.tls)
			if err := tc.Handshake(); err != nil {
				return
			}
			sc.setConn(tc)
		case "MAIL":
			r := reply(m.mail, line, "250 2.1.0 Ok")
			tx = srvTx{mail: line, open: r[0] == '2'}
			sc.send(r)
		case "RCPT":
			addr := strings.TrimSuffix(strings.TrimPrefix(strings.Fields(arg)[0], "TO:<"), ">")
			r := reply(m.rcpt, addr, "250 2.1.5 Ok")
			if !tx.open {
				r = "503 5.5.1 MAIL first"
			}
			if r[0] == '2' {
				tx.rcpts = append(tx.rcpts, addr)
			}
			sc.send(r)
		case "DATA":
			def := "354 go ahead"
			if len(tx.rcpts) == 0 {
				def = "554 5.5.1 no valid recipients"
			}
			r := reply(m.data, tx, def)
			sc.send(r)
			if r[0] != '3' {
				continue
			}
			raw, err := sc.readData()
			if err != nil {
				return
			}
			tx.raw, tx.body = raw, unstuff(raw)
			sc.mu.Lock()
			sc.txs = append(sc.txs, tx)
			sc.mu.Unlock()
			sc.send(reply(m.final, tx, "250 2.0.0 queued"))
			tx = srvTx{}
		case "RSET":
			tx = srvTx{}
			sc.send("250 2.0.0 Ok")
		case "NOOP":
			sc.send("250 2.0.0 Ok")
		case "QUIT":
			sc.send("221 2.0.0 bye")
			return
		default:
			sc.send("500 5.5.2 what?")
		}
	}
}

func reply[T any](f func(T) string, v T, def string) string {
	if f == nil {
		return def
	}
	return f(v)
}

// unstuff is the reference decoder of DATA: it removes one leading dot of
// each line. raw must be CRLF lines without the terminator.
func unstuff(raw string) string {
	var b strings.Builder
	for line := range strings.SplitAfterSeq(raw, "\r\n") {
		b.WriteString(strings.TrimPrefix(line, "."))
	}
	return b.String()
}

// writeLog records each Write of a client connection.
type writeLog struct {
	mu     sync.Mutex
	writes []string
}

func (l *writeLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.writes...)
}

type logConn struct {
	net.Conn
	log *writeLog
}

func (c logConn) Write(p []byte) (int, error) {
	c.log.mu.Lock()
	c.log.writes = append(c.log.writes, string(p))
	c.log.mu.Unlock()
	return c.Conn.Write(p)
}

// testOptions are Options with short timeouts and TLS off.
func testOptions() Options {
	return Options{
		HELO:             "client.test",
		TLS:              TLSOff,
		ConnectTimeout:   2 * time.Second,
		GreetingTimeout:  2 * time.Second,
		CommandTimeout:   2 * time.Second,
		MailTimeout:      2 * time.Second,
		RcptTimeout:      2 * time.Second,
		DataInitTimeout:  2 * time.Second,
		DataBlockTimeout: 2 * time.Second,
		DataTermTimeout:  2 * time.Second,
		ResetTimeout:     2 * time.Second,
	}
}

// dialTest dials s with testOptions changed by mod and returns the Conn and
// the log of its writes (plaintext only).
func dialTest(t *testing.T, s *testServer, mod func(*Options)) (*Conn, *writeLog) {
	t.Helper()
	opts := testOptions()
	wl := &writeLog{}
	opts.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		nc, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return logConn{nc, wl}, nil
	}
	if mod != nil {
		mod(&opts)
	}
	c, err := Dial(context.Background(), s.addr(), "mx.test", opts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, wl
}

func mustSend(t *testing.T, c *Conn, tx *Transaction) *Result {
	t.Helper()
	res, err := c.Send(context.Background(), tx)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	return res
}

func body(s string) io.Reader { return strings.NewReader(s) }

var (
	certOnce sync.Once
	certTLS  *tls.Config
	certPool *x509.CertPool
)

// testCert returns a server config with a self-signed certificate for
// mx.test and 127.0.0.1, and a pool that trusts it.
func testCert(t testing.TB) (*tls.Config, *x509.CertPool) {
	certOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(1),
			Subject:               pkix.Name{CommonName: "mx.test"},
			DNSNames:              []string{"mx.test"},
			IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(time.Hour),
			KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			IsCA:                  true,
			BasicConstraintsValid: true,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			panic(err)
		}
		cert, _ := x509.ParseCertificate(der)
		certPool = x509.NewCertPool()
		certPool.AddCert(cert)
		certTLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}}
	})
	return certTLS, certPool
}

var errTest = errors.New("test")
