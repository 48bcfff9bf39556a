package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"testing"
)

// Reliability row 24 (TLS policies, opportunistic fallback).
func TestDial_STARTTLS(t *testing.T) {
	srvCfg, pool := testCert(t)
	for _, tc := range []struct {
		name      string
		offer     bool
		policy    TLSPolicy
		clientCfg *tls.Config
		wantTLS   bool
		wantErr   error // nil: Dial succeeds
		fallback  bool  // TLSFailure non-nil
	}{
		{name: "opportunistic_offered_unverified_ok", offer: true, policy: TLSOpportunistic, wantTLS: true},
		{name: "opportunistic_not_offered_plain", policy: TLSOpportunistic},
		{name: "require_verified_ok", offer: true, policy: TLSRequire, clientCfg: &tls.Config{RootCAs: pool}, wantTLS: true},
		{name: "require_not_offered_fails", policy: TLSRequire, wantErr: ErrTLSRequired},
		{name: "require_unknown_CA_fails", offer: true, policy: TLSRequire, wantErr: errAny},
		{name: "opportunistic_handshake_fails_redials_plain", offer: true, policy: TLSOpportunistic,
			clientCfg: &tls.Config{RootCAs: x509.NewCertPool()}, fallback: true},
		{name: "off_never_starts_TLS", offer: true, policy: TLSOff},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &mta{}
			if tc.offer {
				m.tls = srvCfg
			}
			s := newTestServer(t, m.serve)
			opts := testOptions()
			opts.TLS, opts.TLSConfig = tc.policy, tc.clientCfg
			c, err := Dial(t.Context(), s.addr(), "mx.test", opts)
			if tc.wantErr != nil {
				if err == nil {
					c.Close()
					t.Fatal("Dial succeeded")
				}
				if tc.wantErr != errAny && !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer c.Close()
			if c.TLS() != tc.wantTLS {
				t.Errorf("TLS() = %v, want %v", c.TLS(), tc.wantTLS)
			}
			if (c.TLSFailure() != nil) != tc.fallback {
				t.Errorf("TLSFailure() = %v", c.TLSFailure())
			}
			if st, ok := c.TLSState(); ok && st.ServerName != "mx.test" {
				t.Errorf("SNI %q, want mx.test", st.ServerName)
			}
			if tc.wantTLS && len(c.Extensions()) == 0 {
				t.Error("no EHLO after STARTTLS")
			}
			res := mustSend(t, c, &Transaction{From: "f@x.test", To: threeRcpts, Body: body("hi\r\n")})
			if !res.Delivered(2) {
				t.Errorf("not delivered: %v", res.Outcome(2))
			}
			c.Quit()
			if want := 1 + btoi(tc.fallback); len(s.sessions()) != want {
				t.Errorf("%d connections, want %d", len(s.sessions()), want)
			}
		})
	}
}

var errAny = errors.New("any error")

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Reliability row 14 (client side).
func TestDial_STARTTLSWithPipelinedPlaintext_ErrProtocol(t *testing.T) {
	s := newTestServer(t, func(sc *srvConn) {
		sc.send("220 mx.test")
		sc.cmd()
		sc.send("250-mx.test", "250 STARTTLS")
		sc.cmd()
		sc.send("220 go ahead", "250-injected") // plaintext after 220
		sc.cmd()
	})
	opts := testOptions()
	opts.TLS = TLSOpportunistic
	_, err := Dial(t.Context(), s.addr(), "mx.test", opts)
	if !errors.Is(err, ErrProtocol) {
		t.Errorf("err = %v, want ErrProtocol", err)
	}
}
