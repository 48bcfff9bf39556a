package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sluice-mta/sluice/configs"
	"github.com/sluice-mta/sluice/engine"
	"github.com/sluice-mta/sluice/engine/spool/spooltest"
	pb "github.com/sluice-mta/sluice/proto/sluice/v1"
)

// fsEngine opens an engine (no delivery) whose spool lives on fs.
func fsEngine(t *testing.T, fs vfs.FS) (*engine.Engine, string) {
	t.Helper()
	cfg, err := configs.Load("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Spool.Dir = t.TempDir()
	cfg.Spool.MinFreeSpace, cfg.Spool.BallastSize = 0, 0
	eng, err := engine.New(cfg, engine.Deps{NoDelivery: true, Logger: slog.New(slog.DiscardHandler), SpoolFS: fs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	return eng, cfg.Spool.Dir
}

// syncedHasRcpt reports an error unless what a power cut would leave of
// fs now (synced data only) holds a recipient with address addr.
func syncedHasRcpt(fs *vfs.MemFS, dir, addr string) error {
	found, err := spooltest.SyncedHasRecipient(fs, dir, addr)
	if err == nil && !found {
		err = fmt.Errorf("OK for <%s> before its message was synced", addr)
	}
	return err
}

// earlyAck is the deliberately broken Submitter of row 4: it answers with a
// queue ID at once and stores the message only when released.
type earlyAck struct {
	Submitter
	release chan struct{}
	stored  chan error
}

func (s earlyAck) Submit(_ context.Context, env engine.Envelope, body []byte) (string, error) {
	go func() {
		<-s.release
		_, err := s.Submitter.Submit(context.Background(), env, body)
		s.stored <- err
	}()
	return "EARLY", nil
}

// TestReliability04_GRPCOKOnlyAfterSync is row 4 at the gRPC API: the
// engine's spool lives on Pebble's crashable in-memory FS, and at every OK
// from Inject the guard takes what a power cut would leave at that instant
// and requires the message in it. The real path passes; a deliberately
// broken Submitter that acknowledges before storing is caught.
func TestReliability04_GRPCOKOnlyAfterSync(t *testing.T) {
	inject := func(env *testEnv, addr string) error {
		_, err := env.client.Inject(withKey(keyInject), &pb.InjectRequest{From: "news@shop.example",
			Recipients: rcpts(addr), Content: &pb.Content{Subject: "s", Text: "t"}})
		return err
	}
	mem := vfs.NewCrashableMem()
	eng, dir := fsEngine(t, mem)
	env := testServer(t, nil, func(o *Options) { o.Submitter = eng })
	for i := 0; i < 10; i++ {
		addr := fmt.Sprintf("r%d@d%d.test", i, i%3)
		if err := inject(env, addr); err != nil {
			t.Fatal(err)
		}
		if err := syncedHasRcpt(mem, dir, addr); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}

	mem = vfs.NewCrashableMem()
	eng, dir = fsEngine(t, mem)
	broken := earlyAck{Submitter: eng, release: make(chan struct{}), stored: make(chan error, 1)}
	env = testServer(t, nil, func(o *Options) { o.Submitter = broken })
	if err := inject(env, "early@d.test"); err != nil {
		t.Fatal(err)
	}
	err := syncedHasRcpt(mem, dir, "early@d.test")
	close(broken.release)
	if serr := <-broken.stored; serr != nil {
		t.Fatal(serr)
	}
	if err == nil {
		t.Fatal("the guard missed an OK sent before the message was synced")
	}
	t.Logf("broken variant caught as it must be: %v", err)
}

// TestReliability06_SpoolIOError_APIUnavailableThenRecovers is row 6 at the
// API: while every spool write but the WAL's fails with EIO, Inject answers
// UNAVAILABLE; once the fault clears, it answers OK again.
func TestReliability06_SpoolIOError_APIUnavailableThenRecovers(t *testing.T) {
	var failing atomic.Bool
	fs := errorfs.Wrap(vfs.Default, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if failing.Load() && op.Kind.ReadOrWrite() == errorfs.OpIsWrite && !strings.HasSuffix(op.Path, ".log") {
			return errorfs.ErrInjected
		}
		return nil
	}))
	eng, _ := fsEngine(t, fs)
	env := testServer(t, nil, func(o *Options) { o.Submitter = eng })
	inject := func() error {
		_, err := env.client.Inject(withKey(keyInject), &pb.InjectRequest{From: "news@shop.example",
			Recipients: rcpts("a@d.test"), Content: &pb.Content{Subject: "s", Text: "t"}})
		return err
	}
	if err := inject(); err != nil {
		t.Fatal(err)
	}
	failing.Store(true)
	waitHealthy(t, eng, false)
	if err := inject(); status.Code(err) != codes.Unavailable {
		t.Fatalf("Inject while the spool fails: %v, want UNAVAILABLE", err)
	}
	failing.Store(false)
	waitHealthy(t, eng, true)
	if err := inject(); err != nil {
		t.Fatalf("Inject after the fault cleared: %v", err)
	}
	if st := eng.SpoolStats(); st.Recipients != 2 {
		t.Fatalf("%d recipients queued, want 2", st.Recipients)
	}
}

// waitHealthy waits (up to 30 s: the probe runs every second) until the
// engine's spool is healthy or not, as want says.
func waitHealthy(t *testing.T, eng *engine.Engine, want bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for (eng.Healthy() == nil) != want {
		if time.Now().After(deadline) {
			t.Fatalf("spool healthy = %v after 30 s, want %v", eng.Healthy() == nil, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReliability27_RESTBodyOverLimit_413 is row 27's limit at the REST
// gateway: a body over MaxRequestBytes is answered 413 (with the usual JSON
// error), not 400, and nothing is queued.
func TestReliability27_RESTBodyOverLimit_413(t *testing.T) {
	env := testServer(t, nil, func(o *Options) { o.MaxRequestBytes = 4096 })
	body := `{"from": "a@shop.example", "recipients": [{"address": "b@x.test"}], "content": {"text": "` +
		strings.Repeat("x", 8192) + `"}}`
	code, out := post(t, env.url+"/v1/messages", "Bearer "+keyInject, body)
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(string(out), "too large") {
		t.Fatalf("got HTTP %d %s, want 413", code, out)
	}
	if len(env.sub.submissions()) != 0 {
		t.Fatal("queued")
	}
}
