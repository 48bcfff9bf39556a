package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/emersion/go-smtp"

	"github.com/sluice-mta/sluice/configs"
	"github.com/sluice-mta/sluice/engine/receive"
	"github.com/sluice-mta/sluice/engine/spool"
	"github.com/sluice-mta/sluice/engine/spool/spooltest"
)

// fsEngine starts an engine (no delivery) whose spool lives on fs, and an
// SMTP listener on loopback in front of sub(e) (e.SMTPSubmitter() when nil).
func fsEngine(t *testing.T, fs vfs.FS, sub func(*Engine) receive.Submitter) (*Engine, string) {
	t.Helper()
	cfg, err := configs.Load("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Spool.Dir = t.TempDir()
	cfg.Spool.MinFreeSpace, cfg.Spool.BallastSize = 0, 0
	e, err := New(cfg, Deps{NoDelivery: true, Logger: slog.New(slog.DiscardHandler), SpoolFS: fs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	var s receive.Submitter = e.SMTPSubmitter()
	if sub != nil {
		s = sub(e)
	}
	srv, err := receive.NewServer(receive.Config{Hostname: "mx.sluice.test", Logger: slog.New(slog.DiscardHandler),
		RelayNetworks: mustPrefixes(t, "127.0.0.0/8")}, s)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return e, l.Addr().String()
}

// syncedHasRcpt reports an error unless what a power cut would leave of
// fs now (synced data only) holds a recipient with address addr.
func syncedHasRcpt(fs *vfs.MemFS, dir, addr string) error {
	found, err := spooltest.SyncedHasRecipient(fs, dir, addr)
	if err == nil && !found {
		err = fmt.Errorf("250 for <%s> before its message was synced", addr)
	}
	return err
}

// earlyAck is the deliberately broken Submitter of row 4: it answers with
// a queue ID at once and stores the message only when released.
type earlyAck struct {
	receive.Submitter
	release chan struct{}
	stored  chan error
}

func (s earlyAck) Submit(_ context.Context, env *receive.Envelope, body []byte) (string, error) {
	go func() {
		<-s.release
		_, err := s.Submitter.Submit(context.Background(), env, body)
		s.stored <- err
	}()
	return "EARLY", nil
}

// TestReliability04_SMTP250OnlyAfterSync is row 4 at the SMTP listener:
// the spool lives on Pebble's crashable in-memory FS, and at every 250 the
// guard takes what a power cut would leave at that instant and requires the
// message in it. The engine's path passes; a deliberately broken Submitter
// that acknowledges before storing is caught, which proves the guard fails
// when an ack comes before the synced commit.
func TestReliability04_SMTP250OnlyAfterSync(t *testing.T) {
	mem := vfs.NewCrashableMem()
	e, addr := fsEngine(t, mem, nil)
	dir := e.cfg.Spool.Dir
	for i := 0; i < 10; i++ {
		rcpt := fmt.Sprintf("r%d@d%d.test", i, i%3)
		if err := sendMail(addr, "a@sender.test", []string{rcpt}, "Subject: t\r\n\r\nx\r\n"); err != nil {
			t.Fatal(err)
		}
		if err := syncedHasRcpt(mem, dir, rcpt); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}

	mem = vfs.NewCrashableMem()
	broken := earlyAck{release: make(chan struct{}), stored: make(chan error, 1)}
	e, addr = fsEngine(t, mem, func(e *Engine) receive.Submitter { broken.Submitter = e.SMTPSubmitter(); return broken })
	if err := sendMail(addr, "a@sender.test", []string{"early@d.test"}, "Subject: t\r\n\r\nx\r\n"); err != nil {
		t.Fatal(err)
	}
	err := syncedHasRcpt(mem, e.cfg.Spool.Dir, "early@d.test")
	close(broken.release)
	if serr := <-broken.stored; serr != nil {
		t.Fatal(serr)
	}
	if err == nil {
		t.Fatal("the guard missed a 250 sent before the message was synced")
	}
	t.Logf("broken variant caught as it must be: %v", err)
}

// TestReliability06_SpoolIOError_ShedsLoadThenRecovers is row 6: every
// write to the spool's file system but the WAL's fails with EIO (Pebble
// exits the process on a failed WAL write, so the spool must notice the
// failing disk first: its probe write every second does). While the fault
// lasts, a new SMTP connection gets 421 at the greeting and Submit an error
// wrapping spool.ErrUnavailable (the API's UNAVAILABLE); once it clears,
// mail is accepted again, and what was stored before is all there.
func TestReliability06_SpoolIOError_ShedsLoadThenRecovers(t *testing.T) {
	var failing atomic.Bool
	fs := errorfs.Wrap(vfs.Default, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if failing.Load() && op.Kind.ReadOrWrite() == errorfs.OpIsWrite && !strings.HasSuffix(op.Path, ".log") {
			return errorfs.ErrInjected
		}
		return nil
	}))
	e, addr := fsEngine(t, fs, nil)
	if err := sendMail(addr, "a@sender.test", []string{"before@d.test"}, "Subject: t\r\n\r\nx\r\n"); err != nil {
		t.Fatal(err)
	}
	failing.Store(true)
	waitFor(t, "the spool to notice the failing disk", func() bool { return e.Healthy() != nil })
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Hello("client.test") // reads the greeting first
	c.Close()
	var se *smtp.SMTPError
	if err == nil {
		t.Fatalf("a new connection was greeted while the spool is failing (healthy: %v)", e.Healthy())
	}
	if !errors.As(err, &se) || se.Code != 421 {
		t.Fatalf("greeting while failing: %v, want 421", err)
	}
	if _, err := e.Submit(context.Background(), Envelope{From: "a@sender.test", To: []string{"x@d.test"}}, []byte(body)); !errors.Is(err, spool.ErrUnavailable) {
		t.Fatalf("Submit while failing: %v, want spool.ErrUnavailable", err)
	}
	failing.Store(false)
	waitFor(t, "the spool to recover", func() bool { return e.Healthy() == nil })
	if err := sendMail(addr, "a@sender.test", []string{"after@d.test"}, "Subject: t\r\n\r\nx\r\n"); err != nil {
		t.Fatalf("after the fault cleared: %v", err)
	}
	if st := e.SpoolStats(); st.Recipients != 2 {
		t.Fatalf("%d recipients queued, want 2 (before and after the fault)", st.Recipients)
	}
}
