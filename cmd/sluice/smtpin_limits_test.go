package main

import (
	"bufio"
	"net"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Reliability rows 15, 17 and 25 at the level of a real `sluice serve`: the
// smtp_in limits of the file reach the listener (max_hops, max_header_lines,
// max_auth_failures), so a typo in their wiring cannot pass unnoticed.
func TestReliability_ServeHonoursSMTPInLimitsFromTheFile(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	smtpAddr, httpAddr := freeAddr(t), freeAddr(t)
	config := writeConfig(t, dir, smtpAddr, httpAddr, `delivery: {hold: true}
smtp_in:
  max_hops: 3
  max_header_lines: 20
  max_auth_failures: 2
  allow_insecure_auth: true
  users: [{name: bob, password_hash: "`+string(hash)+`", from_domains: [example.com]}]
`)
	n := startNode(t, dir, config, smtpAddr, httpAddr)
	defer n.stop()

	conn, err := net.Dial("tcp", smtpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	r := textproto.NewReader(bufio.NewReader(conn))
	expect := func(send string, code int, text string) {
		t.Helper()
		if send != "" {
			if _, err := conn.Write([]byte(send)); err != nil {
				t.Fatal(err)
			}
		}
		got, msg, err := r.ReadResponse(0)
		if got != code || !strings.Contains(msg, text) {
			t.Fatalf("after %.50q: %d %q (%v), want %d %q", send, got, msg, err, code, text)
		}
	}
	message := func(header string, code int, text string) {
		t.Helper()
		expect("MAIL FROM:<a@example.com>\r\n", 250, "")
		expect("RCPT TO:<b@example.net>\r\n", 250, "")
		expect("DATA\r\n", 354, "")
		expect(header+"\r\nbody\r\n.\r\n", code, text)
	}
	expect("", 220, "")
	expect("EHLO client.test\r\n", 250, "AUTH")
	message(strings.Repeat("Received: from x by y; Mon, 1 Jan 2024 00:00:00 +0000\r\n", 4), 554, "5.4.6")
	message(strings.Repeat("X-A: 1\r\n", 21), 552, "5.3.4")
	message(strings.Repeat("Received: from x by y; Mon, 1 Jan 2024 00:00:00 +0000\r\n", 3), 250, "queued")
	expect("AUTH PLAIN AGJvYgB3cm9uZw==\r\n", 535, "5.7.8")
	expect("AUTH PLAIN AGJvYgB3cm9uZw==\r\n", 421, "4.7.0")
	if line, err := r.ReadLine(); err == nil {
		t.Fatalf("connection open after too many AUTH failures: %q", line)
	}
}
