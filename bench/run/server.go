package run

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"
)

// server is a `sluice serve` child process on a config the runner wrote.
type server struct {
	cmd      *exec.Cmd
	smtpAddr string
	httpAddr string
	logPath  string
	exited   chan struct{} // closed when the process has been waited for
	waitErr  error         // set before exited is closed
}

// serverConfig returns the serve configuration for a run: spool under dir,
// listeners on the given loopback addresses, MX lookups at dnsAddr, delivery
// to port mxPort without TLS, then overrides merged over it key by key.
func serverConfig(dir, smtpAddr, httpAddr, dnsAddr string, mxPort int, overrides map[string]any) ([]byte, error) {
	cfg := map[string]any{
		"spool":  map[string]any{"dir": filepath.Join(dir, "spool"), "min_free_space": "64MiB", "ballast_size": 0},
		"listen": map[string]any{"smtp": smtpAddr, "http": httpAddr, "grpc": ""},
		"delivery": map[string]any{
			"mx_port": mxPort, "tls": "off", "helo": "sluice.bench.test",
		},
		"dns": map[string]any{"resolvers": []string{dnsAddr}},
		"log": map[string]any{"level": "warn"},
	}
	merge(cfg, overrides)
	return yaml.Marshal(cfg)
}

// merge copies src into dst: maps merge key by key, anything else replaces.
func merge(dst, src map[string]any) {
	for k, v := range src {
		sv, ok1 := v.(map[string]any)
		dv, ok2 := dst[k].(map[string]any)
		if ok1 && ok2 {
			merge(dv, sv)
			continue
		}
		if ok1 { // a deep copy, so that dst never shares src's maps
			c := make(map[string]any, len(sv))
			merge(c, sv)
			v = c
		}
		dst[k] = v
	}
}

// freeAddr returns a loopback address with a port that was free a moment
// ago. NB: another process may take it before the server binds it; the
// server then fails to start and says so.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startServer writes the config into dir and starts bin serve on it; it
// returns once /healthz answers 200, or fails if the process exits or
// startTimeout passes first.
func startServer(ctx context.Context, bin, dir, dnsAddr string, mxPort int, overrides map[string]any) (*server, error) {
	smtpAddr, err1 := freeAddr()
	httpAddr, err2 := freeAddr()
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("run: pick ports: %w", err)
	}
	data, err := serverConfig(dir, smtpAddr, httpAddr, dnsAddr, mxPort, overrides)
	if err != nil {
		return nil, fmt.Errorf("run: server config: %w", err)
	}
	cfgPath := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(cfgPath, data, 0o644); err != nil {
		return nil, fmt.Errorf("run: write server config: %w", err)
	}
	s := &server{smtpAddr: smtpAddr, httpAddr: httpAddr, logPath: filepath.Join(dir, "serve.log"),
		exited: make(chan struct{})}
	logf, err := os.Create(s.logPath)
	if err != nil {
		return nil, fmt.Errorf("run: server log: %w", err)
	}
	defer logf.Close() // the child has its own descriptor
	s.cmd = exec.Command(bin, "serve", "--config", cfgPath)
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("run: start %s serve: %w", bin, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitHealthy(ctx); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// startTimeout bounds the wait for a new server's /healthz.
const startTimeout = 30 * time.Second

func (s *server) waitHealthy(ctx context.Context) error {
	cl := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		resp, err := cl.Get("http://" + s.httpAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("run: sluice serve exited at start (%v): %s", s.waitErr, s.logTail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("run: sluice serve not healthy after %s: %s", startTimeout, s.logTail())
}

// pid returns the server's process id.
func (s *server) pid() int { return s.cmd.Process.Pid }

// stopTimeout bounds a graceful stop before the server is killed.
const stopTimeout = 15 * time.Second

// stop asks the server to stop (SIGTERM), kills it after stopTimeout, and
// waits for it.
func (s *server) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// logTail returns the end of the server's log, for error messages.
func (s *server) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(bytes.TrimSpace(b))
}
