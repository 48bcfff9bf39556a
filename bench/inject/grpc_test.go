package inject_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sluice-mta/sluice/bench/inject"
	sluicev1 "github.com/sluice-mta/sluice/proto/sluice/v1"
)

// fakeInjector is the peer of the client under test: it checks the API
// key, queues nothing, records what it got and acknowledges each message in
// order.
type fakeInjector struct {
	sluicev1.UnimplementedInjectorServer

	key        string                                // wanted API key; "" accepts any call
	rejectRcpt func(n int) codes.Code                // code of batch recipient n (0: queued)
	ackCode    func(seq uint64) codes.Code           // code of a stream ack (nil: OK)
	reorder    bool                                  // swap the first two acks of each stream
	check      func(raw []byte, rcpts []string) bool // content check; false fails the test

	mu struct {
		sync.Mutex
		rcpts    map[string]int // address -> times received
		calls    int            // Inject and InjectBatch calls, stream messages
		streams  [][]uint64     // seqs received, per stream
		badInput int            // requests failing check
	}
}

func (f *fakeInjector) auth(ctx context.Context) error {
	if f.key == "" {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("authorization"); len(v) != 1 || v[0] != "Bearer "+f.key {
		return status.Error(codes.Unauthenticated, "bad key")
	}
	return nil
}

// record notes one message or batch and returns its recipients' statuses.
func (f *fakeInjector) record(rcpts []*sluicev1.Recipient, c *sluicev1.Content) []*sluicev1.RecipientStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mu.rcpts == nil {
		f.mu.rcpts = map[string]int{}
	}
	f.mu.calls++
	addrs := make([]string, len(rcpts))
	sts := make([]*sluicev1.RecipientStatus, len(rcpts))
	for i, r := range rcpts {
		addrs[i] = r.GetAddress()
		f.mu.rcpts[r.GetAddress()]++
		sts[i] = &sluicev1.RecipientStatus{Address: r.GetAddress(), State: sluicev1.RecipientStatus_QUEUED, Id: "q1"}
		if f.rejectRcpt != nil {
			if code := f.rejectRcpt(i); code != codes.OK {
				sts[i].State, sts[i].Code, sts[i].Id = sluicev1.RecipientStatus_REJECTED, int32(code), ""
			}
		}
	}
	if f.check != nil && !f.check(c.GetRawMime(), addrs) {
		f.mu.badInput++
	}
	return sts
}

func (f *fakeInjector) Inject(ctx context.Context, req *sluicev1.InjectRequest) (*sluicev1.InjectResponse, error) {
	if err := f.auth(ctx); err != nil {
		return nil, err
	}
	return &sluicev1.InjectResponse{Id: "q1", Recipients: f.record(req.GetRecipients(), req.GetContent())}, nil
}

func (f *fakeInjector) InjectBatch(ctx context.Context, req *sluicev1.InjectBatchRequest) (*sluicev1.InjectBatchResponse, error) {
	if err := f.auth(ctx); err != nil {
		return nil, err
	}
	sts := f.record(req.GetRecipients(), req.GetContent())
	resp := &sluicev1.InjectBatchResponse{Recipients: sts}
	for _, st := range sts {
		if st.State == sluicev1.RecipientStatus_QUEUED {
			resp.Queued++
		} else {
			resp.Rejected++
		}
	}
	return resp, nil
}

func (f *fakeInjector) InjectStream(st grpc.BidiStreamingServer[sluicev1.InjectStreamRequest, sluicev1.InjectStreamResponse]) error {
	if err := f.auth(st.Context()); err != nil {
		return err
	}
	f.mu.Lock()
	idx := len(f.mu.streams)
	f.mu.streams = append(f.mu.streams, nil)
	f.mu.Unlock()
	var held *sluicev1.InjectStreamResponse // with reorder, the first ack
	for {
		req, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		m := req.GetMessage()
		ack := &sluicev1.InjectStreamResponse{Seq: req.GetSeq(), Result: &sluicev1.InjectResponse{
			Id: "q1", Recipients: f.record(m.GetRecipients(), m.GetContent()),
		}}
		if f.ackCode != nil {
			ack.Code = int32(f.ackCode(req.GetSeq()))
		}
		f.mu.Lock()
		f.mu.streams[idx] = append(f.mu.streams[idx], req.GetSeq())
		seen := len(f.mu.streams[idx])
		f.mu.Unlock()
		if f.reorder && held == nil && seen == 1 {
			held = ack
			continue
		}
		if err := st.Send(ack); err != nil {
			return err
		}
		if held != nil {
			if err := st.Send(held); err != nil {
				return err
			}
			held = nil
		}
	}
}

// startInjector serves f on 127.0.0.1:0 and returns its address.
func startInjector(t testing.TB, f *fakeInjector) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("cannot listen: %v", err)
	}
	s := grpc.NewServer()
	sluicev1.RegisterInjectorServer(s, f)
	var wg sync.WaitGroup
	wg.Go(func() { _ = s.Serve(l) })
	t.Cleanup(func() {
		s.Stop()
		wg.Wait()
	})
	return l.Addr().String()
}

// runGRPC runs cfg against target and fails the test on an error.
func runGRPC(t *testing.T, target string, cfg inject.Config) inject.Result {
	t.Helper()
	cfg.GRPCTarget = target
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	res, err := inject.Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// rawHasTo reports whether raw is a message whose To: is rcpts[0].
func rawHasTo(raw []byte, rcpts []string) bool {
	return len(rcpts) > 0 && strings.Contains(string(raw), "\r\nTo: <"+rcpts[0]+">\r\n") &&
		strings.Contains(string(raw), "\r\n\r\n")
}

func TestRun_GRPCInject_EveryRecipientOnceAndAcknowledged(t *testing.T) {
	f := &fakeInjector{key: "k1", check: rawHasTo}
	res := runGRPC(t, startInjector(t, f), inject.Config{
		Mode: inject.ModeGRPC, APIKey: "k1", Count: 300, Concurrency: 4, Recipients: 2, Size: 2048,
	})
	if res.Sent != 300 || res.Failed != 0 || res.Recipients != 600 || len(res.Errors) != 0 {
		t.Fatalf("sent %d failed %d rcpts %d errors %v; want 300, 0, 600, none",
			res.Sent, res.Failed, res.Recipients, res.Errors)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mu.calls != 300 || len(f.mu.rcpts) != 600 || f.mu.badInput != 0 {
		t.Errorf("server: %d calls, %d distinct recipients, %d bad; want 300, 600, 0",
			f.mu.calls, len(f.mu.rcpts), f.mu.badInput)
	}
	if l := res.Latency; !(0 < l.P50 && l.P50 <= l.P99 && l.P99 <= l.Max) || res.RecipientsPerSecond <= 0 {
		t.Errorf("latency %+v, rate %v", l, res.RecipientsPerSecond)
	}
	if res.Bytes < 300*1900 {
		t.Errorf("bytes %d; want about 300 x 2048", res.Bytes)
	}
}

func TestRun_GRPCBatch_CountIsRecipients_LastBatchSmaller(t *testing.T) {
	f := &fakeInjector{check: rawHasTo}
	res := runGRPC(t, startInjector(t, f), inject.Config{
		Mode: inject.ModeGRPCBatch, Count: 2500, BatchSize: 1000, Concurrency: 8,
	})
	if res.Sent != 2500 || res.Recipients != 2500 || res.Failed != 0 {
		t.Fatalf("sent %d rcpts %d failed %d (%v); want 2500, 2500, 0", res.Sent, res.Recipients, res.Failed, res.Errors)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mu.calls != 3 || len(f.mu.rcpts) != 2500 || f.mu.badInput != 0 {
		t.Errorf("server: %d batches, %d distinct recipients, %d bad; want 3, 2500, 0",
			f.mu.calls, len(f.mu.rcpts), f.mu.badInput)
	}
}

func TestRun_GRPCBatch_RejectedRecipients_CountedByCode(t *testing.T) {
	f := &fakeInjector{rejectRcpt: func(n int) codes.Code {
		if n%10 == 0 {
			return codes.InvalidArgument
		}
		return codes.OK
	}}
	res := runGRPC(t, startInjector(t, f), inject.Config{
		Mode: inject.ModeGRPCBatch, Count: 1000, BatchSize: 100, Concurrency: 2,
	})
	if res.Sent != 900 || res.Failed != 100 || res.Errors["InvalidArgument"] != 100 {
		t.Fatalf("sent %d failed %d errors %v; want 900, 100, InvalidArgument:100", res.Sent, res.Failed, res.Errors)
	}
}

func TestRun_GRPCStream_AcksInOrderPerStream(t *testing.T) {
	f := &fakeInjector{check: rawHasTo}
	res := runGRPC(t, startInjector(t, f), inject.Config{
		Mode: inject.ModeGRPCStream, Count: 2000, Concurrency: 3, Size: 1024,
	})
	if res.Sent != 2000 || res.Failed != 0 || res.Recipients != 2000 {
		t.Fatalf("sent %d failed %d rcpts %d (%v); want 2000, 0, 2000", res.Sent, res.Failed, res.Recipients, res.Errors)
	}
	if l := res.Latency; !(0 < l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.Max) {
		t.Errorf("latency not ordered: %+v", l)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.mu.streams) != 3 || len(f.mu.rcpts) != 2000 || f.mu.badInput != 0 {
		t.Errorf("server: %d streams, %d distinct recipients, %d bad; want 3, 2000, 0",
			len(f.mu.streams), len(f.mu.rcpts), f.mu.badInput)
	}
	for i, seqs := range f.mu.streams {
		for j := 1; j < len(seqs); j++ {
			if seqs[j] <= seqs[j-1] {
				t.Fatalf("stream %d: seq %d after %d; want increasing", i, seqs[j], seqs[j-1])
			}
		}
	}
}

func TestRun_GRPCStream_AckOutOfOrder_StreamFailsRunGoesOn(t *testing.T) {
	f := &fakeInjector{reorder: true}
	res := runGRPC(t, startInjector(t, f), inject.Config{
		Mode: inject.ModeGRPCStream, Count: 50, Concurrency: 1,
	})
	if res.Errors["ack out of order"] == 0 || res.Sent+res.Failed != 50 {
		t.Fatalf("sent %d failed %d errors %v; want out-of-order failures, 50 in all", res.Sent, res.Failed, res.Errors)
	}
}

func TestRun_GRPCStream_RefusedAcks_CountedByCode(t *testing.T) {
	f := &fakeInjector{ackCode: func(seq uint64) codes.Code {
		if seq%5 == 0 {
			return codes.ResourceExhausted
		}
		return codes.OK
	}}
	res := runGRPC(t, startInjector(t, f), inject.Config{
		Mode: inject.ModeGRPCStream, Count: 100, Concurrency: 2,
	})
	if res.Sent != 80 || res.Failed != 20 || res.Errors["ResourceExhausted"] != 20 {
		t.Fatalf("sent %d failed %d errors %v; want 80, 20, ResourceExhausted:20", res.Sent, res.Failed, res.Errors)
	}
}

func TestRun_GRPCWrongKey_CountedAsUnauthenticated(t *testing.T) {
	target := startInjector(t, &fakeInjector{key: "right"})
	for _, tc := range []struct{ mode, key string }{
		{inject.ModeGRPC, "wrong"},
		{inject.ModeGRPCBatch, "wrong"},
		{inject.ModeGRPCStream, "wrong"},
		{inject.ModeGRPCStream, ""},
	} {
		t.Run(tc.mode+"/"+tc.key, func(t *testing.T) {
			res := runGRPC(t, target, inject.Config{
				Mode: tc.mode, APIKey: tc.key, Count: 200, BatchSize: 50, Concurrency: 2,
			})
			if res.Sent != 0 || res.Failed != 200 || res.Errors["Unauthenticated"] != 200 {
				t.Fatalf("sent %d failed %d errors %v; want 0, 200, Unauthenticated:200", res.Sent, res.Failed, res.Errors)
			}
		})
	}
}

func TestRun_GRPCNothingListening_AllFailFast(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skip(err)
	}
	target := l.Addr().String()
	l.Close()
	for _, mode := range []string{inject.ModeGRPC, inject.ModeGRPCBatch, inject.ModeGRPCStream} {
		t.Run(mode, func(t *testing.T) {
			start := time.Now()
			res := runGRPC(t, target, inject.Config{Mode: mode, Count: 50, BatchSize: 10, Concurrency: 2})
			if res.Sent != 0 || res.Failed != 50 || res.Errors["Unavailable"] != 50 {
				t.Fatalf("sent %d failed %d errors %v; want 0, 50, Unavailable:50", res.Sent, res.Failed, res.Errors)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %s; want a fast failure", d)
			}
		})
	}
}

func TestRun_GRPCContextCancelled_ReturnsPromptly(t *testing.T) {
	target := startInjector(t, &fakeInjector{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := inject.Run(ctx, inject.Config{
		Mode: inject.ModeGRPCStream, GRPCTarget: target, Count: 10_000_000, Concurrency: 2,
	}, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v; want DeadlineExceeded", err)
	}
	// Messages sent but not yet acknowledged when the context ends count as
	// failed: at most the unacked window of each stream (1,024).
	if d := time.Since(start); d > 5*time.Second || res.Failed > 2*1024 {
		t.Errorf("returned after %s with %d failed; want promptly, at most the unacked windows failed", d, res.Failed)
	}
}

func TestConfig_Validate_Modes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   inject.Config
		valid bool
	}{
		{"smtp default", inject.Config{Target: "127.0.0.1:25"}, true},
		{"smtp needs Target", inject.Config{GRPCTarget: "127.0.0.1:1"}, false},
		{"grpc needs GRPCTarget", inject.Config{Mode: inject.ModeGRPC, Target: "127.0.0.1:25"}, false},
		{"grpc ok", inject.Config{Mode: inject.ModeGRPC, GRPCTarget: "127.0.0.1:1"}, true},
		{"batch ok", inject.Config{Mode: inject.ModeGRPCBatch, GRPCTarget: "127.0.0.1:1"}, true},
		{"stream bad target", inject.Config{Mode: inject.ModeGRPCStream, GRPCTarget: "localhost"}, false},
		{"unknown mode", inject.Config{Mode: "http", GRPCTarget: "127.0.0.1:1"}, false},
		{"key with newline", inject.Config{Mode: inject.ModeGRPC, GRPCTarget: "127.0.0.1:1", APIKey: "a\nb"}, false},
		{"negative batch", inject.Config{Mode: inject.ModeGRPCBatch, GRPCTarget: "127.0.0.1:1", BatchSize: -1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cfg
			c.SetDefaults()
			if err := c.Validate(); (err == nil) != tc.valid {
				t.Errorf("Validate() = %v, want valid %v", err, tc.valid)
			}
		})
	}
}

func TestRun_Acked_NamesEveryAcknowledgedRecipientOnce(t *testing.T) {
	for _, mode := range []string{inject.ModeGRPC, inject.ModeGRPCBatch, inject.ModeGRPCStream} {
		t.Run(mode, func(t *testing.T) {
			f := &fakeInjector{rejectRcpt: func(n int) codes.Code {
				if mode == inject.ModeGRPCBatch && n%10 == 3 {
					return codes.InvalidArgument // batch recipient 3, 13, ... refused
				}
				return codes.OK
			}}
			var mu sync.Mutex
			acked := map[int64]int{}
			cfg := inject.Config{Mode: mode, Count: 120, BatchSize: 40, Concurrency: 3, Recipients: 2, Domains: 7,
				Acked: func(first int64, n int) {
					mu.Lock()
					defer mu.Unlock()
					for i := range int64(n) {
						acked[first+i]++
					}
				}}
			res := runGRPC(t, startInjector(t, f), cfg)
			cfg.SetDefaults()
			f.mu.Lock()
			defer f.mu.Unlock()
			if len(acked) != res.Recipients {
				t.Errorf("Acked named %d recipients, the result says %d", len(acked), res.Recipients)
			}
			for n, k := range acked {
				if k != 1 || f.mu.rcpts[cfg.Address(n)] != 1 {
					t.Errorf("recipient %d (%s): acked %d times, server got it %d times", n, cfg.Address(n), k, f.mu.rcpts[cfg.Address(n)])
				}
				if mode == inject.ModeGRPCBatch && n%40%10 == 3 {
					t.Errorf("refused batch recipient %d was named acked", n)
				}
			}
		})
	}
}
