package peers

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

//go:embed postfix.sh
var postfixScript []byte

// PostfixConfig says how to set up a Postfix relay.
type PostfixConfig struct {
	// Dir holds the instance: etc/ (main.cf, master.cf), queue/, data/,
	// maillog and the script. Required; an absolute path is made of a
	// relative one. The caller removes it.
	Dir string
	// Relay is where every recipient goes: the sink, "127.0.0.1:PORT".
	// Required.
	Relay string
	// Listen is smtpd's address, "127.0.0.1:PORT". Required.
	Listen string
	// Concurrency is the most parallel deliveries to Relay (Sluice:
	// delivery.max_smtp_out). Default 20; at most 100.
	Concurrency int
	// MsgsPerConn is the most transactions on one cached connection
	// (Sluice: delivery.max_msg_per_connection). Default 1000.
	MsgsPerConn int
	// RcptsPerMsg is the most recipients in one transaction (Sluice:
	// delivery.max_rcpt_per_msg). Default 100.
	RcptsPerMsg int
}

// Defaults for PostfixConfig, Sluice's own defaults (configs/sluice.yaml).
const (
	DefaultConcurrency = 20
	DefaultMsgsPerConn = 1000
	DefaultRcptsPerMsg = 100
)

// SetDefaults fills the zero limits of c.
func (c *PostfixConfig) SetDefaults() {
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.MsgsPerConn == 0 {
		c.MsgsPerConn = DefaultMsgsPerConn
	}
	if c.RcptsPerMsg == 0 {
		c.RcptsPerMsg = DefaultRcptsPerMsg
	}
}

// Postfix is a running private Postfix instance.
type Postfix struct {
	dir    string
	script string
	listen string
}

// Check reports why a private Postfix cannot be started here, or nil.
func Check() error {
	if _, err := exec.LookPath("postfix"); err != nil {
		if _, err2 := os.Stat("/usr/sbin/postfix"); err2 != nil {
			return errors.New("peers: postfix is not installed (Debian's postfix package: make bench-deps)")
		}
	}
	if os.Geteuid() != 0 {
		return errors.New("peers: a Postfix instance must be started as root (it drops to the postfix user itself)")
	}
	return nil
}

// PostfixVersion returns the installed Postfix's mail_version, or "" if it
// cannot be read.
func PostfixVersion() string {
	out, err := exec.Command(sbin("postconf"), "-dh", "mail_version").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// sbin returns name's path: on PATH, else under /usr/sbin.
func sbin(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return filepath.Join("/usr/sbin", name)
}

// WritePostfixConfig writes the instance's main.cf and master.cf under
// c.Dir/etc (postfix.sh config) without starting anything, and returns the
// script's path.
func WritePostfixConfig(ctx context.Context, c PostfixConfig) (string, error) {
	c.SetDefaults()
	dir, err := filepath.Abs(c.Dir)
	if c.Dir == "" || err != nil {
		return "", fmt.Errorf("peers: postfix: a directory is required (got %q)", c.Dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("peers: postfix: %w", err)
	}
	script := filepath.Join(dir, "postfix.sh")
	if err := os.WriteFile(script, postfixScript, 0o755); err != nil {
		return "", fmt.Errorf("peers: postfix: write the script: %w", err)
	}
	err = runScript(ctx, script, "config", dir, c.Relay, c.Listen,
		strconv.Itoa(c.Concurrency), strconv.Itoa(c.MsgsPerConn), strconv.Itoa(c.RcptsPerMsg))
	if err != nil {
		return "", err
	}
	return script, nil
}

// StartPostfix writes the configuration and starts the instance; it
// returns once smtpd accepts connections on c.Listen.
func StartPostfix(ctx context.Context, c PostfixConfig) (*Postfix, error) {
	if err := Check(); err != nil {
		return nil, err
	}
	script, err := WritePostfixConfig(ctx, c)
	if err != nil {
		return nil, err
	}
	p := &Postfix{dir: filepath.Dir(script), script: script, listen: c.Listen}
	if err := runScript(ctx, script, "start", p.dir); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

// Addr is the address smtpd listens on.
func (p *Postfix) Addr() string { return p.listen }

// Dir is the instance's directory.
func (p *Postfix) Dir() string { return p.dir }

// MasterPID returns the pid of the instance's master process.
func (p *Postfix) MasterPID() (int, error) {
	b, err := os.ReadFile(filepath.Join(p.dir, "queue", "pid", "master.pid"))
	if err != nil {
		return 0, fmt.Errorf("peers: postfix master pid: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("peers: postfix master pid: bad %q", b)
	}
	return pid, nil
}

// stopTimeout bounds Stop; the script itself gives up after 10 s.
const stopTimeout = 30 * time.Second

// Stop stops the instance and waits until none of its processes is left.
func (p *Postfix) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	return runScript(ctx, p.script, "stop", p.dir)
}

// LogTail returns the end of the instance's maillog, for error messages.
func (p *Postfix) LogTail() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "maillog"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(bytes.TrimSpace(b))
}

// scriptTimeout bounds one run of the script but stop (start waits 10 s
// for smtpd at most).
const scriptTimeout = time.Minute

// runScript runs postfix.sh with args, bounded by scriptTimeout.
func runScript(ctx context.Context, script string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, scriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{script}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("peers: postfix.sh %s: %w: %s", args[0], err, bytes.TrimSpace(out))
	}
	return nil
}

// FreeLoopbackAddr returns 127.0.0.1 with a port that was free a moment
// ago, for Listen. NB: another process may take it first; start then fails
// and says so.
func FreeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("peers: pick a port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}
