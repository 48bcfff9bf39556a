package client

import (
	"bytes"
	"crypto/tls"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Reliability rows 13, 14 and 24 of the suite (issue #10), client side.

// wireOK reports why raw (the DATA payload as it came on the wire, without
// the final ".\r\n") is not CRLF-only and correctly dot-stuffed, or "".
func wireOK(raw string) string {
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '\r':
			if i+1 >= len(raw) || raw[i+1] != '\n' {
				return "bare CR"
			}
		case '\n':
			if i == 0 || raw[i-1] != '\r' {
				return "bare LF"
			}
		}
	}
	if raw != "" && !strings.HasSuffix(raw, "\r\n") {
		return "no final CRLF"
	}
	for line := range strings.SplitSeq(raw, "\r\n") {
		if line == "." {
			return "a lone dot line (early end of data)"
		}
	}
	return ""
}

// Reliability row 13: whatever the body holds, only CRLF lines, each leading
// dot doubled, reach the receiver, and un-stuffing gives the body back byte
// for byte (line endings made CRLF, a final CRLF added when missing).
func TestReliability13_AnyBody_OnlyCRLFAndDotStuffingOnTheWire(t *testing.T) {
	bodies := []string{
		"", ".", "..", ".\r\n", "\r\n.\r\n", "a\n.\nb", "a\r.\rb", "a\r\n.\r\n.\r\nb",
		"\r\r\n.\n\r", ".leading\r\n..two\r\n...three", "no final newline", "8-bit \xe9\xff\x00 bytes\r\n",
		strings.Repeat(".", 5000) + "\r\n" + strings.Repeat("x\n", 3000),
	}
	rng := rand.New(rand.NewPCG(13, 13))
	for range 40 {
		b := make([]byte, rng.IntN(20_000))
		const alphabet = "..\r\n\rab\xff\x00"
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		bodies = append(bodies, string(b))
	}
	s := newTestServer(t, (&mta{}).serve)
	c, _ := dialTest(t, s, nil)
	for i, b := range bodies {
		res := mustSend(t, c, &Transaction{From: "f@x.test", To: threeRcpts[:1], Body: strings.NewReader(b)})
		if !res.Delivered(0) {
			t.Fatalf("body %d: not delivered: %v", i, res.Outcome(0))
		}
		txs := s.sessions()[0].transactions()
		tx := txs[len(txs)-1]
		if why := wireOK(tx.raw); why != "" {
			t.Fatalf("body %d %q: %s on the wire: %q", i, trim(b), why, trim(tx.raw))
		}
		if want := normalise([]byte(b)); tx.body != want {
			t.Fatalf("body %d: receiver got %q, want %q", i, trim(tx.body), trim(want))
		}
	}
}

func trim(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// Reliability row 14 (client side): a reply injected in plain text after
// the server's 220 to STARTTLS, arriving apart from it, goes into the TLS
// handshake, never to the reply reader: TLSRequire fails, opportunistic
// redials in plain text and its transaction reads the right replies. (In the
// same segment as the 220: TestDial_STARTTLSWithPipelinedPlaintext_ErrProtocol.)
func TestReliability14_ReplyInjectedBeforeHandshake_NeverReadAsReply(t *testing.T) {
	srvCfg, _ := testCert(t)
	for _, policy := range []TLSPolicy{TLSRequire, TLSOpportunistic} {
		t.Run(policy.String(), func(t *testing.T) {
			var n atomic.Int32
			normal := &mta{}
			s := newTestServer(t, func(sc *srvConn) {
				if n.Add(1) > 1 {
					normal.serve(sc)
					return
				}
				sc.send("220 mx.test")
				sc.cmd()
				sc.send("250-mx.test", "250-PIPELINING", "250 STARTTLS")
				sc.cmd()
				sc.send("220 go ahead")
				time.Sleep(50 * time.Millisecond)
				sc.send("250 2.1.0 injected", "250 2.1.5 injected", "354 injected", "250 2.0.0 injected")
				_ = tls.Server(sc.raw, srvCfg).Handshake()
			})
			opts := testOptions()
			opts.TLS = policy
			c, err := Dial(t.Context(), s.addr(), "mx.test", opts)
			if policy == TLSRequire {
				if err == nil {
					c.Close()
					t.Fatal("Dial succeeded after a handshake fed with injected plain text")
				}
				return
			}
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer c.Close()
			if c.TLS() || c.TLSFailure() == nil {
				t.Fatalf("TLS() %v, TLSFailure() %v; want a plain-text fallback", c.TLS(), c.TLSFailure())
			}
			res := mustSend(t, c, &Transaction{From: "f@x.test", To: threeRcpts[:1], Body: body("hi\r\n")})
			if o := res.Outcome(0); !res.Delivered(0) || strings.Contains(o.String(), "injected") {
				t.Fatalf("outcome %v", o)
			}
		})
	}
}

// Reliability row 24 (client side): TLS below 1.2 is never negotiated, even
// when the caller's config allows it; under TLSOpportunistic such a server
// gets the mail in plain text (fallback), under TLSRequire nothing; 1.2 and
// 1.3 are used. The certificate is a self-signed CA made in the test.
func TestReliability24_ClientTLSMatrix(t *testing.T) {
	srvCfg, pool := testCert(t)
	for _, tc := range []struct {
		name      string
		serverMax uint16
		policy    TLSPolicy
		wantTLS   uint16 // 0: plain text
		wantErr   bool
	}{
		{"server_TLS1.1_require_fails", tls.VersionTLS11, TLSRequire, 0, true},
		{"server_TLS1.1_opportunistic_falls_back", tls.VersionTLS11, TLSOpportunistic, 0, false},
		{"server_TLS1.0_opportunistic_falls_back", tls.VersionTLS10, TLSOpportunistic, 0, false},
		{"server_TLS1.2_require_ok", tls.VersionTLS12, TLSRequire, tls.VersionTLS12, false},
		{"server_TLS1.3_opportunistic_ok", tls.VersionTLS13, TLSOpportunistic, tls.VersionTLS13, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := srvCfg.Clone()
			sc.MinVersion, sc.MaxVersion = tls.VersionTLS10, tc.serverMax
			m := &mta{tls: sc}
			s := newTestServer(t, m.serve)
			opts := testOptions()
			opts.TLS = tc.policy
			opts.TLSConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10} // a careless caller
			c, err := Dial(t.Context(), s.addr(), "mx.test", opts)
			if tc.wantErr {
				if err == nil {
					c.Close()
					t.Fatal("Dial succeeded")
				}
				return
			}
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer c.Close()
			st, ok := c.TLSState()
			if got := map[bool]uint16{true: st.Version}[ok]; got != tc.wantTLS {
				t.Fatalf("TLS version %s, want %s", tls.VersionName(got), tls.VersionName(tc.wantTLS))
			}
			if tc.wantTLS == 0 && c.TLSFailure() == nil {
				t.Error("plain text without a recorded TLS failure")
			}
			res := mustSend(t, c, &Transaction{From: "f@x.test", To: threeRcpts[:1], Body: body("hi\r\n")})
			if !res.Delivered(0) {
				t.Fatalf("not delivered: %v", res.Outcome(0))
			}
			if txs := s.sessions(); len(txs) == 0 || !bytes.Contains([]byte(txs[len(txs)-1].transactions()[0].body), []byte("hi")) {
				t.Fatal("the receiver did not get the message")
			}
		})
	}
}
