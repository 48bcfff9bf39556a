package receive

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
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/crypto/bcrypt"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// submitted is one message a recordingSubmitter received.
type submitted struct {
	env  Envelope
	body []byte
}

// recordingSubmitter stands in for the engine: it records what it is given.
type recordingSubmitter struct {
	mu        sync.Mutex
	msgs      []submitted
	accepting error         // returned by Accepting
	submitErr error         // returned by Submit when set
	release   chan struct{} // when set, Submit waits for it
	entered   chan struct{} // when set, Submit signals it on entry
}

func (r *recordingSubmitter) Accepting() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.accepting
}

func (r *recordingSubmitter) Submit(ctx context.Context, env *Envelope, body []byte) (string, error) {
	if r.entered != nil {
		r.entered <- struct{}{}
	}
	if r.release != nil {
		select {
		case <-r.release:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.submitErr != nil {
		return "", r.submitErr
	}
	r.msgs = append(r.msgs, submitted{env: *env, body: bytes.Clone(body)})
	return fmt.Sprintf("Q%04d", len(r.msgs)), nil
}

func (r *recordingSubmitter) messages() []submitted {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]submitted(nil), r.msgs...)
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var loopback = netip.MustParsePrefix("127.0.0.1/32")

// relayConfig is a config whose relay network is 127.0.0.1 only.
func relayConfig() Config {
	return Config{Hostname: "mx.test", RelayNetworks: []netip.Prefix{loopback}}
}

// testServer serves cfg on 127.0.0.1:0 until the test ends and returns the
// server and its address.
func testServer(t testing.TB, cfg Config, sub Submitter) (*Server, string) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv, err := NewServer(cfg, sub)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, ErrServerClosed) {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return srv, l.Addr().String()
}

// testUser returns a user with a cheap bcrypt hash of pass.
func testUser(t testing.TB, name, pass string, domains ...string) User {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return User{Name: name, PasswordHash: string(h), FromDomains: domains}
}

// rawClient speaks SMTP by hand for protocol edge cases.
type rawClient struct {
	t    *testing.T
	conn net.Conn
	r    *textproto.Reader
}

// dialRaw connects from local ("" for any) and reads the greeting.
// trickle writes one byte, next(i) for the i-th, every 50 ms on c until a
// write fails or the returned stop is called; stop waits for the writer.
func trickle(c *rawClient, next func(i int) byte) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-quit:
				return
			case <-tick.C:
			}
			if _, err := c.conn.Write([]byte{next(i)}); err != nil {
				return
			}
		}
	}()
	return func() { close(quit); <-done }
}

func dialRaw(t *testing.T, addr, local string) *rawClient {
	t.Helper()
	c := dialRawNoGreeting(t, addr, local)
	if code, msg := c.reply(); code != 220 {
		t.Fatalf("greeting: %d %s", code, msg)
	}
	return c
}

func dialRawNoGreeting(t *testing.T, addr, local string) *rawClient {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %q: %v", addr, local, err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawClient{t: t, conn: conn, r: textproto.NewReader(bufio.NewReader(conn))}
}

// send writes s as is.
func (c *rawClient) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// reply reads one (possibly multi-line) reply.
func (c *rawClient) reply() (int, string) {
	c.t.Helper()
	code, msg, err := c.r.ReadResponse(0)
	if err != nil && code == 0 {
		c.t.Fatalf("read reply: %v", err)
	}
	return code, msg
}

// cmd sends one command line and returns its reply.
func (c *rawClient) cmd(line string) (int, string) {
	c.t.Helper()
	c.send(line + "\r\n")
	return c.reply()
}

// expect sends line and fails unless the reply has code and contains text.
func (c *rawClient) expect(line string, code int, text string) string {
	c.t.Helper()
	got, msg := c.cmd(line)
	if got != code || !strings.Contains(msg, text) {
		c.t.Fatalf("%q: got %d %q, want %d containing %q", line, got, msg, code, text)
	}
	return msg
}

// expectReply reads a reply and checks it like expect.
func (c *rawClient) expectReply(code int, text string) string {
	c.t.Helper()
	got, msg := c.reply()
	if got != code || !strings.Contains(msg, text) {
		c.t.Fatalf("got %d %q, want %d containing %q", got, msg, code, text)
	}
	return msg
}

// expectClosed fails unless the server closes the connection.
func (c *rawClient) expectClosed() {
	c.t.Helper()
	line, err := c.r.ReadLine()
	if err == nil {
		c.t.Fatalf("connection still open, read %q", line)
	}
}

// selfSignedTLS returns a server config with a fresh self-signed certificate
// for "mx.test" and a client config that trusts it.
func selfSignedTLS(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "mx.test"},
		DNSNames:     []string{"mx.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	client = &tls.Config{RootCAs: pool, ServerName: "mx.test"}
	return server, client
}

// dotStuff applies the SMTP transparency rule (RFC 5321 4.5.2) to body, as an
// outbound client would.
func dotStuff(body []byte) []byte {
	var out []byte
	for _, line := range bytes.SplitAfter(body, []byte("\r\n")) {
		if bytes.HasPrefix(line, []byte(".")) {
			out = append(out, '.')
		}
		out = append(out, line...)
	}
	return out
}

// waitFor polls cond for up to 2 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// tlsClient completes a STARTTLS handshake on c (after its 220) and returns
// a rawClient speaking over TLS.
func tlsClient(t *testing.T, c *rawClient, cfg *tls.Config) *rawClient {
	t.Helper()
	tc := tls.Client(c.conn, cfg)
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	return &rawClient{t: t, conn: tc, r: textproto.NewReader(bufio.NewReader(tc))}
}
