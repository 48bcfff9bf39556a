package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sluice-mta/sluice/engine"
	pb "github.com/sluice-mta/sluice/proto/sluice/v1"
)

// submission is one call of fakeSubmitter.Submit.
type submission struct {
	env  engine.Envelope
	body []byte
	id   string
}

// fakeSubmitter records submissions. fail, when set, may refuse one (its
// argument is the 0-based call number); gate, when set, makes every Submit
// wait for a value from it.
type fakeSubmitter struct {
	fail func(n int, env engine.Envelope) error
	gate chan struct{}

	waiting, maxWaiting atomic.Int32 // Submits blocked on gate

	mu   sync.Mutex
	n    int
	subs []submission
}

func (f *fakeSubmitter) Submit(ctx context.Context, env engine.Envelope, body []byte) (string, error) {
	if f.gate != nil {
		w := f.waiting.Add(1)
		for m := f.maxWaiting.Load(); w > m && !f.maxWaiting.CompareAndSwap(m, w); m = f.maxWaiting.Load() {
		}
		defer f.waiting.Add(-1)
		select {
		case <-f.gate:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.n
	f.n++
	if f.fail != nil {
		if err := f.fail(n, env); err != nil {
			return "", err
		}
	}
	id := fmt.Sprintf("m%06d", n)
	f.subs = append(f.subs, submission{env: env, body: append([]byte(nil), body...), id: id})
	return id, nil
}

func (f *fakeSubmitter) submissions() []submission {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]submission(nil), f.subs...)
}

// Test keys: plain text and configuration.
var (
	keyInject, _     = NewKey()
	keyAdmin, _      = NewKey()
	keyRead, _       = NewKey()
	keyRestricted, _ = NewKey()
	testKeys         = []Key{
		{Name: "injector", Hash: HashKey(keyInject), Role: RoleInject},
		{Name: "ops", Hash: HashKey(keyAdmin), Role: RoleAdmin},
		{Name: "dashboard", Hash: HashKey(keyRead), Role: RoleRead},
		{Name: "shop", Hash: HashKey(keyRestricted), Role: RoleInject, SenderDomains: []string{"shop.example"}, Pools: []string{"marketing"}},
	}
)

// testEnv is a running API: a real gRPC server and a real HTTP server on
// loopback, over a fakeSubmitter.
type testEnv struct {
	sub    *fakeSubmitter
	srv    *Server
	conn   *grpc.ClientConn
	client pb.InjectorClient
	url    string // http://127.0.0.1:port
}

// testServer starts the API; mutate adjusts the options first.
func testServer(t *testing.T, sub *fakeSubmitter, mutate func(*Options), extra ...grpc.ServerOption) *testEnv {
	t.Helper()
	if sub == nil {
		sub = &fakeSubmitter{}
	}
	opts := Options{
		Submitter:       sub,
		Keys:            testKeys,
		MessageIDDomain: "mta.test",
		Clock:           func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) },
		Logger:          slog.New(slog.DiscardHandler),
	}
	if mutate != nil {
		mutate(&opts)
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	g := srv.GRPCServer(extra...)
	gln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Serve(gln) }()
	t.Cleanup(g.Stop)

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	rest, err := srv.RESTHandler(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: rest, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(hln) }()
	t.Cleanup(func() { _ = hs.Close() })

	conn, err := grpc.NewClient(gln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(256<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &testEnv{sub: sub, srv: srv, conn: conn, client: pb.NewInjectorClient(conn), url: "http://" + hln.Addr().String()}
}

// withKey returns a context whose gRPC calls send key.
func withKey(key string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+key)
}

// wantStatus fails unless err has code and (when field != "") a BadRequest
// detail naming field.
func wantStatus(t *testing.T, err error, code codes.Code, field string) {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != code {
		t.Fatalf("status = %v %q, want %v", st.Code(), st.Message(), code)
	}
	if field == "" {
		return
	}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for i, v := range br.FieldViolations {
				if v.Field == field {
					if i == 0 && !strings.Contains(st.Message(), field) {
						t.Errorf("message %q does not name %s", st.Message(), field)
					}
					return
				}
			}
		}
	}
	t.Fatalf("status %v %q has no field violation for %q (details %v)", st.Code(), st.Message(), field, st.Details())
}

var errStorage = errors.New("pebble: disk on fire")

// rawMIME is a small complete message.
var rawMIME = []byte("From: news@shop.example\r\nTo: list@shop.example\r\nSubject: hi\r\n\r\nhello\r\n")

func rcpts(addrs ...string) []*pb.Recipient {
	out := make([]*pb.Recipient, len(addrs))
	for i, a := range addrs {
		out[i] = &pb.Recipient{Address: a}
	}
	return out
}
