package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestReliability27_APIAuthLimitsAndPublicBind is row 27, against a real
// serve: a public API address without TLS is refused at start (exit 2,
// naming the key) unless api.allow_public_without_tls forces it; with keys
// required, REST answers 401 without a key or with a wrong one, 403 to a
// read key that injects, 413 to a body over the request limit, and 200 to
// the inject key.
func TestReliability27_APIAuthLimitsAndPublicBind(t *testing.T) {
	dir := t.TempDir()
	smtpAddr := freeAddr(t)
	port := freeAddr(t)[len("127.0.0.1:"):]
	public := "0.0.0.0:" + port
	config := writeConfig(t, dir, smtpAddr, public, "")
	_, stderr, code := runSluice(t, "serve", "--config", config)
	if code != 2 || !contains(stderr, "listen.http") || !contains(stderr, "allow_public_without_tls") {
		t.Fatalf("serve on a public API address without TLS: exit %d, want 2 naming listen.http:\n%s", code, stderr)
	}

	key := func(s string) string { h := sha256.Sum256([]byte(s)); return "sha256:" + hex.EncodeToString(h[:]) }
	extra := fmt.Sprintf(`smtp_in:
  max_message_size: 64KiB
api:
  allow_public_without_tls: true
  allow_loopback_without_key: false
  keys:
    - {name: injector, key_hash: %q, role: inject}
    - {name: reader, key_hash: %q, role: read}
`, key("inject-key-0123456789abcdef0123456789"), key("read-key-0123456789abcdef0123456789"))
	config = writeConfig(t, dir, smtpAddr, public, extra)
	n := startNode(t, dir, config, smtpAddr, public)
	defer n.stop()
	base := "http://" + net.JoinHostPort("127.0.0.1", port)
	msg := `{"from": "api@sender.test", "recipients": [{"address": "a@d1.test"}], "content": {"subject": "s", "text": "t"}}`
	huge := `{"from": "api@sender.test", "recipients": [{"address": "a@d1.test"}], "content": {"subject": "s", "text": "` +
		strings.Repeat("x", 17<<20) + `"}}`
	for _, c := range []struct {
		name, key, body string
		want            int
	}{
		{"no key", "", msg, http.StatusUnauthorized},
		{"wrong key", "not-a-key-0123456789abcdef0123456789", msg, http.StatusUnauthorized},
		{"read key injects", "read-key-0123456789abcdef0123456789", msg, http.StatusForbidden},
		{"body over the limit", "inject-key-0123456789abcdef0123456789", huge, http.StatusRequestEntityTooLarge},
		{"inject key", "inject-key-0123456789abcdef0123456789", msg, http.StatusOK},
	} {
		req, _ := http.NewRequest("POST", base+"/v1/messages", strings.NewReader(c.body))
		req.Header.Set("Content-Type", "application/json")
		if c.key != "" {
			req.Header.Set("Authorization", "Bearer "+c.key)
		}
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: %s %s, want %d", c.name, resp.Status, b, c.want)
		}
	}
}
