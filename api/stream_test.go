package api

import (
	"bytes"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	pb "github.com/sluice-mta/sluice/proto/sluice/v1"
)

// TestInjectStream_SlowSpool_BlocksClient_AcksAllInOrder streams 10,000
// messages into a spool that stores nothing until released: the client's
// Send must stall (gRPC flow control, no unbounded buffering), at most
// StreamWindow Submits may wait at once, and once the spool moves every
// message is acknowledged, in order, exactly once.
func TestInjectStream_SlowSpool_BlocksClient_AcksAllInOrder(t *testing.T) {
	total, window := 100_000, 8 // the issue: 100,000 recipients against a deliberately slow consumer
	if testing.Short() {
		total = 10_000
	}
	sub := &fakeSubmitter{gate: make(chan struct{})}
	env := testServer(t, sub, func(o *Options) { o.StreamWindow = window },
		grpc.InitialWindowSize(64<<10), grpc.InitialConnWindowSize(64<<10))
	stream, err := env.client.InjectStream(withKey(keyInject))
	if err != nil {
		t.Fatal(err)
	}
	body := append(append([]byte{}, rawMIME...), bytes.Repeat([]byte("0123456789abcdef\r\n"), 60)...) // ~1 KB
	var sent atomic.Int64
	sendErr := make(chan error, 1)
	go func() {
		for i := range total {
			err := stream.Send(&pb.InjectStreamRequest{Seq: uint64(i), Message: &pb.InjectRequest{
				From: "news@shop.example", Recipients: rcpts(fmt.Sprintf("u%d@x.test", i)), Content: &pb.Content{RawMime: body},
			}})
			if err != nil {
				sendErr <- err
				return
			}
			sent.Add(1)
		}
		sendErr <- stream.CloseSend()
	}()

	// The spool is stuck: the client must stop, far short of the total.
	last := int64(-1)
	for deadline := time.Now().Add(10 * time.Second); ; {
		time.Sleep(100 * time.Millisecond)
		n := sent.Load()
		if n == last {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("client still sending after 10 s (%d sent)", n)
		}
		last = n
	}
	if last >= int64(total/2) {
		t.Fatalf("client sent %d of %d messages into a stuck spool: no backpressure", last, total)
	}
	t.Logf("client blocked after %d messages", last)

	close(sub.gate) // the spool recovers
	for i := range total {
		ack, err := stream.Recv()
		if err != nil {
			t.Fatalf("ack %d: %v", i, err)
		}
		if ack.Seq != uint64(i) || ack.Code != 0 || ack.Result.GetId() == "" {
			t.Fatalf("ack %d = %v", i, ack)
		}
	}
	if _, err := stream.Recv(); err != io.EOF {
		t.Fatalf("after the last ack: %v, want EOF", err)
	}
	if err := <-sendErr; err != nil {
		t.Fatal(err)
	}
	subs := sub.submissions()
	seen := map[string]bool{}
	for _, s := range subs {
		seen[s.env.To[0]] = true
	}
	if len(subs) != total || len(seen) != total {
		t.Fatalf("%d submissions, %d distinct recipients; want %d", len(subs), len(seen), total)
	}
	if m := sub.maxWaiting.Load(); m > int32(window) {
		t.Fatalf("%d Submits in flight at once, window %d", m, window)
	}
}

func TestInjectStream_BadMessage_ReportedInItsAck_StreamGoesOn(t *testing.T) {
	env := testServer(t, nil, nil)
	stream, err := env.client.InjectStream(withKey(keyInject))
	if err != nil {
		t.Fatal(err)
	}
	msgs := []*pb.InjectRequest{
		{From: "a@shop.example", Recipients: rcpts("b@x.test"), Content: &pb.Content{RawMime: rawMIME}},
		{From: "a@shop.example", Recipients: rcpts("not an address"), Content: &pb.Content{RawMime: rawMIME}},
		nil,
		{From: "a@shop.example", Recipients: rcpts("c@x.test"), Content: &pb.Content{RawMime: rawMIME}},
	}
	for i, m := range msgs {
		if err := stream.Send(&pb.InjectStreamRequest{Seq: uint64(100 + i), Message: m}); err != nil {
			t.Fatal(err)
		}
	}
	_ = stream.CloseSend()
	want := []struct {
		code  codes.Code
		field string
	}{{codes.OK, ""}, {codes.InvalidArgument, "recipients[0].address"}, {codes.InvalidArgument, "message"}, {codes.OK, ""}}
	for i, w := range want {
		ack, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if ack.Seq != uint64(100+i) || codes.Code(ack.Code) != w.code || ack.Field != w.field {
			t.Errorf("ack %d = %v, want code %v field %q", i, ack, w.code, w.field)
		}
	}
	if n := len(env.sub.submissions()); n != 2 {
		t.Fatalf("%d submissions, want 2", n)
	}
}
