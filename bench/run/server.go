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
// kill and launch restart it on the same config, spool and ports.
type server struct {
	bin, dir, cfgPath string
	cmd               *exec.Cmd
	smtpAddr          string
	httpAddr          string
	grpcAddr          string // "" when the gRPC listener is off
	logPath           string
	exited            chan struct{} // closed when the process has been waited for
	waitErr           error         // set before exited is closed
}

// serverConfig returns the serve configuration for a run: spool under dir,
// listeners on the given loopback addresses, MX lookups at dnsAddr, delivery
// to port mxPort without TLS, then overrides merged over it key by key.
func serverConfig(dir, smtpAddr, httpAddr, grpcAddr, dnsAddr string, mxPort int, overrides map[string]any) ([]byte, error) {
	cfg := map[string]any{
		"spool":  map[string]any{"dir": filepath.Join(dir, "spool"), "min_free_space": "64MiB", "ballast_size": 0},
		"listen": map[string]any{"smtp": smtpAddr, "http": httpAddr, "grpc": grpcAddr},
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

// startServer writes the config into dir and starts bin serve on it, with a
// gRPC listener when withGRPC; it returns once /healthz answers 200, or
// fails if the process exits or startTimeout passes first.
func startServer(ctx context.Context, bin, dir, dnsAddr string, mxPort int, withGRPC bool, overrides map[string]any) (*server, error) {
	smtpAddr, err1 := freeAddr()
	httpAddr, err2 := freeAddr()
	var grpcAddr string
	var err3 error
	if withGRPC {
		grpcAddr, err3 = freeAddr()
	}
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, fmt.Errorf("run: pick ports: %w", err)
	}
	data, err := serverConfig(dir, smtpAddr, httpAddr, grpcAddr, dnsAddr, mxPort, overrides)
	if err != nil {
		return nil, fmt.Errorf("run: server config: %w", err)
	}
	cfgPath := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(cfgPath, data, 0o644); err != nil {
		return nil, fmt.Errorf("run: write server config: %w", err)
	}
	s := &server{bin: bin, dir: dir, cfgPath: cfgPath, smtpAddr: smtpAddr, httpAddr: httpAddr, grpcAddr: grpcAddr,
		logPath: filepath.Join(dir, "serve.log")}
	if err := s.launch(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// launch starts the process on s's config (the log is appended to) and
// waits until it is healthy; on failure the process is stopped.
func (s *server) launch(ctx context.Context) error {
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("run: server log: %w", err)
	}
	defer logf.Close() // the child has its own descriptor
	s.exited = make(chan struct{})
	s.cmd = exec.Command(s.bin, "serve", "--config", s.cfgPath)
	s.cmd.Dir = s.dir
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("run: start %s serve: %w", s.bin, err)
	}
	cmd, exited := s.cmd, s.exited
	go func() {
		s.waitErr = cmd.Wait()
		close(exited)
	}()
	if err := s.waitHealthy(ctx); err != nil {
		s.stop()
		return err
	}
	return nil
}

// kill kills the process with SIGKILL, as a crash would, and waits for it.
func (s *server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.exited
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
