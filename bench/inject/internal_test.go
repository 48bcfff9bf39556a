package inject

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

func TestConfig_Validate(t *testing.T) {
	ok := Config{Target: "127.0.0.1:25"}
	for _, tc := range []struct {
		name  string
		edit  func(*Config)
		valid bool
	}{
		{"defaults", func(*Config) {}, true},
		{"no target", func(c *Config) { c.Target = "" }, false},
		{"target without port", func(c *Config) { c.Target = "127.0.0.1" }, false},
		{"negative count", func(c *Config) { c.Count = -1 }, false},
		{"negative concurrency", func(c *Config) { c.Concurrency = -1 }, false},
		{"negative size", func(c *Config) { c.Size = -5 }, false},
		{"negative recipients", func(c *Config) { c.Recipients = -1 }, false},
		{"negative domains", func(c *Config) { c.Domains = -1 }, false},
		{"negative per connection", func(c *Config) { c.MessagesPerConnection = -1 }, false},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, false},
		{"from without @", func(c *Config) { c.From = "bench" }, false},
		{"from with CRLF", func(c *Config) { c.From = "a@b\r\nRCPT TO:<x@y>" }, false},
		{"helo with space", func(c *Config) { c.HELO = "a b" }, false},
		{"header ok", func(c *Config) { c.Headers = map[string]string{"X-Sluice-Pool": "p1"} }, true},
		{"header name with colon", func(c *Config) { c.Headers = map[string]string{"X:Y": "p1"} }, false},
		{"header value with LF", func(c *Config) { c.Headers = map[string]string{"X-A": "a\nb"} }, false},
		{"local addr ok", func(c *Config) { c.LocalAddr = "127.0.0.3" }, true},
		{"local addr not an IP", func(c *Config) { c.LocalAddr = "localhost" }, false},
		{"local part ok", func(c *Config) { c.LocalPart = "defer-x.1" }, true},
		{"local part with @", func(c *Config) { c.LocalPart = "a@b" }, false},
		{"local part with space", func(c *Config) { c.LocalPart = "a b" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			c.SetDefaults()
			if err := c.Validate(); (err == nil) != tc.valid {
				t.Errorf("Validate() = %v, want valid %v", err, tc.valid)
			}
		})
	}
}

func TestConfig_SetDefaults(t *testing.T) {
	var c Config
	c.SetDefaults()
	want := Config{
		Count: 1000, Concurrency: 10, Size: 4096, From: "bench@sluice.test", Recipients: 1,
		Domains: 100, MessagesPerConnection: 100, HELO: "inject.sluice.test", Timeout: 60 * time.Second,
		LocalPart: "user", Mode: ModeSMTP, BatchSize: 1000,
	}
	if fmt.Sprint(c) != fmt.Sprint(want) {
		t.Errorf("defaults = %+v\nwant       %+v", c, want)
	}
}

func TestMessage_SizeAndLines(t *testing.T) {
	for _, size := range []int{1, 100, 1024, 4096, 100 << 10} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			cfg := Config{Target: "x:25", Size: size, Headers: map[string]string{"X-Sluice-Pool": "p"}}
			cfg.SetDefaults()
			m := newMessage(&cfg, 3, time.Unix(0, 0))
			to := m.address(&cfg, 42, 0)
			text := append(bytes.Clone(m.header(3, 42, to, time.Time{})), m.fixed...)

			if size >= 1024 && (len(text) < size-20 || len(text) > size+20) {
				t.Errorf("len = %d, want about %d", len(text), size)
			}
			if !bytes.HasSuffix(text, []byte("\r\n")) {
				t.Error("message does not end in CRLF")
			}
			head, body, ok := bytes.Cut(text, []byte("\r\n\r\n"))
			if !ok || len(body) == 0 {
				t.Fatal("no header/body separator or empty body")
			}
			for _, want := range []string{"Message-ID: <42.3@", "To: <user42@d42.test>", "X-Sluice-Seq: 42", "X-Sluice-Pool: p"} {
				if !bytes.Contains(head, []byte(want)) {
					t.Errorf("header lacks %q", want)
				}
			}
			for i, line := range bytes.Split(bytes.TrimSuffix(body, []byte("\r\n")), []byte("\r\n")) {
				if len(line) == 0 || len(line) > 78 || line[0] == '.' || bytes.ContainsAny(line, "\r\n") {
					t.Fatalf("body line %d is %q", i, line)
				}
				for _, b := range line {
					if b < ' ' || b > '~' {
						t.Fatalf("body line %d has byte %#x", i, b)
					}
				}
			}
		})
	}
}

func TestMessage_AddressesSpreadOverDomains(t *testing.T) {
	cfg := Config{Target: "x:25", Recipients: 3, Domains: 7}
	cfg.SetDefaults()
	m := newMessage(&cfg, 0, time.Now())
	for _, tc := range []struct {
		seq, j int
		want   string
	}{
		{0, 0, "user0@d0.test"},
		{0, 2, "user2@d2.test"},
		{2, 1, "user7@d0.test"},
		{4, 2, "user14@d0.test"},
	} {
		if got := m.address(&cfg, tc.seq, tc.j); got != tc.want {
			t.Errorf("address(%d, %d) = %q, want %q", tc.seq, tc.j, got, tc.want)
		}
	}
}

func TestSummarize_NearestRank(t *testing.T) {
	if got := summarize(nil); got != (LatencySummary{}) {
		t.Errorf("summarize(nil) = %+v", got)
	}
	d := make([]time.Duration, 100)
	for i := range d {
		d[i] = time.Duration(100-i) * time.Millisecond // reversed: summarize sorts
	}
	want := LatencySummary{P50: 50 * time.Millisecond, P90: 90 * time.Millisecond, P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}
	if got := summarize(d); got != want {
		t.Errorf("summarize = %+v, want %+v", got, want)
	}
	if got := summarize([]time.Duration{7}); got != (LatencySummary{7, 7, 7, 7}) {
		t.Errorf("one sample: %+v", got)
	}
}

func TestErrorKey(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"enhanced", &stepError{"end of data", &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1}}}, "452 4.3.1"},
		{"no enhanced code", &stepError{"RCPT", &smtp.SMTPError{Code: 550}}, "550"},
		{"refused", &stepError{"connect", refused}, "connect: connection refused"},
		{"eof", &stepError{"MAIL", io.EOF}, "MAIL: connection closed by server"},
		{"timeout", &stepError{"end of data", os.ErrDeadlineExceeded}, "end of data: timeout"},
		{"other", &stepError{"data", errors.New("boom")}, "data: boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := errorKey(tc.err); got != tc.want {
				t.Errorf("errorKey = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMessage_StampHeader_OnlyWhenAsked(t *testing.T) {
	sent := time.Unix(1700000000, 123456789)
	for _, stamp := range []bool{false, true} {
		cfg := Config{Target: "x:25", StampHeader: stamp, LocalPart: "defer"}
		cfg.SetDefaults()
		m := newMessage(&cfg, 0, sent)
		to := m.address(&cfg, 7, 0)
		if to != "defer7@d7.test" {
			t.Errorf("address = %q, want defer7@d7.test", to)
		}
		h := string(m.header(0, 7, to, stampFor(&cfg, sent)))
		want := StampField + ": 1700000000123456789\r\n"
		if got := strings.Contains(h, want); got != stamp {
			t.Errorf("StampHeader %v: header block %q has stamp %v", stamp, h, got)
		}
	}
}
