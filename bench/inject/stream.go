package inject

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"

	sluicev1 "github.com/sluice-mta/sluice/proto/sluice/v1"
)

// streamWindow is the most messages one stream has sent and not yet seen
// acknowledged; the sender waits while it is reached. The server's own
// window (api.Options.StreamWindow, 64 by default) and gRPC's flow control
// normally hold the client back first.
const streamWindow = 1024

// pending is a message sent on a stream and waiting for its ack.
type pending struct {
	seq   int
	rcpts int
	size  int
	sent  time.Time
}

// streamLoop runs one InjectStream after another until every message is
// claimed. A stream that fails takes its unacknowledged messages with it
// (they count as failed, by the stream's status code) and the next stream
// carries on; each stream claims a message before it opens, so against a
// dead server every attempt costs a message and the run ends.
func (w *grpcWorker) streamLoop(ctx context.Context) {
	for ctx.Err() == nil {
		seq := int(w.claims.next.Add(1) - 1)
		if seq >= w.cfg.Count {
			return
		}
		w.stream(ctx, seq)
	}
}

// stream sends message first and then claimed messages on one InjectStream
// while a second goroutine reads the acks, which must come in order. No
// progress (neither a Send returning nor an ack) for Config.Timeout ends
// the stream as DeadlineExceeded.
func (w *grpcWorker) stream(ctx context.Context, first int) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var timedOut atomic.Bool
	watchdog := time.AfterFunc(w.cfg.Timeout, func() { timedOut.Store(true); cancel() })
	defer watchdog.Stop()

	st, err := w.client.InjectStream(sctx)
	if err != nil {
		if ctx.Err() == nil {
			w.fail(1, w.streamKey(err, &timedOut))
		}
		return
	}
	inflight := make(chan pending, streamWindow)
	var lost int // claimed by the sender but never sent
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(inflight)
		lost = w.sendAll(sctx, st, first, inflight, func() { watchdog.Reset(w.cfg.Timeout) })
	})
	err = w.readAcks(st, inflight, func() { watchdog.Reset(w.cfg.Timeout) })
	// Stop the sender if the stream failed; what is left in flight was
	// sent and never acknowledged.
	cancel()
	for range inflight {
		if ctx.Err() == nil {
			w.fail(1, w.streamKey(err, &timedOut))
		}
	}
	wg.Wait()
	if lost > 0 && ctx.Err() == nil {
		w.fail(lost, w.streamKey(err, &timedOut))
	}
}

// sendAll sends message first, then claims and sends messages until Count
// is reached or the stream fails, and half-closes the stream. Each message
// enters inflight before it is sent. It returns the number of messages it
// claimed but could not send or hand over.
func (w *grpcWorker) sendAll(ctx context.Context, st sluicev1.Injector_InjectStreamClient,
	first int, inflight chan<- pending, progress func()) int {
	for seq := first; seq < w.cfg.Count; seq = int(w.claims.next.Add(1) - 1) {
		req := w.request(seq)
		p := pending{seq: seq, rcpts: len(req.Recipients), size: len(req.Content.RawMime), sent: time.Now()}
		select {
		case inflight <- p:
		case <-ctx.Done():
			return 1
		}
		if err := st.Send(&sluicev1.InjectStreamRequest{Seq: uint64(seq), Message: req}); err != nil {
			return 0 // the reader gets the stream's status from Recv
		}
		progress()
	}
	_ = st.CloseSend()
	return 0
}

// errOutOfOrder is a stream's failure when an ack does not match the oldest
// message waiting for one.
var errOutOfOrder = errors.New("ack out of order")

// readAcks reads acks until the stream ends, matching each with the oldest
// message of inflight, and returns why the stream ended; the messages left
// in inflight are unacknowledged and fail for that reason.
func (w *grpcWorker) readAcks(st sluicev1.Injector_InjectStreamClient, inflight <-chan pending, progress func()) error {
	for {
		ack, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return errEarlyEOF // harmless when nothing is left in flight
		}
		if err != nil {
			return err
		}
		progress()
		p, ok := <-inflight
		if !ok || uint64(p.seq) != ack.GetSeq() {
			if ok {
				w.fail(1, errOutOfOrder.Error())
			}
			return fmt.Errorf("%w: got seq %d", errOutOfOrder, ack.GetSeq())
		}
		if c := codes.Code(ack.GetCode()); c != codes.OK {
			w.fail(1, c.String())
			continue
		}
		w.rcpts += p.rcpts
		w.succeed(1, p.size, time.Since(p.sent))
		w.acked(int64(p.seq)*int64(w.cfg.Recipients), p.rcpts)
	}
}

// errEarlyEOF is a stream's failure when the server ended it with OK
// before acknowledging every message sent.
var errEarlyEOF = errors.New("stream ended before ack")

// streamKey names a stream's failure for Result.Errors.
func (w *grpcWorker) streamKey(err error, timedOut *atomic.Bool) string {
	switch {
	case timedOut.Load():
		return codes.DeadlineExceeded.String()
	case errors.Is(err, errOutOfOrder):
		return errOutOfOrder.Error()
	case errors.Is(err, errEarlyEOF):
		return errEarlyEOF.Error()
	}
	return codeKey(err)
}
