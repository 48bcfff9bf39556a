package sink

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testSink starts a Sink on 127.0.0.1:0 and returns it with its address.
// Cleanup closes it and checks that Serve returned nil.
func testSink(t *testing.T, cfg Config) (*Sink, string) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := New(cfg)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, l.Addr().String()
}

// send sends one message of body to rcpts over a new connection.
func send(t *testing.T, addr string, rcpts []string, body string) error {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendMail("a@src.test", rcpts, strings.NewReader(body)); err != nil {
		return err
	}
	return c.Quit()
}

func TestSink_AcceptedMessages_CountedByPeerAndDomain(t *testing.T) {
	s, addr := testSink(t, Config{})
	body := "Subject: x\r\n\r\nhello\r\n"
	if err := send(t, addr, []string{"a@Example.TEST", "b@example.test", "c@other.test"}, body); err != nil {
		t.Fatal(err)
	}
	if err := send(t, addr, []string{"d@other.test"}, body); err != nil {
		t.Fatal(err)
	}

	st := s.Stats()
	if st.Messages != 2 || st.Recipients != 4 || st.Bytes != int64(2*len(body)) {
		t.Errorf("messages, recipients, bytes = %d, %d, %d; want 2, 4, %d",
			st.Messages, st.Recipients, st.Bytes, 2*len(body))
	}
	if st.Connections != 2 {
		t.Errorf("connections = %d, want 2", st.Connections)
	}
	if want := map[string]int64{"example.test": 2, "other.test": 2}; !maps.Equal(st.ByDomain, want) {
		t.Errorf("by domain = %v, want %v", st.ByDomain, want)
	}
	if want := map[string]int64{"127.0.0.1": 2}; !maps.Equal(st.ByPeerIP, want) {
		t.Errorf("by peer = %v, want %v", st.ByPeerIP, want)
	}
	if st.FirstMessage.IsZero() || st.LastMessage.Before(st.FirstMessage) {
		t.Errorf("first, last = %v, %v", st.FirstMessage, st.LastMessage)
	}
}

func TestSink_MessageOverMaxBytes_Rejected552AndNotCounted(t *testing.T) {
	s, addr := testSink(t, Config{MaxMessageBytes: 64})
	err := send(t, addr, []string{"a@b.test"}, strings.Repeat("x", 100)+"\r\n")
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 552 {
		t.Fatalf("err = %v, want 552", err)
	}
	if st := s.Stats(); st.Messages != 0 || st.Recipients != 0 || len(st.ByDomain) != 0 {
		t.Errorf("stats = %+v, want nothing counted", st)
	}
}

func TestSink_EHLO_AdvertisesExtensions(t *testing.T) {
	_, addr := testSink(t, Config{Hostname: "sink.example"})
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("me.test"); err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{"PIPELINING", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "SIZE"} {
		if ok, _ := c.Extension(ext); !ok {
			t.Errorf("EHLO does not advertise %s", ext)
		}
	}
	if _, p := c.Extension("SIZE"); p != "104857600" {
		t.Errorf("SIZE %q, want the 100 MiB default", p)
	}
	if ok, _ := c.Extension("AUTH"); ok {
		t.Error("EHLO advertises AUTH")
	}
}

func TestSink_HTTP_StatsHealthzReset(t *testing.T) {
	s, addr := testSink(t, Config{})
	if err := send(t, addr, []string{"a@b.test"}, "x\r\n"); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	cl := ts.Client()

	var st Stats
	getJSON(t, cl, ts.URL+"/stats", &st)
	if st.Messages != 1 || st.ByDomain["b.test"] != 1 || st.ByPeerIP["127.0.0.1"] != 1 {
		t.Errorf("GET /stats = %+v", st)
	}

	resp, err := cl.Get(ts.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "ok\n" {
		t.Errorf("GET /healthz = %d %q", resp.StatusCode, b)
	}

	resp, err = cl.Get(ts.URL + "/reset")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /reset = %d, want 405", resp.StatusCode)
	}
	resp, err = cl.Post(ts.URL+"/reset", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("POST /reset = %d, want 204", resp.StatusCode)
	}

	var raw map[string]any
	getJSON(t, cl, ts.URL+"/stats", &raw)
	for _, k := range []string{"messages", "recipients", "bytes", "connections", "messages_per_second"} {
		if raw[k] != 0.0 {
			t.Errorf("after reset %s = %v, want 0", k, raw[k])
		}
	}
	if _, ok := raw["first_message"]; ok {
		t.Error("after reset first_message is present, want omitted")
	}
	if m, ok := raw["by_domain"].(map[string]any); !ok || len(m) != 0 {
		t.Errorf("after reset by_domain = %v, want {}", raw["by_domain"])
	}
}

func TestSink_HTTP_BehaviourAndAcceptAll(t *testing.T) {
	s, addr := testSink(t, Config{Behaviours: true})
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	post := func(path string, want int) {
		t.Helper()
		resp, err := ts.Client().Post(ts.URL+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("POST %s = %d, want %d", path, resp.StatusCode, want)
		}
	}
	post("/behaviour?prefix=defer&reply=explode", http.StatusBadRequest)
	post("/accept-all?on=maybe", http.StatusBadRequest)

	post("/behaviour?prefix=defer&reply=accept", http.StatusNoContent)
	if err := send(t, addr, []string{"defer@a.test"}, "x\r\n"); err != nil {
		t.Errorf("defer@ after POST /behaviour: %v", err)
	}
	post("/accept-all?on=true", http.StatusNoContent)
	if err := send(t, addr, []string{"bounce@a.test"}, "x\r\n"); err != nil {
		t.Errorf("bounce@ after POST /accept-all: %v", err)
	}

	var raw map[string]any
	getJSON(t, ts.Client(), ts.URL+"/stats", &raw)
	for _, k := range []string{"by_code", "transactions", "pipelined_transactions", "duplicates", "connections"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("/stats has no %s", k)
		}
	}
	if got := raw["by_code"].(map[string]any)["250"]; got != 4.0 {
		t.Errorf("by_code 250 = %v, want 4", got)
	}
}

func getJSON(t *testing.T, cl *http.Client, url string, v any) {
	t.Helper()
	resp, err := cl.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s = %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func TestSink_Close_EndsIdleConnectionsAndLaterServe(t *testing.T) {
	s := New(Config{Logger: slog.New(slog.DiscardHandler)})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()

	c, err := smtp.Dial(l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("idle.test"); err != nil { // the sink has the connection now
		t.Fatal(err)
	}
	if n := s.Stats().ActiveConnections; n != 1 {
		t.Errorf("active = %d, want 1", n)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve after Close = %v, want nil", err)
	}
	if n := s.Stats().ActiveConnections; n != 0 {
		t.Errorf("active after Close = %d, want 0", n)
	}
	if err := c.Noop(); err == nil {
		t.Error("connection still answers after Close")
	}
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if err := s.Serve(l2); !errors.Is(err, ErrClosed) {
		t.Errorf("Serve on a closed Sink = %v, want ErrClosed", err)
	}
}

// rejectRcpt is a replier that refuses recipients at one domain.
type rejectRcpt struct{ domain string }

func (r rejectRcpt) rcpt(_ netip.Addr, _, to string) error {
	if domainOf(to) == r.domain {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	return nil
}

func (rejectRcpt) data(netip.Addr, string, []string, int64) error { return nil }

func TestSink_ReplierRejectsRcpt_OnlyAcceptedRecipientsCounted(t *testing.T) {
	s := New(Config{Logger: slog.New(slog.DiscardHandler)})
	s.reply = rejectRcpt{domain: "bad.test"}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	defer s.Close()

	c, err := smtp.Dial(l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail("a@src.test", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("x@good.test", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("y@BAD.test", nil); err == nil {
		t.Fatal("RCPT to bad.test accepted")
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "x\r\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if want := map[string]int64{"good.test": 1}; st.Recipients != 1 || !maps.Equal(st.ByDomain, want) {
		t.Errorf("recipients %d by domain %v, want 1 %v", st.Recipients, st.ByDomain, want)
	}
}

func TestDomainOf(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"user@example.test", "example.test"},
		{"User@EXAMPLE.Test", "example.test"},
		{"a@b@c.test", "c.test"},
		{"postmaster", ""},
		{"", ""},
	} {
		if got := domainOf(tc.in); got != tc.want {
			t.Errorf("domainOf(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestConfig_DefaultsAndValidate(t *testing.T) {
	var c Config
	c.SetDefaults()
	if c.Hostname != DefaultHostname || c.MaxMessageBytes != 100<<20 || c.Timeout != DefaultTimeout ||
		c.SlowDelay != DefaultSlowDelay || c.Logger == nil || c.Behaviours || c.TrackDuplicates {
		t.Errorf("defaults = %+v", c)
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{}, true},
		{"negative max bytes", Config{MaxMessageBytes: -1}, false},
		{"negative timeout", Config{Timeout: -1}, false},
		{"negative slow delay", Config{SlowDelay: -1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.SetDefaults()
			if err := tc.cfg.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate = %v, want ok %v", err, tc.ok)
			}
		})
	}
}
