package api

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/sluice-mta/sluice/engine"
	pb "github.com/sluice-mta/sluice/proto/sluice/v1"
)

func TestIdempotency_RetryReturnsFirstResult_QueuesOnce(t *testing.T) {
	env := testServer(t, nil, nil)
	req := &pb.InjectBatchRequest{From: "news@shop.example", Recipients: batchOf(20), Content: batchContent, IdempotencyKey: "order-42"}
	first, err := env.client.InjectBatch(withKey(keyInject), req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := env.client.InjectBatch(withKey(keyInject), req)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(first, again) {
		t.Fatalf("retry got a different result:\n%v\n%v", first, again)
	}
	if n := len(env.sub.submissions()); n != 20 {
		t.Fatalf("%d submissions after a retry, want 20", n)
	}
	// The same key for different mail is a client bug, not a replay.
	req.Recipients = batchOf(21)
	_, err = env.client.InjectBatch(withKey(keyInject), req)
	wantStatus(t, err, codes.InvalidArgument, "idempotency_key")
	// Keys are per API key: another key's "order-42" is its own.
	req.Recipients = batchOf(20)
	if _, err := env.client.InjectBatch(withKey(keyAdmin), req); err != nil {
		t.Fatal(err)
	}
	if n := len(env.sub.submissions()); n != 40 {
		t.Fatalf("%d submissions, want 40", n)
	}
}

func TestIdempotency_ConcurrentDuplicates_SubmitOnce(t *testing.T) {
	sub := &fakeSubmitter{gate: make(chan struct{})}
	env := testServer(t, sub, nil)
	req := &pb.InjectRequest{From: "a@shop.example", Recipients: rcpts("b@x.test"), Content: &pb.Content{RawMime: rawMIME}, IdempotencyKey: "k1"}
	const n = 10
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			resp, err := env.client.Inject(withKey(keyInject), req)
			ids[i], errs[i] = resp.GetId(), err
		})
	}
	time.Sleep(100 * time.Millisecond) // let the duplicates pile up behind the first
	close(sub.gate)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("call %d: id %q err %v; call 0 id %q", i, ids[i], errs[i], ids[0])
		}
	}
	if got := len(sub.submissions()); got != 1 {
		t.Fatalf("%d submissions, want 1", got)
	}
}

func TestIdempotency_FailedRequestIsNotRemembered(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	sub := &fakeSubmitter{fail: func(int, engine.Envelope) error {
		if fail.Load() {
			return errStorage
		}
		return nil
	}}
	env := testServer(t, sub, nil)
	req := &pb.InjectRequest{From: "a@shop.example", Recipients: rcpts("b@x.test"), Content: &pb.Content{RawMime: rawMIME}, IdempotencyKey: "k1"}
	_, err := env.client.Inject(withKey(keyInject), req)
	wantStatus(t, err, codes.Unavailable, "")
	fail.Store(false)
	if _, err := env.client.Inject(withKey(keyInject), req); err != nil {
		t.Fatalf("retry after a failure: %v", err)
	}
	if got := len(sub.submissions()); got != 1 {
		t.Fatalf("%d submissions, want 1", got)
	}
}

func TestMemoryIdempotencyStore_Expires(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := NewMemoryIdempotencyStore(func() time.Time { return now })
	ctx := context.Background()
	if err := s.Put(ctx, "k", []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := s.Get(ctx, "k"); !ok || string(v) != "v" {
		t.Fatalf("Get = %q %v", v, ok)
	}
	now = now.Add(time.Hour)
	if _, ok, _ := s.Get(ctx, "k"); ok {
		t.Fatal("expired entry returned")
	}
}
