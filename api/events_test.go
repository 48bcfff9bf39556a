package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/sluice-mta/sluice/engine"
	"github.com/sluice-mta/sluice/engine/spool"
	pb "github.com/sluice-mta/sluice/proto/sluice/v1"
)

// fakeEvents is the engine's Admin with an in-memory event log in place of
// delivery (the API tests run no delivery); the engine's own tests cover
// the real log.
type fakeEvents struct {
	Admin
	mu     sync.Mutex
	log    []engine.Event
	wake   chan struct{}
	oldest uint64
}

func (f *fakeEvents) add(typ, rcpt string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, engine.Event{Seq: uint64(len(f.log) + 1), Time: time.Now(), Type: typ, Recipient: rcpt,
		Domain: "d.test", VMTA: "v1", MsgID: "M1", Reply: "250 ok"})
	close(f.wake)
	f.wake = make(chan struct{})
}

func (f *fakeEvents) LastEventSeq() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return uint64(len(f.log))
}

func (f *fakeEvents) Events(ctx context.Context, after uint64, flt engine.EventFilter, fn func(engine.Event) error) error {
	for {
		f.mu.Lock()
		if after > 0 && after+1 < f.oldest {
			f.mu.Unlock()
			return spool.ErrEventsLost
		}
		if after > uint64(len(f.log)) {
			f.mu.Unlock()
			return spool.ErrCursorAhead
		}
		evs, wake := f.log[after:], f.wake
		f.mu.Unlock()
		for _, ev := range evs {
			after = ev.Seq
			if len(flt.Types) == 0 || flt.Types[0] == ev.Type {
				if err := fn(ev); err != nil {
					return err
				}
			}
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func eventsServer(t *testing.T) (*testEnv, *fakeEvents) {
	t.Helper()
	f := &fakeEvents{Admin: newTestEngine(t), wake: make(chan struct{})}
	env := testServer(t, nil, func(o *Options) { o.Admin = f })
	return env, f
}

// recv reads n events from a subscription.
func recv(t *testing.T, s pb.Events_SubscribeClient, n int) []*pb.Event {
	t.Helper()
	var out []*pb.Event
	for len(out) < n {
		ev, err := s.Recv()
		if err != nil {
			t.Fatalf("after %d events: %v", len(out), err)
		}
		out = append(out, ev)
	}
	return out
}

func TestEvents_GRPC_ResumeWithCursor_MissesNothing(t *testing.T) {
	env, f := eventsServer(t)
	for i := 1; i <= 4; i++ {
		f.add("delivered", fmt.Sprintf("u%d@d.test", i))
	}
	client := pb.NewEventsClient(env.conn)
	ctx, cancel := context.WithCancel(withKey(keyRead))
	s, err := client.Subscribe(ctx, &pb.SubscribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	first := recv(t, s, 2)
	cancel()
	if first[0].GetCursor() != 1 || first[1].GetRecipient() != "u2@d.test" || first[1].GetTime() == nil {
		t.Fatalf("first events: %v", first)
	}
	ctx, cancel = context.WithCancel(withKey(keyRead))
	defer cancel()
	s, err = client.Subscribe(ctx, &pb.SubscribeRequest{AfterCursor: first[1].GetCursor()})
	if err != nil {
		t.Fatal(err)
	}
	rest := recv(t, s, 2)
	f.add("bounced", "u5@d.test") // live
	rest = append(rest, recv(t, s, 1)...)
	for i, ev := range rest {
		if ev.GetCursor() != uint64(i+3) {
			t.Fatalf("resumed events %v: want cursors 3, 4, 5", rest)
		}
	}
	if rest[2].GetType() != "bounced" {
		t.Fatalf("live event %v", rest[2])
	}
}

func TestEvents_GRPC_Errors(t *testing.T) {
	env, f := eventsServer(t)
	f.add("delivered", "u1@d.test")
	client := pb.NewEventsClient(env.conn)
	tests := []struct {
		name  string
		key   string
		req   *pb.SubscribeRequest
		code  codes.Code
		field string
	}{
		{"inject role", keyInject, &pb.SubscribeRequest{}, codes.PermissionDenied, ""},
		{"unknown type", keyRead, &pb.SubscribeRequest{Types: []string{"opened"}}, codes.InvalidArgument, "types"},
		{"cursor ahead", keyRead, &pb.SubscribeRequest{AfterCursor: 99}, codes.InvalidArgument, "after_cursor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := client.Subscribe(withKey(tt.key), tt.req)
			if err == nil {
				_, err = s.Recv()
			}
			wantStatus(t, err, tt.code, tt.field)
		})
	}
	t.Run("lost to retention", func(t *testing.T) {
		f.mu.Lock()
		f.oldest = 5
		f.mu.Unlock()
		s, err := client.Subscribe(withKey(keyRead), &pb.SubscribeRequest{AfterCursor: 1})
		if err == nil {
			_, err = s.Recv()
		}
		wantStatus(t, err, codes.OutOfRange, "")
	})
}

func TestEvents_REST_NDJSONWithTypeFilter(t *testing.T) {
	env, f := eventsServer(t)
	f.add("delivered", "u1@d.test")
	f.add("bounced", "u2@d.test")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, env.url+"/v1/events?types=bounced&after_cursor=0", nil)
	req.Header.Set("Authorization", "Bearer "+keyRead)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	if !sc.Scan() {
		t.Fatalf("no line: %v", sc.Err())
	}
	var line struct {
		Result struct {
			Cursor    string `json:"cursor"`
			Type      string `json:"type"`
			Recipient string `json:"recipient"`
		} `json:"result"`
	}
	if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
		t.Fatalf("%v: %s", err, sc.Bytes())
	}
	if line.Result.Cursor != "2" || line.Result.Type != "bounced" || line.Result.Recipient != "u2@d.test" {
		t.Fatalf("first line %s", sc.Bytes())
	}
	f.add("bounced", "u3@d.test") // live, over the same response
	if !sc.Scan() {
		t.Fatalf("no live line: %v", sc.Err())
	}
	if err := json.Unmarshal(sc.Bytes(), &line); err != nil || line.Result.Cursor != "3" {
		t.Fatalf("live line %s: %v", sc.Bytes(), err)
	}
	if code, body := get(t, env.url+"/v1/events?types=opened", "Bearer "+keyRead); code != http.StatusBadRequest {
		t.Fatalf("unknown type: %d %s", code, body)
	}
	if code, body := get(t, env.url+"/v1/events", "Bearer "+keyInject); code != http.StatusForbidden {
		t.Fatalf("inject key: %d %s", code, body)
	}
}
