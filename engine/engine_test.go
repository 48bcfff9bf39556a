package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sluice-mta/sluice/configs"
	"github.com/sluice-mta/sluice/engine/spool"
)

// testEngine returns an engine on a fresh spool in a temp dir; mutate
// adjusts the configuration first.
func testEngine(t *testing.T, mutate func(*configs.Config)) (*Engine, *configs.Config) {
	t.Helper()
	cfg, err := configs.Load("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Spool.Dir = t.TempDir()
	cfg.Spool.MinFreeSpace = 1 << 20
	cfg.Spool.BallastSize = 0
	if mutate != nil {
		mutate(cfg)
	}
	e, err := New(cfg, Deps{NoDelivery: true, Logger: slog.New(slog.DiscardHandler), Clock: func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	return e, cfg
}

const body = "Subject: hi\r\n\r\nhello\r\n"

func TestSubmit_ValidMessage_DurableWithExpiryAndDefaultVMTA(t *testing.T) {
	e, cfg := testEngine(t, nil)
	id, err := e.Submit(context.Background(), Envelope{From: "a@x.test", To: []string{"b@Y.test", "c@z.test"}, Campaign: "c1"}, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if st := e.SpoolStats(); st.Messages != 1 || st.Recipients != 2 {
		t.Fatalf("stats after submit: %+v", st)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	sp, err := spool.Open(spool.Options{Dir: cfg.Spool.Dir, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	env, err := sp.Envelope(id)
	if err != nil {
		t.Fatal(err)
	}
	if env.From != "a@x.test" || env.VMTA != DefaultVMTA || env.Campaign != "c1" ||
		!env.ExpiresAt.Equal(env.ReceivedAt.Add(96*time.Hour)) {
		t.Fatalf("envelope: %+v", env)
	}
	b, err := sp.Body(id)
	if err != nil || string(b) != body {
		t.Fatalf("body %q, %v", b, err)
	}
	var domains []string
	_ = sp.Recipients(func(r spool.Recipient) bool { domains = append(domains, r.Domain); return true })
	if strings.Join(domains, ",") != "y.test,z.test" {
		t.Fatalf("recipient domains %v", domains)
	}
}

func TestSubmit_BadInput_RefusedAndNothingStored(t *testing.T) {
	e, _ := testEngine(t, func(c *configs.Config) { c.SMTPIn.MaxRecipients = 3; c.SMTPIn.MaxMessageSize = 100 })
	defer e.Close()
	tests := []struct {
		name string
		env  Envelope
		body string
		want error
	}{
		{"no recipients", Envelope{From: "a@x.test"}, body, ErrInvalidEnvelope},
		{"bad sender", Envelope{From: "not-an-address", To: []string{"b@y.test"}}, body, ErrInvalidEnvelope},
		{"bad recipient", Envelope{From: "a@x.test", To: []string{"b@"}}, body, ErrInvalidEnvelope},
		{"bad domain", Envelope{From: "a@x.test", To: []string{"b@-y.test"}}, body, ErrInvalidEnvelope},
		{"space in address", Envelope{From: "a@x.test", To: []string{"b c@y.test"}}, body, ErrInvalidEnvelope},
		{"too many recipients", Envelope{From: "a@x.test", To: []string{"a@y.test", "b@y.test", "c@y.test", "d@y.test"}}, body, ErrInvalidEnvelope},
		{"empty body", Envelope{From: "a@x.test", To: []string{"b@y.test"}}, "", ErrInvalidEnvelope},
		{"too large", Envelope{From: "a@x.test", To: []string{"b@y.test"}}, strings.Repeat("x", 101), ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Submit(context.Background(), tt.env, []byte(tt.body))
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if st := e.SpoolStats(); st.Messages != 0 {
		t.Fatalf("refused mail was stored: %+v", st)
	}
	// The null sender is valid (bounces use it).
	if _, err := e.Submit(context.Background(), Envelope{To: []string{"b@y.test"}}, []byte(body)); err != nil {
		t.Fatalf("null sender refused: %v", err)
	}
}

func TestSubmit_LowSpace_Refused452AndNothingStored(t *testing.T) {
	e, _ := testEngine(t, func(c *configs.Config) { c.Spool.MinFreeSpace = 1 << 60 })
	defer e.Close()
	_, err := e.Submit(context.Background(), Envelope{From: "a@x.test", To: []string{"b@y.test"}}, []byte(body))
	if !errors.Is(err, spool.ErrLowSpace) {
		t.Fatalf("err = %v, want ErrLowSpace", err)
	}
	var se *smtp.SMTPError
	if !errors.As(e.SMTPSubmitter().Accepting(), &se) || se.Code != 452 || se.EnhancedCode != (smtp.EnhancedCode{4, 3, 1}) {
		t.Fatalf("Accepting() = %v, want 452 4.3.1", e.SMTPSubmitter().Accepting())
	}
	if st := e.SpoolStats(); st.Messages != 0 {
		t.Fatalf("stored while low on space: %+v", st)
	}
}

func TestSubmit_ConcurrentInjectors_AllStored(t *testing.T) {
	e, _ := testEngine(t, nil)
	defer e.Close()
	var wg sync.WaitGroup
	ids := make(chan string, 400)
	for w := 0; w < 20; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				id, err := e.Submit(context.Background(), Envelope{From: "a@x.test", To: []string{fmt.Sprintf("u%d-%d@d%d.test", w, i, i%4)}}, []byte(body))
				if err != nil {
					t.Error(err)
					return
				}
				ids <- id
			}
		}()
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		if seen[id] {
			t.Fatalf("duplicate queue ID %s", id)
		}
		seen[id] = true
	}
	if st := e.SpoolStats(); st.Messages != 400 || st.Recipients != 400 || len(st.ByDomain) != 4 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestToSMTPError_Mapping(t *testing.T) {
	tests := []struct {
		err  error
		code int
		enh  smtp.EnhancedCode
	}{
		{fmt.Errorf("x: %w", spool.ErrLowSpace), 452, smtp.EnhancedCode{4, 3, 1}},
		{fmt.Errorf("%w: 9 bytes", ErrTooLarge), 552, smtp.EnhancedCode{5, 3, 4}},
		{fmt.Errorf("%w: no recipients", ErrInvalidEnvelope), 554, smtp.EnhancedCode{5, 5, 4}},
		{errors.New("pebble: disk I/O"), 451, smtp.EnhancedCode{4, 3, 0}},
	}
	for _, tt := range tests {
		var se *smtp.SMTPError
		if !errors.As(toSMTPError(tt.err), &se) || se.Code != tt.code || se.EnhancedCode != tt.enh {
			t.Errorf("%v -> %v, want %d %v", tt.err, se, tt.code, tt.enh)
		}
	}
}
