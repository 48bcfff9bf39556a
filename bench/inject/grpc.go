package inject

import (
	"context"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	sluicev1 "github.com/sluice-mta/sluice/proto/sluice/v1"
)

// grpcWorker is one gRPC caller (ModeGRPC, ModeGRPCBatch) or one
// InjectStream stream at a time (ModeGRPCStream), on its own connection.
type grpcWorker struct {
	id     int
	cfg    *Config
	claims *claims
	msg    *message
	client sluicev1.InjectorClient

	tally
}

// runGRPC runs the workers of cfg.Mode, each on its own connection to
// cfg.GRPCTarget, until every message (or batch) is claimed. The error is
// that of setting up a connection; failed calls are in the tallies.
func runGRPC(ctx context.Context, cfg *Config, cl *claims, start time.Time) ([]*tally, error) {
	jobs, loop := cfg.Count, (*grpcWorker).injectLoop
	switch cfg.Mode {
	case ModeGRPCBatch:
		jobs, loop = (cfg.Count+cfg.BatchSize-1)/cfg.BatchSize, (*grpcWorker).batchLoop
	case ModeGRPCStream:
		loop = (*grpcWorker).streamLoop
	}
	if cfg.APIKey != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+cfg.APIKey)
	}
	n := min(cfg.Concurrency, jobs)
	conns := make([]*grpc.ClientConn, 0, n)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	workers := make([]*grpcWorker, n)
	for i := range workers {
		cc, err := dial(cfg)
		if err != nil {
			return nil, err
		}
		conns = append(conns, cc)
		workers[i] = &grpcWorker{
			id:     i,
			cfg:    cfg,
			claims: cl,
			msg:    newMessage(cfg, i, start),
			client: sluicev1.NewInjectorClient(cc),
			tally:  newTally(jobs/n + 1),
		}
	}
	tallies := make([]*tally, n)
	var wg sync.WaitGroup
	for i, w := range workers {
		tallies[i] = &w.tally
		wg.Go(func() { loop(w, ctx) })
	}
	wg.Wait()
	return tallies, nil
}

// dial makes a plaintext client connection to cfg.GRPCTarget. It connects
// lazily, at the first call; while it cannot, calls fail at once with
// Unavailable.
func dial(cfg *Config) (*grpc.ClientConn, error) {
	d := net.Dialer{Timeout: cfg.Timeout}
	if cfg.LocalAddr != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(cfg.LocalAddr)}
	}
	return grpc.NewClient("passthrough:///"+cfg.GRPCTarget,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", addr)
		}))
}

// rawMIME returns message seq of the worker, whose first recipient is to,
// in a fresh slice (gRPC may read a sent message after Send returned).
func (w *grpcWorker) rawMIME(seq int, to string) []byte {
	head := w.msg.header(w.id, seq, to, stampFor(w.cfg, time.Now()))
	b := make([]byte, 0, len(head)+len(w.msg.fixed))
	return append(append(b, head...), w.msg.fixed...)
}

// request builds the InjectRequest of message seq.
func (w *grpcWorker) request(seq int) *sluicev1.InjectRequest {
	rcpts := make([]*sluicev1.Recipient, w.cfg.Recipients)
	for j := range rcpts {
		rcpts[j] = &sluicev1.Recipient{Address: w.msg.address(w.cfg, seq, j)}
	}
	return &sluicev1.InjectRequest{
		From:       w.cfg.From,
		Recipients: rcpts,
		Content:    &sluicev1.Content{RawMime: w.rawMIME(seq, rcpts[0].Address)},
	}
}

// injectLoop sends one Inject call per claimed message.
func (w *grpcWorker) injectLoop(ctx context.Context) {
	for ctx.Err() == nil {
		seq := int(w.claims.next.Add(1) - 1)
		if seq >= w.cfg.Count {
			return
		}
		req := w.request(seq)
		cctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
		t0 := time.Now()
		resp, err := w.client.Inject(cctx, req)
		lat := time.Since(t0)
		cancel()
		switch {
		case err != nil && ctx.Err() != nil:
			return // cancelled: neither sent nor failed
		case err != nil:
			w.fail(1, codeKey(err))
			continue
		}
		queued, key := countQueued(resp.GetRecipients())
		w.rcpts += queued
		if key != "" || queued != len(req.Recipients) {
			w.fail(1, firstNonEmpty(key, codes.Unknown.String()))
			continue
		}
		w.succeed(1, len(req.Content.RawMime), lat)
		w.acked(int64(seq)*int64(w.cfg.Recipients), len(req.Recipients))
	}
}

// acked tells Config.Acked, if set, of n acknowledged recipients from first.
func (w *grpcWorker) acked(first int64, n int) {
	if w.cfg.Acked != nil {
		w.cfg.Acked(first, n)
	}
}

// batchLoop sends one InjectBatch call per claimed batch: batch b carries
// recipients b*BatchSize up to Count, one raw_mime body addressed (To:) to
// its first recipient.
func (w *grpcWorker) batchLoop(ctx context.Context) {
	for ctx.Err() == nil {
		first := int(w.claims.next.Add(1)-1) * w.cfg.BatchSize
		if first >= w.cfg.Count {
			return
		}
		k := min(w.cfg.BatchSize, w.cfg.Count-first)
		rcpts := make([]*sluicev1.Recipient, k)
		for j := range rcpts {
			rcpts[j] = &sluicev1.Recipient{Address: w.msg.addressN(w.cfg, int64(first+j))}
		}
		req := &sluicev1.InjectBatchRequest{
			From:       w.cfg.From,
			Recipients: rcpts,
			Content:    &sluicev1.Content{RawMime: w.rawMIME(first, rcpts[0].Address)},
		}
		cctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
		t0 := time.Now()
		resp, err := w.client.InjectBatch(cctx, req)
		lat := time.Since(t0)
		cancel()
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil:
			w.fail(k, codeKey(err))
			continue
		}
		w.batchResult(first, req, resp, lat)
	}
}

// batchResult tallies the recipients of one answered batch.
func (w *grpcWorker) batchResult(first int, req *sluicev1.InjectBatchRequest, resp *sluicev1.InjectBatchResponse, lat time.Duration) {
	sts := resp.GetRecipients()
	queued := 0
	for i, st := range sts {
		if st.GetState() == sluicev1.RecipientStatus_QUEUED {
			queued++
			w.acked(int64(first+i), 1)
		} else {
			w.fail(1, statusKey(st))
		}
	}
	if missing := len(req.Recipients) - len(sts); missing > 0 {
		w.fail(missing, "missing recipient status")
	}
	if queued > 0 {
		w.rcpts += queued
		w.succeed(queued, len(req.Content.RawMime), lat)
	}
}

// succeed counts n acknowledged units (messages, or batch recipients) of
// size bytes in total and one latency sample.
func (w *grpcWorker) succeed(n, size int, lat time.Duration) {
	w.sent += n
	w.bytes += int64(size)
	w.lat = append(w.lat, lat)
	w.claims.sent.Add(int64(n))
}

// fail counts n failed units under key.
func (w *grpcWorker) fail(n int, key string) {
	w.failed += n
	w.errs[key] += n
	w.claims.failed.Add(int64(n))
}

// countQueued returns how many of sts are QUEUED and the error key of the
// first that is not ("" when all are).
func countQueued(sts []*sluicev1.RecipientStatus) (int, string) {
	n, key := 0, ""
	for _, st := range sts {
		if st.GetState() == sluicev1.RecipientStatus_QUEUED {
			n++
		} else if key == "" {
			key = statusKey(st)
		}
	}
	return n, key
}

// codeKey names a call's failure for Result.Errors: its gRPC code.
func codeKey(err error) string {
	return status.Code(err).String()
}

// statusKey names a recipient's refusal: its code, else its state.
func statusKey(st *sluicev1.RecipientStatus) string {
	if c := st.GetCode(); c != 0 {
		return codes.Code(c).String()
	}
	return st.GetState().String()
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
