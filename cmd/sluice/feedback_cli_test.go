package main

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluice-mta/sluice/api"
)

// TestSuppressWarmupFeedback_CLI_AgainstServe: `sluice suppress`, `sluice
// warmup status|advance` and `sluice feedback report` against `sluice
// serve`, over REST with API keys (loopback without a key is off).
func TestSuppressWarmupFeedback_CLI_AgainstServe(t *testing.T) {
	dir := t.TempDir()
	smtpAddr, httpAddr := freeAddr(t), freeAddr(t)
	adminKey, adminHash := api.NewKey()
	readKey, readHash := api.NewKey()
	today := time.Now().UTC().Format("2006-01-02")
	config := writeConfig(t, dir, smtpAddr, httpAddr, fmt.Sprintf(`delivery: {hold: true}
vmtas:
  - {name: cold, source_ip: 127.0.0.1, helo: cold.sluice.test, warmup: {plan: new-ip, start: "%s"}}
pools:
  - {name: default, members: [{vmta: cold}]}
warmup:
  plans:
    - {name: new-ip, days: [50, 100, 200]}
api:
  allow_loopback_without_key: false
  keys:
    - {name: ops, key_hash: "%s", role: admin}
    - {name: dash, key_hash: "%s", role: read}
`, today, adminHash, readHash))
	n := startNode(t, dir, config, smtpAddr, httpAddr)
	defer n.stop()
	admin := []string{"--server", httpAddr, "--api-key", adminKey}
	read := []string{"--server", httpAddr, "--api-key", readKey}
	run := func(args ...string) (string, string, int) {
		t.Helper()
		return runSluice(t, args...)
	}

	if out, errOut, code := run(append([]string{"suppress", "add", "Gone@x.test", "b@x.test", "--reason", "asked"}, admin...)...); code != 0 || !contains(out, "2 added") {
		t.Fatalf("suppress add: exit %d %s %s", code, out, errOut)
	}
	if out, errOut, code := run(append([]string{"suppress", "add", "c@x.test", "--scope", "shop.test"}, admin...)...); code != 0 || !contains(out, "1 added") {
		t.Fatalf("suppress add --scope: exit %d %s %s", code, out, errOut)
	}
	out, errOut, code := run(append([]string{"suppress", "ls"}, read...)...)
	if code != 0 || !contains(out, "gone@x.test  (global)") || !contains(out, "asked") || !contains(out, "c@x.test     shop.test") ||
		!contains(errOut, "3 suppressed") {
		t.Fatalf("suppress ls: exit %d\n%s%s", code, out, errOut)
	}
	if out, _, code := run(append([]string{"suppress", "ls", "--scope", "shop.test"}, read...)...); code != 0 || contains(out, "gone@x.test") || !contains(out, "c@x.test") {
		t.Fatalf("suppress ls --scope: exit %d\n%s", code, out)
	}
	// The read key may not change the list; a bad address is refused naming it.
	if _, errOut, code := run(append([]string{"suppress", "add", "d@x.test"}, read...)...); code == 0 || !contains(errOut, "403") {
		t.Fatalf("suppress add with a read key: exit %d %s", code, errOut)
	}
	if _, errOut, code := run(append([]string{"suppress", "add", "d@x.test", "nope"}, admin...)...); code == 0 || !contains(errOut, "entries[1].address") {
		t.Fatalf("suppress add of a bad address: exit %d %s", code, errOut)
	}
	if out, errOut, code := run(append([]string{"suppress", "rm", "b@x.test"}, admin...)...); code != 0 || !contains(out, "no longer suppressed") {
		t.Fatalf("suppress rm: exit %d %s %s", code, out, errOut)
	}
	if _, errOut, code := run(append([]string{"suppress", "rm", "b@x.test"}, admin...)...); code == 0 || !contains(errOut, "not suppressed") {
		t.Fatalf("suppress rm again: exit %d %s", code, errOut)
	}

	out, errOut, code = run(append([]string{"warmup", "status"}, read...)...)
	if code != 0 || !contains(out, "HEADROOM") || !contains(out, "cold") || !contains(out, "false") {
		t.Fatalf("warmup status: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = run(append([]string{"warmup", "advance", "cold"}, admin...)...)
	if code != 0 || !contains(out, "advanced by operator") {
		t.Fatalf("warmup advance: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := run(append([]string{"warmup", "status", "ghost"}, read...)...); code == 0 || !contains(errOut, "ghost") {
		t.Fatalf("warmup status of an unknown vmta: exit %d %s %s", code, out, errOut)
	}

	arf := filepath.Join("..", "..", "feedback", "testdata", "arf-yahoo.eml")
	out, errOut, code = run(append([]string{"feedback", "report", "--kind", "complaint", arf}, admin...)...)
	if code != 0 || !contains(out, `"suppressed": true`) || !contains(out, "alice.smith@yahoo.com") {
		t.Fatalf("feedback report: exit %d\n%s%s", code, out, errOut)
	}
	if out, _, code := run(append([]string{"suppress", "ls"}, read...)...); code != 0 || !contains(out, "alice.smith@yahoo.com") {
		t.Fatalf("complaint not suppressed: %s", out)
	}
}
