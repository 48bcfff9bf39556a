package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// sluiceBin is the binary built once by TestMain for the process tests.
var sluiceBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluice-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sluiceBin = filepath.Join(dir, "sluice")
	build := exec.Command("go", "build", "-o", sluiceBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build sluice:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// node is a `sluice serve` child process.
type node struct {
	t         *testing.T
	cmd       *exec.Cmd
	smtp      string
	http      string
	spoolDir  string
	config    string
	stderr    *lockedBuffer // written by the process while tests read it
	exited    chan struct{}
	exitState *os.ProcessState
}

// writeConfig writes a test configuration for a node with its own spool
// and ports; extra is appended YAML.
func writeConfig(t *testing.T, dir, smtpAddr, httpAddr, extra string) string {
	t.Helper()
	spoolDir := filepath.Join(dir, "spool")
	cfg := fmt.Sprintf(`spool:
  dir: %s
  min_free_space: 1MiB
  ballast_size: 1MiB
listen:
  smtp: %s
  http: %s
  grpc: ""
log:
  level: warn
%s`, spoolDir, smtpAddr, httpAddr, extra)
	path := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// startNode starts `sluice serve --config path` and waits until its SMTP
// port answers.
func startNode(t *testing.T, dir, config, smtpAddr, httpAddr string) *node {
	t.Helper()
	return startNodeWithin(t, dir, config, smtpAddr, httpAddr, 20*time.Second)
}

// startNodeWithin is startNode with limit for the SMTP port to answer.
func startNodeWithin(t *testing.T, dir, config, smtpAddr, httpAddr string, limit time.Duration) *node {
	t.Helper()
	n := &node{t: t, smtp: smtpAddr, http: httpAddr, spoolDir: filepath.Join(dir, "spool"), config: config,
		stderr: &lockedBuffer{}, exited: make(chan struct{})}
	n.cmd = exec.Command(sluiceBin, "serve", "--config", config)
	n.cmd.Stderr = n.stderr
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = n.cmd.Wait()
		n.exitState = n.cmd.ProcessState
		close(n.exited)
	}()
	deadline := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", smtpAddr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return n
		}
		select {
		case <-n.exited:
			t.Fatalf("serve exited early: %v\n%s", n.exitState, n.stderr)
		default:
		}
		if time.Now().After(deadline) {
			n.kill()
			t.Fatalf("serve did not listen on %s: %s", smtpAddr, n.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (n *node) kill() {
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.exited
}

func (n *node) stop() {
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(30 * time.Second):
		n.t.Errorf("serve did not stop on SIGTERM:\n%s", n.stderr)
		n.kill()
	}
}

// runSluice runs the binary with args and returns stdout, stderr and the exit code.
func runSluice(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(sluiceBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// lockedBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
