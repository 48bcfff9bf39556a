package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/sluice-mta/sluice/api"
	"github.com/sluice-mta/sluice/bench/fakedns"
	"github.com/sluice-mta/sluice/bench/sink"
)

// TestLogs_DebugTrafficWithEverySecret_NoSecretInAnyLine runs a node at debug
// level (JSON) with an SMTP AUTH user, API keys, a VERP key, a DKIM key and a
// webhook with an Authorization value and a signing secret; sends mail over
// SMTP AUTH (and a failed AUTH), over REST (and with a wrong key); lets the
// webhook fail once; then checks that the log has the lines it should (one
// per connection, transaction and recipient outcome) and none of the secrets.
func TestLogs_DebugTrafficWithEverySecret_NoSecretInAnyLine(t *testing.T) {
	dir := t.TempDir()
	const (
		smtpPass  = "smtp-pw-SECRET-7f3a"
		wrongPass = "wrong-pw-SECRET-c0de"
		verpKey   = "verp-key-SECRET-0123456789"
		hookAuth  = "Bearer hook-SECRET-auth-91"
		hookSign  = "hook-SECRET-signing-42"
	)
	apiKey, apiHash := api.NewKey()
	wrongKey, _ := api.NewKey()
	pwHash, err := bcrypt.GenerateFromPassword([]byte(smtpPass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(edKey)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	keyFile := filepath.Join(dir, "dkim.pem")
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}

	// The Internet: a sink for every *.test domain, a DNS that says so, a webhook receiver.
	sk := sink.New(sink.Config{Behaviours: true, Logger: slog.New(slog.DiscardHandler)})
	sl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = sk.Serve(sl) }()
	defer sk.Close()
	dns, err := fakedns.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer dns.Close()
	dns.Synthetic("test", 0, netip.MustParseAddr("127.0.0.1"))
	var hookCalls, hookEvents atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if hookCalls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // one failure: the retry is logged
			return
		}
		var p struct{ Events []json.RawMessage }
		_ = json.Unmarshal(body, &p)
		hookEvents.Add(int64(len(p.Events)))
	}))
	defer hook.Close()

	smtpAddr, httpAddr := freeAddr(t), freeAddr(t)
	config := filepath.Join(dir, "sluice.yaml")
	cfg := fmt.Sprintf(`spool: {dir: %s, min_free_space: 1MiB, ballast_size: 1MiB}
listen: {smtp: %s, http: %s, grpc: ""}
smtp_in:
  hostname: mta.sluice.test
  allow_insecure_auth: true
  relay_networks: []
  users: [{name: crm, password_hash: %q, from_domains: ["*"]}]
delivery: {mx_port: %d, tls: "off"}
dns: {resolvers: [%s]}
api:
  allow_loopback_without_key: false
  keys: [{name: crm, key_hash: %q, role: admin}]
dkim: [{domain: shop.test, selector: s1, key_file: %s}]
feedback: {verp: {domain: bounces.sluice.test, key: %q}}
webhooks:
  - {name: crm, url: %q, flush_interval: 50ms, retry_initial: 50ms, authorization: %q, signing_secret: %q}
log: {level: debug, format: json}
`, filepath.Join(dir, "spool"), smtpAddr, httpAddr, pwHash, sl.Addr().(*net.TCPAddr).Port, dns.Addr(), apiHash, keyFile,
		verpKey, hook.URL, hookAuth, hookSign)
	if err := os.WriteFile(config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, dir, config, smtpAddr, httpAddr)

	// SMTP: a failed AUTH, then two messages with the right password.
	msg := []byte("From: <news@shop.test>\r\nSubject: hi\r\n\r\nhello\r\n")
	if err := smtp.SendMail(smtpAddr, smtp.PlainAuth("", "crm", wrongPass, "127.0.0.1"), "news@shop.test",
		[]string{"a@d1.test"}, msg); err == nil {
		t.Fatal("AUTH with a wrong password accepted")
	}
	for _, to := range []string{"ok1@d1.test", "bounce1@d2.test"} {
		if err := smtp.SendMail(smtpAddr, smtp.PlainAuth("", "crm", smtpPass, "127.0.0.1"), "news@shop.test",
			[]string{to}, msg); err != nil {
			t.Fatalf("SMTP AUTH injection: %v", err)
		}
	}
	// REST: a wrong key, then the right one.
	post := func(key string) int {
		req, _ := http.NewRequest(http.MethodPost, "http://"+httpAddr+"/v1/messages", strings.NewReader(
			`{"from": "news@shop.test", "recipients": [{"address": "ok2@d3.test"}], "content": {"subject": "s", "text": "t"}}`))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(wrongKey); code != http.StatusUnauthorized {
		t.Fatalf("REST with a wrong key: %d", code)
	}
	if code := post(apiKey); code != http.StatusOK {
		t.Fatalf("REST injection: %d", code)
	}
	deadline := time.Now().Add(60 * time.Second)
	// 4 events: ok1 and ok2 delivered, bounce1 bounced, the DSN to news@ delivered.
	for sk.Stats().Recipients < 2 || hookEvents.Load() < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: sink %d recipients, webhook %d events\n%s", sk.Stats().Recipients, hookEvents.Load(), n.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	n.stop()
	logs := n.stderr.String()

	for _, want := range []string{`"msg":"smtp session"`, `"msg":"message accepted"`, `"msg":"smtp connection"`,
		`"msg":"smtp transaction"`, `"msg":"recipient","result":"delivered"`, `"msg":"recipient","result":"bounced"`,
		`"msg":"webhook: POST failed; retrying"`, `"msg":"smtp auth failed"`, `"via":"api"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %s", want)
		}
	}
	pemBody := strings.Split(string(keyPEM), "\n")[1]
	secrets := map[string]string{
		"SMTP password": smtpPass, "wrong SMTP password": wrongPass,
		"AUTH PLAIN response": base64.StdEncoding.EncodeToString([]byte("\x00crm\x00" + smtpPass)),
		"API key":             apiKey, "wrong API key": wrongKey, "VERP key": verpKey, "DKIM private key": pemBody,
		"webhook Authorization": strings.TrimPrefix(hookAuth, "Bearer "), "webhook signing secret": hookSign,
		"password hash": string(pwHash),
	}
	for what, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the log contains the %s", what)
		}
	}
	for i, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("log line %d is not JSON: %s", i+1, line)
		}
	}
	if t.Failed() || os.Getenv("SLUICE_SHOW_LOG") != "" {
		t.Logf("log:\n%s", logs)
	}
}

// TestLogs_ReloadSetsTheLevel: a node started at warn logs no transaction;
// after SIGHUP with level debug it does.
func TestLogs_ReloadSetsTheLevel(t *testing.T) {
	dir := t.TempDir()
	smtpAddr, httpAddr := freeAddr(t), freeAddr(t)
	config := filepath.Join(dir, "sluice.yaml")
	write := func(level string) {
		cfg := fmt.Sprintf("spool: {dir: %s, min_free_space: 1MiB, ballast_size: 1MiB}\nlisten: {smtp: %s, http: %s, grpc: \"\"}\n"+
			"delivery: {hold: true}\nlog: {level: %s}\n", filepath.Join(dir, "spool"), smtpAddr, httpAddr, level)
		if err := os.WriteFile(config, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("warn")
	n := startNode(t, dir, config, smtpAddr, httpAddr)
	defer n.stop()
	send := func() {
		t.Helper()
		if err := smtp.SendMail(smtpAddr, nil, "a@shop.test", []string{"b@d.test"}, []byte("Subject: x\r\n\r\ny\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	send()
	write("debug")
	if err := n.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(n.stderr.String(), "reloaded") {
		if time.Now().After(deadline) {
			t.Fatalf("no reload logged:\n%s", n.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	send()
	n.stop()
	if c := strings.Count(n.stderr.String(), `msg="message accepted"`); c != 1 {
		t.Fatalf("%d \"message accepted\" lines, want 1 (after the reload only):\n%s", c, n.stderr)
	}
}
