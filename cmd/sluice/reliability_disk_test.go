package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/sluice-mta/sluice/engine/spool"
)

// TestReliability05_DiskNearlyFull_452ThenRestartLosesNothing is row 5 on
// a real small file system: a 256 MiB tmpfs (mounted when running as root;
// otherwise the test skips, and the spool's own quota-FS test,
// TestReliability05_QuotaFS_LowSpaceBeforeENOSPC, still runs). 100 KB
// messages go in until the node answers 452 4.3.1; it must do so while
// Pebble still has room (the ballast file still there, the process alive),
// and after a restart every acknowledged message is in the spool.
func TestReliability05_DiskNearlyFull_452ThenRestartLosesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root): %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
	t.Log("ran on a 256 MiB tmpfs")
	smtpAddr, httpAddr := freeAddr(t), freeAddr(t)
	config := writeConfig(t, dir, smtpAddr, httpAddr, "delivery: {hold: true}\n")
	data, _ := os.ReadFile(config)
	data = []byte(strings.Replace(strings.Replace(string(data), "min_free_space: 1MiB", "min_free_space: 24MiB", 1),
		"ballast_size: 1MiB", "ballast_size: 8MiB", 1))
	if err := os.WriteFile(config, data, 0o644); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, dir, config, smtpAddr, httpAddr)
	acked := map[string]int{}
	body := strings.Repeat(strings.Repeat("x", 98)+"\r\n", 1000) // 100 KB
	var refusal error
	for i := 0; i < 2000 && refusal == nil; i++ {
		c, err := smtp.Dial(smtpAddr)
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < 20; j++ {
			rcpt := fmt.Sprintf("full-%d-%d@d.test", i, j)
			id, err := sendBody(c, rcpt, body)
			var se *smtp.SMTPError
			if errors.As(err, &se) && se.Code == 452 {
				refusal = err
				break
			}
			if err != nil {
				n.kill()
				t.Fatalf("message %d: %v (want 250 or 452)\n%s", len(acked), err, n.stderr)
			}
			acked[id] = 1
		}
		c.Close()
	}
	if refusal == nil {
		t.Fatalf("2000 x 100 KB accepted on a 256 MiB file system: never 452")
	}
	t.Logf("%d messages accepted, then %v", len(acked), refusal)
	if out, err := exec.Command("du", "-a", "-k", dir).CombinedOutput(); err == nil {
		t.Logf("after the 452:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "spool", spool.BallastName)); err != nil {
		t.Errorf("the ballast is gone: the disk filled before the 452: %v", err)
	}
	select {
	case <-n.exited:
		t.Fatalf("serve died on a nearly full disk: %v\n%s", n.exitState, n.stderr)
	default:
	}
	n.stop()
	n = startNode(t, dir, config, smtpAddr, httpAddr)
	n.stop()
	lost := checkSpooled(t, filepath.Join(dir, "spool"), acked)
	summaryRow(t, "05 disk nearly full (tmpfs)", 1, len(acked), len(acked)-lost, lost, 0, "452 before ENOSPC")
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged messages lost across the restart", lost, len(acked))
	}
}

// sendBody sends one message of body to rcpt over c and returns its queue ID.
func sendBody(c *smtp.Client, rcpt, body string) (string, error) {
	if err := c.Mail("full@sender.test", nil); err != nil {
		return "", err
	}
	if err := c.Rcpt(rcpt, nil); err != nil {
		return "", err
	}
	w, err := c.Data()
	if err != nil {
		return "", err
	}
	fmt.Fprintf(w, "Subject: full\r\n\r\n%s", body)
	resp, err := w.CloseWithResponse()
	if err != nil {
		return "", err
	}
	i := strings.LastIndex(resp.StatusText, "queued as ")
	if i < 0 {
		return "", fmt.Errorf("250 without a queue ID: %q", resp.StatusText)
	}
	return strings.TrimSpace(resp.StatusText[i+len("queued as "):]), nil
}
